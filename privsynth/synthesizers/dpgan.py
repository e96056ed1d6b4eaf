"""``DPGAN``: a conditional GAN whose discriminator alone is trained with DP-SGD.

Only the discriminator sees real records. Each discriminator step Poisson-samples real records,
generates as many fake ones, and takes *one* privatized backward over the summed real and fake
losses (per-example clipping, one noise draw). Generator updates use only the discriminator
(a DP output) and noise: post-processing. The generator is conditioned on one categorical
column, whose category frequencies come from a DP marginal charged to the ledger -- never from
CTGAN's training-by-sampling, which would break the accountant's sampling assumption. Needs the
``deep`` extra.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.core.dataset import encode, levels
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain
from privsynth.mechanisms.counts import noisy_histogram
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._discrete import normalize_counts
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers._nets import activate, decode_outputs, init_weights, mlp
from privsynth.synthesizers._plan import FitPlan
from privsynth.synthesizers.base import register

__all__ = ["DPGAN"]

#: Share of epsilon for the DP marginal of the conditioning column.
CONDITION_SHARE = 0.05


@register
class DPGAN(DPSGDSynthesizer):
    """Conditional GAN with a DP-SGD-trained discriminator (book-keeping clipping by default).

    Args:
        generator_dim, discriminator_dim: Hidden layer sizes.
        noise_dim: Generator input noise dimension.
        generator_lr, discriminator_lr: Adam learning rates.
        condition: Categorical column to condition on (default: the first categorical column;
            ``""`` for none). Its frequencies come from a DP marginal (5% of the budget).
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

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: float = 10,
        sampling_rate: float = 0.01,
        max_grad_norm: float = 1.0,
        generator_dim: tuple = (128, 128),
        discriminator_dim: tuple = (128, 128),
        noise_dim: int = 32,
        generator_lr: float = 2e-4,
        discriminator_lr: float = 2e-4,
        condition: str | None = None,
        numeric: str = "minmax",
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
        self.numeric = numeric
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

    # -- conditional vector (a DP marginal) -------------------------------------------------------
    def _condition_column(self, domain: Domain) -> str | None:
        if self.condition == "":
            return None
        if self.condition is not None:
            if self.condition not in domain or not isinstance(domain[self.condition], Categorical):
                raise ValueError(f"condition must name a categorical column of the domain, got {self.condition!r}.")
            return self.condition
        return next((c.name for c in domain if isinstance(c, Categorical)), None)

    def _histograms(self, domain: Domain) -> dict[str, tuple[float, int]]:
        return {**super()._histograms(domain), "condition": (CONDITION_SHARE, int(self._condition_column(domain) is not None))}

    def _extra_releases(self, data: pd.DataFrame, ledger: Ledger, plan: FitPlan, rng: np.random.Generator) -> None:
        self.condition_ = self._condition_column(self.encoder_.domain)
        self.condition_probs_ = None
        if self.condition_ is None:
            return
        sub = self.encoder_.domain.select([self.condition_])
        (noise,) = plan["histograms"]["condition"]
        counts = noisy_histogram(encode(data[[self.condition_]], sub)[:, 0], (levels(sub)[0],), ledger=ledger, rng=rng,
                                 secure=self.secure, label=f"conditional marginal of {self.condition_!r}", **noise)
        self.condition_probs_ = normalize_counts(counts)

    def _extra_state(self) -> dict:
        probs = getattr(self, "condition_probs_", None)
        return {"condition": getattr(self, "condition_", None), "probs": None if probs is None else [float(p) for p in probs]}

    def _restore_extra_state(self, state: Mapping[str, Any]) -> None:
        self.condition_ = state.get("condition")
        self.condition_probs_ = None if state.get("probs") is None else np.asarray(state["probs"], dtype=float)

    def _cond_block(self):
        return next(b for b in self.encoder_.blocks if b.name == self.condition_ and b.kind == "onehot") if self.condition_ else None

    def _draw_condition(self, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        if self.condition_probs_ is None:
            return torch.zeros((n, 0), device=device)
        probs = torch.as_tensor(self.condition_probs_, dtype=torch.float32, device=device)
        pick = torch.multinomial(probs, n, replacement=True, generator=gen) if n else torch.zeros(0, dtype=torch.long, device=device)
        return F.one_hot(pick, len(probs)).float()

    # -- networks ----------------------------------------------------------------------------------
    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        cond_dim = 0 if getattr(self, "condition_probs_", None) is None else len(self.condition_probs_)
        self.generator_ = init_weights(mlp([int(self.noise_dim) + cond_dim, *map(int, self.generator_dim), width]), generator).to(device)
        self.discriminator_ = init_weights(mlp([width, *map(int, self.discriminator_dim), 1], activation=lambda: nn.LeakyReLU(0.2)),
                                           generator).to(device)
        self._opt = {
            "private": torch.optim.Adam(self.discriminator_.parameters(), lr=self.discriminator_lr, betas=(0.5, 0.9)),
            "generator": torch.optim.Adam(self.generator_.parameters(), lr=self.generator_lr, betas=(0.5, 0.9)),
        }
        self._device = device

    def _private_module(self) -> nn.Module:
        return self.discriminator_

    def _modules_for_state(self) -> dict[str, nn.Module]:
        return {"generator": self.generator_, "discriminator": self.discriminator_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._opt

    def _fake(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn((n, int(self.noise_dim)), generator=generator, device=self._device)
        cond = self._draw_condition(n, generator, self._device)
        return activate(self.generator_(torch.cat([z, cond], dim=1)), self.encoder_.blocks), cond

    def _public_examples(self) -> int:
        return int(round(self.expected_batch_))

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        """Real records and ``n_public`` fakes (a fixed number per step, never the real batch's
        size, which depends on the data) in *one* forward: one privatized backward per step."""
        with torch.no_grad():
            fake, _ = self._fake(n_public, generator)
        logits = module(torch.cat([batch, fake], dim=0)).squeeze(1)
        n = len(batch)
        return torch.cat([F.softplus(-logits[:n]), F.softplus(logits[n:])])

    def _after_private_step(self, generator: torch.Generator) -> None:
        """Generator update: post-processing of the (DP) discriminator."""
        opt = self._opt["generator"]
        opt.zero_grad(set_to_none=True)
        fake, cond = self._fake(self._public_examples(), generator)
        loss = F.softplus(-self.discriminator_(fake).squeeze(1)).mean()
        block = self._cond_block()
        if block is not None:
            probs = fake[:, block.start : block.start + block.width]
            loss = loss + F.nll_loss(torch.log(probs + 1e-8), cond.argmax(dim=1))
        loss.backward()
        opt.step()
        for p in self.discriminator_.parameters():
            p.grad = None

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        g = self.generator_.cpu().eval()
        with torch.no_grad():
            z = torch.randn((n, int(self.noise_dim)), generator=gen)
            out = g(torch.cat([z, self._draw_condition(n, gen, torch.device("cpu"))], dim=1)) if n else torch.zeros((0, self.encoder_.width))
        return self.encoder_.inverse_transform(decode_outputs(out, self.encoder_.blocks, gen), rng)
