"""The plots of privsynth's HTML reports, shared by the profile report and the comparison report.

Each function draws one table (or a real table beside a synthetic one) into a matplotlib figure
(Agg backend, nothing shown on screen); :func:`embed` turns a figure into a self-contained
``<img>`` tag. They read whatever they are given: a report on real records is as private as the
records.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["embed", "figure", "plot_missing", "plot_distribution", "cramers_v", "association_matrix", "plot_association"]


def embed(fig: Any) -> str:
    """The figure as an ``<img>`` tag with the PNG inline (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f"<img alt='plot' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode('ascii')}'>"


def figure(width: float, height: float) -> Any:
    """A new ``(figure, axes)`` on the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def plot_missing(names: Sequence[str], rates: Mapping[str, Sequence[float]]) -> Any:
    """Horizontal bars of the share missing per column, one series per table (``{"real": [...]}``)."""
    fig, ax = figure(8, 0.3 * len(names) + 1)
    y = np.arange(len(names))[::-1]
    height = 0.8 / max(len(rates), 1)
    for k, (label, values) in enumerate(rates.items()):
        ax.barh(y - k * height, list(values), height=height, label=label)
    ax.set_yticks(y - height * (len(rates) - 1) / 2, list(names))
    ax.set_xlabel("share missing")
    ax.set_xlim(0, 1)
    if len(rates) > 1:
        ax.legend()
    return fig


def plot_distribution(name: str, tables: Mapping[str, pd.Series], *, numeric: bool, title: str = "",
                      edges: Any = None) -> Any:
    """One column's distribution: a histogram (numbers; ``edges`` or 40 bins) or the top 25
    categories, one series per table, as shares when there are several tables."""
    fig, ax = figure(6, 2.5)
    several = len(tables) > 1
    if numeric:
        present = {label: s.dropna().to_numpy(dtype=float) for label, s in tables.items()}
        bins: Any = np.asarray(edges) if edges is not None else 40
        for label, values in present.items():
            weights = np.full(len(values), 1 / len(values)) if several and len(values) else None
            ax.hist(values, bins=bins, weights=weights, alpha=0.6 if several else 1.0, label=label)
        ax.set_ylabel("share of records" if several else "records")
    else:
        counts = {label: s.dropna().astype(str).value_counts(normalize=several) for label, s in tables.items()}
        first = next(iter(counts.values()))
        top = list(first.index[:25]) + [c for other in list(counts.values())[1:] for c in other.index[:25] if c not in first.index[:25]]
        top = top[:25]
        y = np.arange(len(top))[::-1]
        height = 0.8 / len(counts)
        for k, (label, c) in enumerate(counts.items()):
            ax.barh(y - k * height, [float(c.get(v, 0.0)) for v in top], height=height, label=label)
        ax.set_yticks(y - height * (len(counts) - 1) / 2, top)
        ax.set_xlabel(("share of records" if several else "records") + (" (top 25)" if len(first) > 25 else ""))
    if several:
        ax.legend()
    ax.set_title(title or name)
    return fig


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of two discrete columns (0: independent, 1: each determines the other)."""
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return 0.0
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum((table - expected) ** 2 / expected)
    return float(math.sqrt(chi2 / n / (min(table.shape) - 1)))


def association_matrix(df: pd.DataFrame, names: Sequence[str], numeric: Sequence[str]) -> np.ndarray:
    """Cramér's V between every pair of ``names`` (numbers cut into deciles; pass a frame of
    discrete codes and no ``numeric`` to use cells of your own, e.g. the domain's)."""
    codes = {}
    for n in names:
        s = df[n]
        if n in numeric:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                codes[n] = pd.qcut(s.astype(float), 10, labels=False, duplicates="drop").fillna(-1).to_numpy()
        else:
            codes[n] = s.astype(str).fillna("<NA>").to_numpy()
    m = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            m[i, j] = m[j, i] = cramers_v(codes[names[i]], codes[names[j]])
    return m


def plot_association(matrix: np.ndarray, names: Sequence[str], *, title: str = "", diverging: bool = False) -> Any:
    """A heat map of an association matrix (``diverging``: a difference, -1 to 1)."""
    fig, ax = figure(0.45 * len(names) + 3, 0.45 * len(names) + 2)
    im = ax.imshow(matrix, vmin=-1 if diverging else 0, vmax=1, cmap="RdBu_r" if diverging else "viridis")
    ax.set_xticks(range(len(names)), list(names), rotation=90)
    ax.set_yticks(range(len(names)), list(names))
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax)
    return fig
