"""``DPGaussianCopula``: DP one-way marginals joined by a DP Gaussian-copula correlation.

Fitting releases, each through a mechanism on the ledger:

1. a noisy record count (normalizes the correlation sums);
2. one noisy histogram per column on the domain's public bins (categories, numeric bins, and a
   missing state for nullable columns) -- the marginals;
3. noisy sums of products of *DP mid-ranks*: each record's value is mapped to the middle of its
   cell in the DP marginal's CDF, ``u in [0, 1]``, which depends on that record and on DP
   outputs only. Spearman's rho of two columns is ``12 E[(u - 1/2)(v - 1/2)]``, so the sums
   ``S_jk = sum_i (u_ij - 1/2)(u_ik - 1/2)`` over all column pairs are what we release. One
   record moves each ``S_jk`` by at most ``1/4``: L1 sensitivity ``m/4`` and L2 sensitivity
   ``sqrt(m)/4`` for ``m`` pairs, whatever ``n``.

Post-processing: ``rho = 12 S / n_hat``, the Gaussian copula's Pearson correlation
``r = 2 sin(pi rho / 6)``, projected to the nearest positive-definite correlation matrix.
Categories of unordered columns are ordered by their DP frequencies (most frequent first), so
that neighbouring latent values map to similar mass; ordinal and numeric columns keep their order.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtri

from privsynth.core import checks
from privsynth.core.dataset import decode, levels
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain, Ordinal
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import Table
from privsynth.mechanisms.counts import noisy_count, noisy_counts
from privsynth.mechanisms.gaussian import gaussian
from privsynth.mechanisms.laplace import laplace
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.calibrate import calibrate_noise_multiplier, laplace_noise_multiplier, split_epsilon
from privsynth.privacy.events import ComposedEvent, GaussianEvent, LaplaceEvent
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._discrete import normalize_counts
from privsynth.synthesizers._plan import FitPlan, count_event, histogram_noise
from privsynth.synthesizers.base import Synthesizer

__all__ = ["DPGaussianCopula", "nearest_correlation", "spearman_to_pearson"]

_COUNT_SHARE = 0.02


def spearman_to_pearson(rho: np.ndarray) -> np.ndarray:
    """Pearson correlation of a Gaussian copula with Spearman's ``rho``: ``2 sin(pi rho / 6)``."""
    return 2.0 * np.sin(np.pi * np.clip(rho, -1.0, 1.0) / 6.0)


def nearest_correlation(matrix: np.ndarray, *, min_eigenvalue: float = 1e-6, iterations: int = 100) -> np.ndarray:
    """Nearest correlation matrix (unit diagonal, eigenvalues >= ``min_eigenvalue``) by Higham's
    alternating projections (2002), in the Frobenius norm.

    Example:
        >>> c = nearest_correlation(np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]))
        >>> bool(np.linalg.eigvalsh(c).min() > 0) and np.allclose(np.diag(c), 1)
        True
    """
    a = (np.asarray(matrix, dtype=float) + np.asarray(matrix, dtype=float).T) / 2
    y, correction = a.copy(), np.zeros_like(a)
    for _ in range(iterations):
        r = y - correction
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, min_eigenvalue)) @ v.T
        correction = x - r
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - x) < 1e-10:
            break
    w, v = np.linalg.eigh(y)
    y = (v * np.maximum(w, min_eigenvalue)) @ v.T
    d = np.sqrt(np.diag(y))
    out = y / np.outer(d, d)
    np.fill_diagonal(out, 1.0)
    return out


class DPGaussianCopula(Synthesizer):
    """Gaussian copula over DP marginals with a DP rank correlation.

    Args:
        epsilon: Privacy budget.
        delta: ``0`` for pure DP (discrete Laplace on the marginals, Laplace on the correlation
            sums); ``> 0`` (with the RDP accountant) uses Gaussian noise for both, calibrated
            together -- much better with many columns.
        marginal_share: Share of the budget (after the count) for the marginals, the rest for
            the correlation (a share of epsilon, or of zCDP rho when ``delta > 0``). The
            correlation sums are large (about ``n/12``), so they need little.
        bins: Bins for numeric columns whose domain declares none.
        accountant: ``"rdp"`` or ``"pld"``.
        random_state: Secret seed that makes the fit reproducible (research only; see
            :class:`~privsynth.core.rng.PrivateRandomness`). ``None``: fresh OS entropy.
        secure: Draw noise from the OS CSPRNG with exact samplers.

    Attributes:
        marginals_: DP distribution over each column's cells (domain order of cells).
        orders_: For each column, its cells in latent order.
        correlation_: The copula's correlation matrix (positive definite).

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(2000, random_state=0)
        >>> syn = DPGaussianCopula(epsilon=1.0, delta=1e-6, random_state=0).fit(df, domain)
        >>> syn.correlation_.shape, syn.sample(4).shape
        ((10, 10), (4, 10))
    """

    assumptions = ("dependence modelled by a Gaussian copula on DP mid-ranks",)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 0.0,
        marginal_share: float = 0.8,
        bins: int = DEFAULT_BINS,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.marginal_share = marginal_share
        self.bins = bins
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure

    def _check_params(self) -> None:
        super()._check_params()
        checks.number(self.marginal_share, "marginal_share", low=0, high=1, low_open=True, high_open=True, owner="DPGaussianCopula")

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        d = len(domain)
        m = d * (d - 1) // 2
        eps_count, rest = split_epsilon(self.epsilon, [_COUNT_SHARE, 1 - _COUNT_SHARE])
        counted = count_event(eps_count)
        gaussian_noise = self.delta > 0 and accountant.supports(GaussianEvent(noise_multiplier=1.0, discrete=True))
        if gaussian_noise:
            # One calibration for all Gaussian releases, so that together with the count they
            # spend exactly (epsilon, delta); marginal_share is their share of zCDP rho.
            marg_w, corr_w = math.sqrt(d / self.marginal_share), math.sqrt(1 / (1 - self.marginal_share))

            def releases(k: float) -> ComposedEvent:
                events = [GaussianEvent(noise_multiplier=k * marg_w, discrete=True)] * d
                if m:
                    events.append(GaussianEvent(noise_multiplier=k * corr_w, discrete=self.secure))
                return ComposedEvent(tuple(events))

            k = calibrate_noise_multiplier(releases, epsilon=self.epsilon, delta=self.delta, accountant=accountant,
                                           already_spent=[counted])
            marginals: list[dict[str, float]] = [{"noise_multiplier": k * marg_w}] * d
            correlation: dict[str, float] = {"noise_multiplier": k * corr_w}
            events = [counted, *releases(k).events]
        else:
            eps_marg, eps_corr = split_epsilon(rest, [self.marginal_share, 1 - self.marginal_share]) if m else (rest, 0.0)
            marginals, marg_events = histogram_noise(epsilon=eps_marg, delta=0.0, count=d, accountant=accountant, noise="laplace")
            correlation = {"epsilon": eps_corr}
            events = [counted, *marg_events]
            if m:
                events.append(LaplaceEvent(noise_multiplier=laplace_noise_multiplier(eps_corr), discrete=self.secure))
        return FitPlan(events=events, delta=self.delta,
                       settings={"eps_count": eps_count, "marginals": marginals, "correlation": correlation})

    def _fit(self, data: Table, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        sizes = levels(domain, bins=self.bins)
        d = len(domain)
        rng = randomness.generator("releases")
        n_hat = noisy_count(data, epsilon=plan["eps_count"], ledger=ledger, rng=rng, secure=self.secure,
                            label="record count (normalizes correlations)")
        self.n_hat_ = n_hat
        m = d * (d - 1) // 2
        one = data.marginals([(j,) for j in range(d)], bins=self.bins)
        self.marginals_ = [
            normalize_counts(noisy_counts(one[j], ledger=ledger, rng=rng, secure=self.secure,
                                          label=f"1-way marginal of {name!r}", **plan["marginals"][j]))
            for j, name in enumerate(domain.names)
        ]
        self.orders_ = [self._latent_order(col, p) for col, p in zip(domain, self.marginals_)]

        # DP mid-ranks of each cell: a record's depends on the record and on DP outputs only.
        centered = []
        for j in range(d):
            p = self.marginals_[j][self.orders_[j]]
            rank = np.empty(sizes[j], dtype=np.int64)
            rank[self.orders_[j]] = np.arange(sizes[j])
            centered.append((np.cumsum(p) - p / 2)[rank] - 0.5)
        iu = np.triu_indices(d, 1)
        corr = np.eye(d)
        if m:
            pairs = [(int(i), int(j)) for i, j in zip(*iu)]  # sum over records of u_i * u_j, from the exact 2-way counts (one pass)
            sums = np.array([centered[i] @ joint @ centered[j] for (i, j), joint in zip(pairs, data.marginals(pairs, bins=self.bins))])
            label = "rank-correlation sums of all column pairs"
            if "noise_multiplier" in plan["correlation"]:
                noisy = gaussian(sums, l2_sensitivity=math.sqrt(m) / 4, ledger=ledger, rng=rng, secure=self.secure, label=label,
                                 **plan["correlation"])
            else:
                noisy = laplace(sums, l1_sensitivity=m / 4, ledger=ledger, rng=rng, secure=self.secure, label=label,
                                **plan["correlation"])
            rho = np.clip(12.0 * np.atleast_1d(noisy) / max(n_hat, 1), -1.0, 1.0)
            corr[iu] = spearman_to_pearson(rho)
            corr.T[iu] = corr[iu]
        self.correlation_ = nearest_correlation(corr)

    @staticmethod
    def _latent_order(col: Any, probs: np.ndarray) -> np.ndarray:
        """Cells in latent order: by DP frequency for unordered categories, natural otherwise
        (the missing state last)."""
        if isinstance(col, Categorical) and not isinstance(col, Ordinal):
            return np.argsort(-probs, kind="stable")
        return np.arange(len(probs))

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        d = len(self.marginals_)
        chol = np.linalg.cholesky(self.correlation_).astype(np.float32)
        z = chol @ rng.standard_normal((d, n), dtype=np.float32)  # one latent row per column
        codes = np.empty((n, d), dtype=np.int64, order="F")
        for j in range(d):
            order = self.orders_[j]
            # invert the marginal in latent space: cell i holds z in (ndtri(cdf[i-1]), ndtri(cdf[i])]
            thresholds = ndtri(np.cumsum(self.marginals_[j][order])[:-1]).astype(np.float32)
            codes[:, j] = order[np.searchsorted(thresholds, z[j], side="right")]
        return decode(codes, self.domain_, bins=self.bins, rng=rng)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"correlation": self.correlation_}
        for j, (p, o) in enumerate(zip(self.marginals_, self.orders_)):
            arrays[f"marginal_{j}"] = p
            arrays[f"order_{j}"] = o
        return {"n_columns": len(self.marginals_), "n_hat": int(self.n_hat_)}, arrays

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        d = int(state["n_columns"])
        self.n_hat_ = int(state["n_hat"])
        self.correlation_ = np.asarray(arrays["correlation"], dtype=float)
        self.marginals_ = [np.asarray(arrays[f"marginal_{j}"], dtype=float) for j in range(d)]
        self.orders_ = [np.asarray(arrays[f"order_{j}"], dtype=np.int64) for j in range(d)]
