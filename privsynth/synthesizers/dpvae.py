"""``DPVAE``: a TVAE-style variational autoencoder trained end to end with DP-SGD.

Both the encoder and the decoder see real records, so the whole network is privatized; see
:mod:`privsynth.synthesizers._dpsgd_base` for the accounting. Needs the ``deep`` extra.

How ``kl_weight="auto"`` was chosen (discretized Adult, 2-way TVD of a release of all rows, seed
0 unless said; ``benchmarks/results/deep_ablations_adult.md``): the KL term regularizes, which the
DP noise needs and a quiet fit does not. 0.5 against 0.2 -- epsilon 1: 0.052 / 0.061 (seed 1:
0.054 / 0.057); epsilon 3: 0.047 / 0.051; epsilon 10: 0.049 / 0.044; epsilon 1e4: 0.067 / 0.043
(seeds 1 and 2: 0.096 / 0.043 and 0.084 / 0.044: at 0.5 the quiet fit is also unstable). What
decides is the noise on each step's averaged gradient, ``noise_multiplier / expected batch``
(default plan on Adult: epsilon 3: 8.3e-4, epsilon 10: 3.3e-4), so ``"auto"`` takes 0.2 below
:data:`QUIET_NOISE` and 0.5 above it. Both are public: the plan's noise multiplier and the DP
record count, so the choice is post-processing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from privsynth.core import checks
from privsynth.core.domain import DEFAULT_BINS
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers._dpsgd_plan import QUIET_NOISE, is_quiet
from privsynth.synthesizers._numpy_net import Layers

if TYPE_CHECKING:  # torch is imported when a fit starts; sampling needs numpy only
    import torch
    from torch import nn

__all__ = ["DPVAE", "QUIET_NOISE", "auto_kl_weight"]

#: ``kl_weight="auto"``'s weights for a quiet and a noisy fit.
_KL_QUIET, _KL_NOISY = 0.2, 0.5


def auto_kl_weight(noise_multiplier: float, expected_batch: float) -> float:
    """The KL weight ``kl_weight="auto"`` trains with: 0.2 when the noise on each step's averaged
    gradient is below :data:`QUIET_NOISE`, else 0.5 (see the module's notes).

    Example:
        >>> auto_kl_weight(10.6, 4884.0), auto_kl_weight(0.135, 4884.0)
        (0.5, 0.2)
    """
    return _KL_QUIET if is_quiet(noise_multiplier, expected_batch) else _KL_NOISY



class DPVAE(DPSGDSynthesizer):
    """Variational autoencoder trained with DP-SGD (book-keeping clipping by default).

    Args:
        epsilon: Privacy budget.
        delta: ``None``: the fixed public default ``1e-5`` (a delta derived from the data's size
            would not be public); choose it well below ``1 / n`` for your data.
        epochs: Expected passes over the data (``steps = ceil(epochs / sampling_rate)``).
        sampling_rate: Poisson sampling rate of each step: every record joins a batch
            independently with this probability (expected batch: ``sampling_rate * n``). A
            public parameter, so that the plan and the certificate do not depend on ``n``.
        max_grad_norm: Per-sample clipping norm.
        hidden: Hidden layer sizes of the encoder (mirrored in the decoder).
        latent: Latent dimension.
        learning_rate: Adam learning rate.
        kl_weight: Weight of the KL term (1: the evidence lower bound; below 1 keeps more of each
            record in the latent code, and the calibration fixes the marginals that sampling
            from the prior then misses). ``"auto"``: from the plan's noise (:func:`auto_kl_weight`:
            0.5 under DP noise, 0.2 when the fit is nearly noiseless); the weight used is
            ``kl_weight_``.
        numeric_sigma: Scale of the Gaussian reconstruction loss of numbers and many-level
            ordinals in the encoded space ``[-1, 1]`` (smaller weighs them more against the
            categorical columns).
        marginal_share: Share of epsilon for the DP 1-way marginals (discrete Gaussian, calibrated
            as if alone; they compose sub-additively with training). They start the output layer,
            drive the quantile transform and the calibration, and check releases.
        calibrate: Tilt the outputs onto the DP marginals after training (post-processing), so
            that every column's 1-way marginal is the DP one; the dependence stays the model's.
        numeric: ``"quantile"`` (through the DP marginal's CDF; free) or ``"minmax"`` (public bounds).
        onehot_limit: Ordinal columns with more categories are modelled as one number through
            their DP CDF (an age, a discretized amount), not one-hot: far fewer parameters.
        engine: ``"auto"``, ``"bookkeeping"`` or ``"opacus"`` (per-sample gradients by hooks).
        max_physical_batch_size: Split logical batches into chunks of at most this many records.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        devices: Data-parallel workers (``> 1`` spawns torch.distributed processes).
        checkpoint_every: Steps between checkpoints when ``fit(checkpoint_dir=...)``.
        accountant, progress: As for every synthesizer.
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Poisson batches from OS CSPRNG bits, each step's noise from a generator seeded
            from the OS CSPRNG, and exact samplers for the releases before training.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(600, random_state=0)
        >>> syn = DPVAE(epsilon=2.0, epochs=1, sampling_rate=0.2, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(3).shape, syn.certificate_.spent.epsilon <= 2.0
        ((3, 10), True)
    """

    _private_attribute = "vae_"
    _state_attributes = {"vae": "vae_"}

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: float = 40,
        sampling_rate: float = 0.1,
        max_grad_norm: float = 1.0,
        hidden: tuple = (128, 128),
        latent: int = 16,
        learning_rate: float = 1e-2,
        kl_weight: float | str = "auto",
        numeric_sigma: float = 0.5,
        marginal_share: float = 0.65,
        calibrate: bool = True,
        numeric: str = "quantile",
        onehot_limit: int = 32,
        bins: int = DEFAULT_BINS,
        engine: str = "auto",
        max_physical_batch_size: int | None = None,
        device: str = "auto",
        devices: int = 1,
        checkpoint_every: int = 100,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.sampling_rate = sampling_rate
        self.max_grad_norm = max_grad_norm
        self.hidden = hidden
        self.latent = latent
        self.learning_rate = learning_rate
        self.kl_weight = kl_weight
        self.numeric_sigma = numeric_sigma
        self.marginal_share = marginal_share
        self.calibrate = calibrate
        self.numeric = numeric
        self.onehot_limit = onehot_limit
        self.bins = bins
        self.engine = engine
        self.max_physical_batch_size = max_physical_batch_size
        self.device = device
        self.devices = devices
        self.checkpoint_every = checkpoint_every
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.kl_weight, str) and self.kl_weight != "auto":
            raise ValueError(f"DPVAE: kl_weight must be a number >= 0 or 'auto', got {self.kl_weight!r}.")
        if self.kl_weight != "auto":
            checks.number(self.kl_weight, "kl_weight", low=0, owner="DPVAE")
        checks.number(self.numeric_sigma, "numeric_sigma", low=0, low_open=True, owner="DPVAE")
        checks.number(self.learning_rate, "learning_rate", low=0, low_open=True, owner="DPVAE")
        checks.integer(self.latent, "latent", owner="DPVAE")

    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        import torch
        from torch import nn

        from privsynth.synthesizers._nets import VAE, init_output_bias, init_weights

        self.kl_weight_ = (auto_kl_weight(self.noise_multiplier_, self.expected_batch_) if self.kl_weight == "auto"
                           else float(self.kl_weight))
        vae = VAE(width, tuple(int(h) for h in self.hidden), int(self.latent))
        init_weights(vae, generator)
        init_output_bias(cast(nn.Linear, vae.decoder[-1]), self.encoder_.blocks, self.encoder_.targets())
        self.vae_ = vae.to(device)
        self._opt: dict[str, torch.optim.Optimizer] = {"private": torch.optim.Adam(self.vae_.parameters(), lr=self.learning_rate)}

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        import torch

        from privsynth.synthesizers._nets import block_loss

        vae: Any = module._module if hasattr(module, "_module") else module
        stats = vae.encoder(batch)
        mu, logvar = stats[:, : vae.latent], stats[:, vae.latent :].clamp(-10, 10)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        out = vae.decoder(z)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
        return block_loss(out, batch, self.encoder_.blocks, numeric_sigma=self.numeric_sigma) + self.kl_weight_ * kl

    # -- sampling (numpy) ----------------------------------------------------------------------------
    def _export_layers(self) -> Layers:
        from privsynth.synthesizers._nets import export_layers

        return export_layers(self.vae_.decoder)

    def _latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((int(self.latent), n), dtype=np.float32)
