"""``DPGAN``: a conditional GAN whose discriminator alone is trained with DP-SGD.

Only the discriminator sees real records. Each discriminator step Poisson-samples real records,
generates a fixed number of fake ones, and takes *one* privatized backward over the summed real
and fake losses (per-example clipping, one noise draw). Generator updates use only the
discriminator (a DP output) and noise: post-processing. The generator's categorical outputs are
straight-through one-hot samples, so fakes look like real one-hot records to the discriminator
(soft outputs next to one-hot reals are told apart at a glance, and the generator then never
learns). Its output layer starts at the DP 1-way marginals, and it is conditioned on one
categorical column drawn from that column's DP marginal -- never CTGAN's training-by-sampling,
which would break the accountant's sampling assumption. Needs the ``deep`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from privsynth.core import checks
from privsynth.core.domain import DEFAULT_BINS
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers._numpy_net import Layers

if TYPE_CHECKING:  # torch is imported when a fit starts; sampling needs numpy only
    import torch
    from torch import nn

__all__ = ["DPGAN"]


class DPGAN(DPSGDSynthesizer):
    """Conditional GAN with a DP-SGD-trained discriminator (book-keeping clipping by default).

    Args:
        generator_dim, discriminator_dim: Hidden layer sizes.
        noise_dim: Generator input noise dimension.
        generator_lr, discriminator_lr: Adam learning rates.
        loss: ``"gan"`` (non-saturating) or ``"wgan"`` (a Wasserstein critic whose weights are
            clipped to ``critic_clip`` after each step -- post-processing).
        generator_steps: Generator updates per private discriminator step (free of budget).
        condition: Categorical column to condition on (default: the first column modelled one-hot;
            ``""`` for none). Its frequencies come from its DP 1-way marginal.
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
        generator_dim: tuple = (128, 128),
        discriminator_dim: tuple = (128, 128),
        noise_dim: int = 32,
        generator_lr: float = 1e-4,
        discriminator_lr: float = 1e-3,
        condition: str | None = None,
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
        checks.number(self.discriminator_lr, "discriminator_lr", low=0, low_open=True, owner="DPGAN")
        checks.integer(self.noise_dim, "noise_dim", owner="DPGAN")

    # -- conditional vector (a DP marginal) -------------------------------------------------------
    def _condition_column(self) -> str | None:
        """The conditioning column: one with a one-hot block (a categorical column, or an ordinal
        one with at most ``onehot_limit`` categories)."""
        onehot = [b.name for b in self.encoder_.blocks if b.kind == "onehot"]
        if self.condition == "":
            return None
        if self.condition is not None:
            if self.condition not in onehot:
                raise ValueError(f"condition must name a categorical column modelled one-hot (at most onehot_limit="
                                 f"{self.onehot_limit} categories); got {self.condition!r}, choose from {onehot}.")
            return self.condition
        return onehot[0] if onehot else None

    def _after_release(self) -> None:
        self.condition_ = self._condition_column()
        self.condition_probs_ = None if self.condition_ is None else self.marginals_[self.encoder_.domain.names.index(self.condition_)]

    def _cond_block(self) -> Any:
        return next((b for b in self.encoder_.blocks if b.name == self.condition_ and b.kind == "onehot"), None)

    def _draw_condition(self, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        import torch
        from torch.nn import functional as F

        if self.condition_probs_ is None:
            return torch.zeros((n, 0), device=device)
        probs = torch.as_tensor(self.condition_probs_, dtype=torch.float32, device=device)
        pick = torch.multinomial(probs, n, replacement=True, generator=gen) if n else torch.zeros(0, dtype=torch.long, device=device)
        return F.one_hot(pick, len(probs)).float()

    # -- networks ----------------------------------------------------------------------------------
    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        import torch
        from torch import nn

        from privsynth.synthesizers._nets import init_output_bias, init_weights, mlp

        probs = getattr(self, "condition_probs_", None)
        cond_dim = 0 if probs is None else len(probs)
        gen = mlp([int(self.noise_dim) + cond_dim, *map(int, self.generator_dim), width])
        init_weights(gen, generator)
        init_output_bias(cast(nn.Linear, gen[-1]), self.encoder_.blocks, self.encoder_.targets())
        self.generator_ = gen.to(device)
        self.discriminator_ = init_weights(mlp([width, *map(int, self.discriminator_dim), 1], activation=lambda: nn.LeakyReLU(0.2)),
                                           generator).to(device)
        self._opt: dict[str, torch.optim.Optimizer] = {
            "private": torch.optim.Adam(self.discriminator_.parameters(), lr=self.discriminator_lr, betas=(0.5, 0.9)),
            "generator": torch.optim.Adam(self.generator_.parameters(), lr=self.generator_lr, betas=(0.5, 0.9)),
        }
        self._device = device

    def _fake(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` fakes as the discriminator sees them (one-hot samples), the raw outputs and the conditions."""
        import torch

        from privsynth.synthesizers._nets import activate

        z = torch.randn((n, int(self.noise_dim)), generator=generator, device=self._device)
        cond = self._draw_condition(n, generator, self._device)
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
            fake, _, _ = self._fake(n_public, generator)
        logits = module(torch.cat([batch, fake], dim=0)).squeeze(1)
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
        block = self._cond_block()
        for _ in range(int(self.generator_steps)):
            opt.zero_grad(set_to_none=True)
            fake, raw, cond = self._fake(self._public_examples(), generator)
            scores = self.discriminator_(fake).squeeze(1)
            loss = -scores.mean() if self.loss == "wgan" else F.softplus(-scores).mean()
            if block is not None:
                loss = loss + F.cross_entropy(raw[:, block.start : block.start + block.width], cond.argmax(dim=1))
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
        if self.condition_probs_ is None:
            return rng.standard_normal((dim, n), dtype=np.float32)
        probs = np.asarray(self.condition_probs_, dtype=float)
        x = np.zeros((dim + len(probs), n), dtype=np.float32)  # noise rows, then the one-hot condition
        rng.standard_normal(dtype=np.float32, out=x[:dim])
        x[dim + rng.choice(len(probs), size=n, p=probs / probs.sum()), np.arange(n)] = 1.0
        return x
