"""Fidelity: how close synthetic marginals are to the real ones.

Evaluators read real data, so their outputs are *not* private; they never spend budget.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, levels, validate
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.errors import DomainError

__all__ = ["MarginalTVD", "marginal_tvd"]


@dataclass(frozen=True)
class MarginalTVD:
    """Total-variation distances between real and synthetic ``order``-way marginals."""

    order: int
    average: float
    worst: float
    worst_marginal: tuple
    n_marginals: int
    per_marginal: dict

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["worst_marginal"] = list(self.worst_marginal)
        out["per_marginal"] = {"|".join(k): v for k, v in self.per_marginal.items()}
        return out


def _distribution(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    flat = np.ravel_multi_index(tuple(codes.T), sizes)
    counts = np.bincount(flat, minlength=int(np.prod(sizes))).astype(float)
    return counts / counts.sum()


def marginal_tvd(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, order: int = 2, bins: int = DEFAULT_BINS) -> MarginalTVD:
    """Average and worst TVD over all ``order``-way marginals on the domain's public bins.

    TVD of two distributions is half their L1 distance: 0 for identical marginals, 1 for
    disjoint ones.

    Example:
        >>> from privsynth.datasets import make_census
        >>> real, domain = make_census(1000, random_state=0)
        >>> marginal_tvd(real, real, domain, order=2).average
        0.0
    """
    if isinstance(order, bool) or order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3, got {order!r}.")
    if order > len(domain):
        raise DomainError(f"order={order} needs at least {order} columns; the domain has {len(domain)}.")
    r, s = validate(real, domain), validate(synth, domain)
    if len(r) == 0 or len(s) == 0:
        raise DomainError("marginal_tvd needs non-empty real and synthetic tables.")
    rc, sc = encode(r, domain, bins=bins), encode(s, domain, bins=bins)
    sizes = levels(domain, bins=bins)
    per: dict[tuple[str, ...], float] = {}
    for idx in itertools.combinations(range(len(domain)), order):
        shape = tuple(sizes[i] for i in idx)
        p, q = _distribution(rc[:, idx], shape), _distribution(sc[:, idx], shape)
        per[tuple(domain.names[i] for i in idx)] = float(0.5 * np.abs(p - q).sum())
    worst_key = max(per, key=per.__getitem__)
    return MarginalTVD(
        order=order,
        average=float(np.mean(list(per.values()))),
        worst=per[worst_key],
        worst_marginal=worst_key,
        n_marginals=len(per),
        per_marginal=per,
    )
