"""``IndependentMarginals``: noisy one-way marginals, sampled independently.

The simplest real DP synthesizer and the reference for the contract tests. It keeps every
column's distribution and none of the dependence between columns.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.dataset import decode
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import Table
from privsynth.mechanisms.counts import noisy_counts
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._discrete import normalize_counts
from privsynth.synthesizers._plan import FitPlan, histogram_noise
from privsynth.synthesizers.base import Synthesizer

__all__ = ["IndependentMarginals"]


class IndependentMarginals(Synthesizer):
    """Noisy one-way marginals on the domain's public bins, one per column.

    With ``delta = 0`` each column's histogram gets discrete Laplace noise at
    ``epsilon / n_columns``; with ``delta > 0`` (and an accountant that models the discrete
    Gaussian, i.e. ``"rdp"``) all histograms get discrete Gaussian noise calibrated so that
    together they spend ``(epsilon, delta)`` (better for many columns).

    Args:
        epsilon: Privacy budget.
        delta: ``0`` for pure DP.
        bins: Bins for numeric columns whose domain declares none.
        noise: ``"auto"`` (Laplace if ``delta == 0`` else Gaussian), ``"laplace"`` or ``"gaussian"``.
        accountant: ``"rdp"`` or ``"pld"``.
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Draw noise from the OS CSPRNG with exact samplers.

    Attributes:
        marginals_: One DP distribution per column (domain order of cells).
        n_hat_: DP estimate of the record count: the median of the noisy histograms' totals
            (post-processing, no extra budget).

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(500, random_state=0)
        >>> syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(df, domain)
        >>> syn.sample(3).shape
        (3, 10)
        >>> syn.certificate_.spent.epsilon <= 1.0
        True
    """

    assumptions = ("columns are modelled as independent (no dependence is released)",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 0.0,
        bins: int = DEFAULT_BINS,
        noise: str = "auto",
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.bins = bins
        self.noise = noise
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure

    def _check_params(self) -> None:
        super()._check_params()
        checks.choice(self.noise, "noise", ("auto", "laplace", "gaussian"), owner="IndependentMarginals")
        if self.noise == "gaussian" and self.delta == 0:
            raise ValueError("noise='gaussian' needs delta > 0; use noise='laplace' for pure DP.")
        if self.noise == "gaussian" and self.accountant == "pld":
            raise ValueError(
                "noise='gaussian' adds discrete Gaussian noise, which the PLD accountant does not model; "
                "use accountant='rdp' or noise='laplace'."
            )

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        kwargs, events = histogram_noise(epsilon=self.epsilon, delta=self.delta, count=len(domain), accountant=accountant,
                                         noise=self.noise)
        return FitPlan(events=events, delta=self.delta, settings={"noise": kwargs})

    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        counts = data.marginals([(j,) for j in range(len(domain))], bins=self.bins)
        rng = randomness.generator("releases")
        noisy = [
            noisy_counts(counts[j], ledger=ledger, rng=rng, secure=self.secure, label=f"1-way marginal of {name!r}",
                         **plan["noise"][j])
            for j, name in enumerate(domain.names)
        ]
        self.marginals_ = [normalize_counts(h) for h in noisy]
        self.n_hat_ = max(0, int(round(float(np.median([h.sum() for h in noisy])))))

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        if not n:
            return decode(np.zeros((0, len(self.marginals_)), dtype=np.int64), self.domain_, bins=self.bins, rng=rng)
        codes = np.column_stack([rng.choice(len(p), size=n, p=p) for p in self.marginals_])
        return decode(codes, self.domain_, bins=self.bins, rng=rng)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_marginals": len(self.marginals_), "n_hat": self.n_hat_}, {f"marginal_{j}": p for j, p in enumerate(self.marginals_)}

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.n_hat_ = int(state["n_hat"])
        self.marginals_ = [np.asarray(arrays[f"marginal_{j}"], dtype=float) for j in range(int(state["n_marginals"]))]
