"""``DPGAN``: a conditional GAN whose discriminator alone is trained with DP-SGD.

Only the discriminator sees real records. Each discriminator step Poisson-samples real records,
generates a fixed number of fake ones, and takes *one* privatized backward over the summed real
and fake losses (per-example clipping, one noise draw). Generator updates use only the
discriminator (a DP output) and noise: post-processing. The generator's categorical outputs are
straight-through one-hot samples, so fakes look like real one-hot records to the discriminator
(soft outputs next to one-hot reals are told apart at a glance, and the generator then never
learns). Its output layer starts at the DP 1-way marginals. It is conditioned as CTGAN is --
"column ``j`` takes value ``v``", ``j`` uniform over the categorical columns and ``v`` from ``j``'s
DP marginal -- and the discriminator judges each record with its condition; real records keep the
Poisson batch and are conditioned on their own value (never CTGAN's training-by-sampling, which
would break the accountant's sampling assumption; see :mod:`._gan_conditions`). Needs the
``deep`` extra.

How the defaults were chosen (discretized Adult, 2-way TVD of a release of all rows, seed 0 unless
said; ``benchmarks/results/deep_ablations_adult.md``; shuffling every column: 0.076). Without noise
(epsilon 1e4, 500 steps) conditioning on one column gave 0.076 and 0.062 after 1,500 steps (5,000:
0.060): the generator did not learn dependence; the conditional vector over every column gives
0.060 after 500 steps and 0.038 after 3,000. Under DP noise (epsilon 1) no Adam setting beat
shuffling (0.080-0.11 over learning rates, sizes, batch and step counts), SGD with momentum did:
0.074 at rate 1, 0.072 at 3, 0.081 at 10, and with a (256, 256) generator 0.069 (seeds 0-2:
0.0695 / 0.0684 / 0.0689; epsilon 3: 0.064). A generator rate of 1e-4 leaves the generator near
its independent start (0.081).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from privsynth.core import checks
from privsynth.core.domain import DEFAULT_BINS
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers._dpsgd_plan import is_quiet
from privsynth.synthesizers._gan_conditions import Conditions
from privsynth.synthesizers._numpy_net import Layers

if TYPE_CHECKING:  # torch is imported when a fit starts; sampling needs numpy only
    import torch
    from torch import nn

__all__ = ["DPGAN"]

#: The discriminator's learning rate by optimizer when ``discriminator_lr`` is None.
_DISCRIMINATOR_LR = {"adam": 1e-3, "sgd": 3.0}
#: ``generator_dim="auto"``: the generator's hidden sizes for a quiet plan and under noise
#: (measured on discretized Adult, ``benchmarks/results/deep_ablations_adult.md``).
_GENERATOR_DIM = {"quiet": (128, 128), "noisy": (256, 256)}


class DPGAN(DPSGDSynthesizer):
    """Conditional GAN with a DP-SGD-trained discriminator (book-keeping clipping by default).

    Args:
        generator_dim: The generator's hidden sizes, or ``"auto"`` (default): (128, 128) when the
            plan is quiet (the rule of ``discriminator_optimizer``), else (256, 256). Without
            noise the wider generator is unstable at the default 500 steps; under noise it learns
            more from the same discriminator. ``generator_dim_`` records the choice.
        discriminator_dim: The discriminator's hidden sizes.
        noise_dim: Generator input noise dimension.
        generator_lr: The generator's Adam learning rate.
        discriminator_optimizer: ``"adam"``, ``"sgd"`` (momentum 0.9) or ``"auto"`` (default):
            Adam when the plan is quiet (noise on each step's averaged gradient,
            ``noise_multiplier / expected batch``, below
            :data:`~privsynth.synthesizers._dpsgd_plan.QUIET_NOISE` -- the rule of DPVAE's
            ``kl_weight="auto"``; both are public, so the choice is post-processing), else SGD.
            Adam scales every coordinate's step to the same size, so under DP noise the
            coordinates that carry no signal take steps as large as those that do; SGD's steps
            follow the noisy gradient's size (see the notes above); ``discriminator_optimizer_``
            records the choice.
        discriminator_lr: The discriminator's learning rate (``None``: 1e-3 for Adam, 3.0 for SGD,
            whose averaged clipped gradients have norm at most ``max_grad_norm``).
        loss: ``"gan"`` (non-saturating) or ``"wgan"`` (a Wasserstein critic whose weights are
            clipped to ``critic_clip`` after each step -- post-processing).
        generator_steps: Generator updates per private discriminator step (free of budget).
        condition: ``"all"`` (default): the conditional vector spans every column modelled
            one-hot; a column name: that column only; ``""``: none; ``None``: the first column
            modelled one-hot (the default of files written before ``"all"``). Values are drawn
            from the DP 1-way marginals.
        Other arguments: as for :class:`~privsynth.synthesizers.DPVAE`. Each step's
        discriminator loss has ``round(sampling_rate * n_hat)`` fakes: a DP number, fixed
        before training, never the size of the real batch.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(600, random_state=0)
        >>> syn = DPGAN(epsilon=2.0, epochs=1, sampling_rate=0.2, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(3).shape
        (3, 10)
    """

    _private_attribute = "discriminator_"
    _state_attributes = {"generator": "generator_", "discriminator": "discriminator_"}

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: float = 10,
        sampling_rate: float = 0.02,
        max_grad_norm: float = 1.0,
        generator_dim: tuple | str = "auto",
        discriminator_dim: tuple = (128, 128),
        noise_dim: int = 32,
        generator_lr: float = 1e-3,
        discriminator_lr: float | None = None,
        discriminator_optimizer: str = "auto",
        condition: str | None = "all",
        loss: str = "gan",
        generator_steps: int = 1,
        critic_clip: float = 0.05,
        marginal_share: float = 0.65,
        calibrate: bool = True,
        numeric: str = "quantile",
        onehot_limit: int = 1000,
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
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.noise_dim = noise_dim
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.discriminator_optimizer = discriminator_optimizer
        self.condition = condition
        self.loss = loss
        self.generator_steps = generator_steps
        self.critic_clip = critic_clip
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
        checks.choice(self.loss, "loss", ("gan", "wgan"), owner="DPGAN")
        checks.integer(self.generator_steps, "generator_steps", owner="DPGAN")
        checks.number(self.critic_clip, "critic_clip", low=0, low_open=True, owner="DPGAN")
        checks.number(self.generator_lr, "generator_lr", low=0, low_open=True, owner="DPGAN")
        checks.number(self.discriminator_lr, "discriminator_lr", low=0, low_open=True, none=True, owner="DPGAN")
        checks.choice(self.discriminator_optimizer, "discriminator_optimizer", ("auto", "adam", "sgd"), owner="DPGAN")
        checks.integer(self.noise_dim, "noise_dim", owner="DPGAN")
        if isinstance(self.generator_dim, str):
            checks.choice(self.generator_dim, "generator_dim", ("auto",), owner="DPGAN")

    # -- conditional vector (DP marginals) ---------------------------------------------------------
    def _condition_columns(self) -> list[str]:
        """The conditioning columns: those with a one-hot block (a categorical column, or an
        ordinal one with at most ``onehot_limit`` categories)."""
        onehot = [b.name for b in self.encoder_.blocks if b.kind == "onehot"]
        if self.condition == "":
            return []
        if self.condition == "all":
            return onehot
        if self.condition is not None:
            if self.condition not in onehot:
                raise ValueError(f"condition must be 'all', '' or a categorical column modelled one-hot (at most "
                                 f"onehot_limit={self.onehot_limit} categories); got {self.condition!r}, choose from {onehot}.")
            return [self.condition]
        return onehot[:1]

    def _after_release(self) -> None:
        names = self.encoder_.domain.names
        columns = self._condition_columns()
        blocks = [next(b for b in self.encoder_.blocks if b.name == c and b.kind == "onehot") for c in columns]
        self.conditions_ = Conditions(blocks, [self.marginals_[names.index(c)] for c in columns]) if blocks else None

    def _cond_width(self) -> int:
        return 0 if self.conditions_ is None else self.conditions_.width

    # -- networks ----------------------------------------------------------------------------------
    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        import torch
        from torch import nn

        from privsynth.synthesizers._nets import init_output_bias, init_weights, mlp

        cond_dim = self._cond_width()
        quiet = is_quiet(self.noise_multiplier_, self.expected_batch_)
        self.generator_dim_ = (_GENERATOR_DIM["quiet" if quiet else "noisy"] if isinstance(self.generator_dim, str)
                               else tuple(map(int, self.generator_dim)))
        gen = mlp([int(self.noise_dim) + cond_dim, *self.generator_dim_, width])
        init_weights(gen, generator)
        init_output_bias(cast(nn.Linear, gen[-1]), self.encoder_.blocks, self.encoder_.targets())
        self.generator_ = gen.to(device)
        self.discriminator_ = init_weights(mlp([width + cond_dim, *map(int, self.discriminator_dim), 1],
                                               activation=lambda: nn.LeakyReLU(0.2)), generator).to(device)
        self.discriminator_optimizer_ = (self.discriminator_optimizer if self.discriminator_optimizer != "auto" else
                                         "adam" if quiet else "sgd")
        lr = _DISCRIMINATOR_LR[self.discriminator_optimizer_] if self.discriminator_lr is None else float(self.discriminator_lr)
        private = (torch.optim.Adam(self.discriminator_.parameters(), lr=lr, betas=(0.5, 0.9)) if self.discriminator_optimizer_ == "adam"
                   else torch.optim.SGD(self.discriminator_.parameters(), lr=lr, momentum=0.9))
        self._opt: dict[str, torch.optim.Optimizer] = {
            "private": private,
            "generator": torch.optim.Adam(self.generator_.parameters(), lr=self.generator_lr, betas=(0.5, 0.9)),
        }
        self._device = device

    def _fake(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` fakes as the discriminator sees them (one-hot samples), the raw outputs and the conditions."""
        import torch

        from privsynth.synthesizers._nets import activate

        z = torch.randn((n, int(self.noise_dim)), generator=generator, device=self._device)
        cond = (torch.zeros((n, 0), device=self._device) if self.conditions_ is None
                else self.conditions_.draw(n, generator, self._device))
        raw = self.generator_(torch.cat([z, cond], dim=1))
        return activate(raw, self.encoder_.blocks, generator), raw, cond

    def _public_examples(self) -> int:
        return int(round(self.expected_batch_))

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        """Real records and ``n_public`` fakes (a fixed number per step, never the real batch's
        size, which depends on the data) in *one* forward: one privatized backward per step."""
        import torch
        from torch.nn import functional as F

        with torch.no_grad():
            fake, _, fake_cond = self._fake(n_public, generator)
            real_cond = batch[:, :0] if self.conditions_ is None else self.conditions_.of_records(batch, generator)
        logits = module(torch.cat([torch.cat([batch, real_cond], dim=1), torch.cat([fake, fake_cond], dim=1)], dim=0)).squeeze(1)
        n = len(batch)
        if self.loss == "wgan":  # critic: high on real, low on fake
            return torch.cat([-logits[:n], logits[n:]])
        return torch.cat([F.softplus(-logits[:n]), F.softplus(logits[n:])])

    def _after_private_step(self, generator: torch.Generator) -> None:
        """Generator updates: post-processing of the (DP) discriminator (as many as
        ``generator_steps``, free of budget); under ``loss="wgan"`` the critic's weights are
        clipped first (post-processing too)."""
        import torch
        from torch.nn import functional as F

        if self.loss == "wgan":
            with torch.no_grad():
                for p in self.discriminator_.parameters():
                    p.clamp_(-self.critic_clip, self.critic_clip)
        opt = self._opt["generator"]
        for _ in range(int(self.generator_steps)):
            opt.zero_grad(set_to_none=True)
            fake, raw, cond = self._fake(self._public_examples(), generator)
            scores = self.discriminator_(torch.cat([fake, cond], dim=1)).squeeze(1)
            loss = -scores.mean() if self.loss == "wgan" else F.softplus(-scores).mean()
            if self.conditions_ is not None:
                loss = loss + self.conditions_.cross_entropy(raw, cond)
            loss.backward()
            opt.step()
        for p in self.discriminator_.parameters():
            p.grad = None

    # -- sampling (numpy) ----------------------------------------------------------------------------
    def _export_layers(self) -> Layers:
        from privsynth.synthesizers._nets import export_layers

        return export_layers(self.generator_)

    def _latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        dim = int(self.noise_dim)
        if self.conditions_ is None:
            return rng.standard_normal((dim, n), dtype=np.float32)
        x = np.zeros((dim + self.conditions_.width, n), dtype=np.float32)  # noise rows, then the condition
        rng.standard_normal(dtype=np.float32, out=x[:dim])
        self.conditions_.draw_numpy(x[dim:], rng)
        return x
