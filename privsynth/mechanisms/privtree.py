"""PrivTree: differentially private bins of a numeric column (Zhang, Xiao, Xie, SIGMOD 2016).

A binary tree splits the column's public range ``[lower, upper]`` at midpoints. A node is split
when its biased noisy count ``max(c - depth * delta, theta - delta) + Lap(lam)`` exceeds the
threshold ``theta``; with ``lam = 3 / epsilon`` and ``delta = lam * ln 2`` the released tree (the
leaves, as bin edges) is ``epsilon``-DP **whatever its depth** (the paper's Theorem 1, fanout 2):
one record changes a count by at most one along a single root-to-leaf path, and the decay
``delta`` bounds the privacy cost of that path geometrically. The counts themselves are not
released. The tree stops where nodes hold about ``theta`` records or fewer: dense regions get
narrow bins (a point mass ends in a bin of its own), sparse ones wide bins.

The tree refines a fine public grid (:func:`privtree_grid`: one cell per whole number of an
integer column, else 4,096 equal cells), so it needs only the grid's histogram, which any
engine counts.

Example:
    >>> import numpy as np
    >>> from privsynth.privacy import Budget, Ledger
    >>> values = np.r_[np.zeros(4000), np.random.default_rng(0).uniform(0, 100, 1000)]
    >>> grid = privtree_grid(0.0, 100.0, integer=False)
    >>> counts = np.histogram(values, bins=grid)[0]
    >>> edges = privtree_edges(counts, grid, epsilon=1.0, theta=200.0, ledger=Ledger(Budget(1.0)), label="x",
    ...                        rng=np.random.default_rng(1))
    >>> bool(edges[1] < 1.0), float(edges[0]), float(edges[-1])  # the mass at 0 gets a narrow bin of its own
    (True, 0.0, 100.0)
"""

from __future__ import annotations

import math

import numpy as np

from privsynth.core.rng import PrivateRandomness
from privsynth.privacy.events import PureDpEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["privtree_edges", "privtree_event", "privtree_grid", "GRID_CELLS"]

#: Cells of the public grid PrivTree refines (its narrowest bin is one cell).
GRID_CELLS = 4096


def privtree_event(epsilon: float) -> PureDpEvent:
    """The ledger event of one PrivTree release at ``epsilon`` (pure DP)."""
    return PureDpEvent(epsilon=float(epsilon))


def privtree_edges(counts: np.ndarray, grid: np.ndarray, *, epsilon: float, theta: float, ledger: Ledger, label: str,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Bin edges chosen by PrivTree at ``epsilon`` from a histogram on a fine public grid (charged to ``ledger`` first).

    The tree splits ranges of grid cells at their middle cell; its leaves' outer edges are the
    bins. The grid is public (e.g. one cell per whole number, or 4,096 equal cells of the
    range) and bounds how narrow a bin can be.

    Args:
        counts: The (private) count of records in each grid cell.
        grid: The grid's ``len(counts) + 1`` increasing edges (public).
        epsilon: The release's budget (the tree is ``epsilon``-DP, charged as one pure-DP event).
        theta: Split threshold in records (public): nodes with about this many records or fewer are leaves.
        ledger: Charged before anything is computed.
        label: The ledger entry's label.
        rng: Noise source (continuous Laplace from numpy: PrivTree has no exact discrete sampler
            here, so it is not offered in secure mode).

    Returns:
        Increasing edges, a subset of ``grid`` holding its two ends.
    """
    counts = np.asarray(counts, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if counts.ndim != 1 or grid.shape != (len(counts) + 1,) or np.any(np.diff(grid) <= 0):
        raise ValueError(f"grid must hold len(counts) + 1 = {len(counts) + 1} increasing edges, got shape {grid.shape}.")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}.")
    if not isinstance(label, str) or not label:
        raise ValueError("Every ledger charge needs a non-empty label.")
    ledger.charge(privtree_event(epsilon), label=label)
    rng = rng if rng is not None else PrivateRandomness(None).generator("noise")
    lam = 3.0 / epsilon
    decay = lam * math.log(2.0)
    prefix = np.concatenate([[0.0], np.cumsum(counts)])
    starts: list[int] = []
    stack = [(0, len(counts), 0)]
    while stack:
        lo, hi, depth = stack.pop()
        biased = max(prefix[hi] - prefix[lo] - depth * decay, theta - decay)
        if hi - lo >= 2 and biased + float(rng.laplace(0.0, lam)) > theta:
            mid = (lo + hi) // 2
            stack += [(mid, hi, depth + 1), (lo, mid, depth + 1)]
        else:
            starts.append(lo)
    return np.concatenate([grid[sorted(starts)], grid[-1:]])


def privtree_grid(lower: float, upper: float, *, integer: bool, cells: int = GRID_CELLS) -> np.ndarray:
    """The public grid PrivTree refines: one cell per whole number of an integer column when
    there are at most ``cells`` of them, else ``cells`` equal cells of the range."""
    if integer and upper - lower + 1 <= cells:
        return np.arange(lower, upper + 2, dtype=float) - 0.5
    return np.linspace(float(lower), float(upper), int(cells) + 1)
