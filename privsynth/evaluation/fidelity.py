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

__all__ = ["MarginalTVD", "marginal_tvd", "CorrelationDifference", "correlation_difference", "plot_marginals",
           "plot_correlation_difference"]


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


@dataclass(frozen=True)
class CorrelationDifference:
    """Pairwise association (Cramér's V on the domain's discrete cells, so it covers mixed types)
    in the real and synthetic data, and their difference."""

    real: pd.DataFrame
    synthetic: pd.DataFrame
    difference: pd.DataFrame
    mean_absolute: float
    max_absolute: float

    def to_dict(self) -> dict[str, Any]:
        return {"mean_absolute": self.mean_absolute, "max_absolute": self.max_absolute,
                "difference": self.difference.round(6).to_dict()}


def _cramers_v(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    d = codes.shape[1]
    out = np.eye(d)
    n = len(codes)
    for i, j in itertools.combinations(range(d), 2):
        joint = np.bincount(codes[:, i] * sizes[j] + codes[:, j], minlength=sizes[i] * sizes[j]).reshape(sizes[i], sizes[j]).astype(float)
        rows, cols = joint.sum(axis=1), joint.sum(axis=0)
        rows, cols, joint = rows[rows > 0], cols[cols > 0], joint[np.ix_(joint.sum(axis=1) > 0, joint.sum(axis=0) > 0)]
        k = min(len(rows), len(cols))
        if k < 2:
            v = 0.0
        else:
            expected = np.outer(rows, cols) / n
            chi2 = float(((joint - expected) ** 2 / expected).sum())
            v = float(np.sqrt(chi2 / (n * (k - 1))))
        out[i, j] = out[j, i] = min(v, 1.0)
    return out


def correlation_difference(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, bins: int = DEFAULT_BINS) -> CorrelationDifference:
    """Compare pairwise associations of the real and synthetic data (Cramér's V, 0 to 1).

    Example:
        >>> from privsynth.datasets import make_census
        >>> real, domain = make_census(1000, random_state=0)
        >>> correlation_difference(real, real, domain).max_absolute
        0.0
    """
    r, s = validate(real, domain), validate(synth, domain)
    if len(r) == 0 or len(s) == 0:
        raise DomainError("correlation_difference needs non-empty real and synthetic tables.")
    sizes = levels(domain, bins=bins)
    vr = _cramers_v(encode(r, domain, bins=bins), sizes)
    vs = _cramers_v(encode(s, domain, bins=bins), sizes)
    names = list(domain.names)
    diff = vs - vr
    off = ~np.eye(len(names), dtype=bool)
    return CorrelationDifference(
        real=pd.DataFrame(vr, index=names, columns=names), synthetic=pd.DataFrame(vs, index=names, columns=names),
        difference=pd.DataFrame(diff, index=names, columns=names),
        mean_absolute=float(np.abs(diff[off]).mean()) if off.any() else 0.0,
        max_absolute=float(np.abs(diff[off]).max()) if off.any() else 0.0,
    )


def plot_marginals(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, columns: list[str] | None = None,
                   bins: int = DEFAULT_BINS, ncols: int = 3):
    """Bar charts of real vs synthetic one-way frequencies per column; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    columns = list(domain.names) if columns is None else list(columns)
    sub = domain.select(columns)
    rc = encode(validate(real, domain)[columns], sub, bins=bins)
    sc = encode(validate(synth, domain)[columns], sub, bins=bins)
    sizes = levels(sub, bins=bins)
    nrows = -(-len(columns) // ncols)
    fig = Figure(figsize=(4 * ncols, 2.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for j, (name, k) in enumerate(zip(columns, sizes)):
        ax = axes[j]
        x = np.arange(k)
        ax.bar(x - 0.2, np.bincount(rc[:, j], minlength=k) / len(rc), width=0.4, label="real")
        ax.bar(x + 0.2, np.bincount(sc[:, j], minlength=k) / len(sc), width=0.4, label="synthetic")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    return fig


def plot_correlation_difference(result: CorrelationDifference):
    """Heat map of synthetic minus real Cramér's V; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    names = list(result.difference.columns)
    fig = Figure(figsize=(1 + 0.45 * len(names), 0.8 + 0.45 * len(names)), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(result.difference.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(f"synthetic - real association (mean |diff| {result.mean_absolute:.3f})", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig
