"""I.i.d. sampling from a graphical model: every row is an independent draw from the model's
distribution (forward sampling down the junction tree: the root clique's joint, then each
clique's new attributes given its separator). Vectorized over rows; no rounding of counts and
no coupling between the row order of different columns.
"""

from __future__ import annotations

import numpy as np

from privsynth.graphical.factor import table_size
from privsynth.graphical.model import GraphicalModel

__all__ = ["sample_codes", "draw_rows"]


def draw_rows(table: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each entry of ``rows``, a column index drawn from that row of ``table`` (non-negative
    weights; a row without weight is uniform). One sorted search for all draws.

    Example:
        >>> draw_rows(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1, 0]), np.random.default_rng(0))
        array([1, 0, 1])
    """
    table = np.asarray(table, dtype=float)
    k = table.shape[1]
    sums = table.sum(axis=1, keepdims=True)
    probs = np.where(sums > 0, table / np.where(sums > 0, sums, 1.0), 1.0 / k)
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    offsets = np.arange(table.shape[0], dtype=float)[:, None]
    flat = (cdf + offsets).ravel()
    u = rng.random(len(rows))
    idx = np.searchsorted(flat, rows + u, side="right")
    return np.minimum(idx - rows * k, k - 1)


def sample_codes(model: GraphicalModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. rows of integer codes, one column per attribute of the model's domain."""
    tree, sizes = model.tree, model.sizes
    out = np.zeros((n, len(sizes)), dtype=np.int64)
    if n == 0:
        return out
    root = tree.cliques[0]
    flat = draw_rows(model.marginals[0].reshape(1, -1), np.zeros(n, dtype=np.int64), rng)
    for a, col in zip(root, np.unravel_index(flat, [sizes[a] for a in root])):
        out[:, a] = col
    for edge in tree.edges:
        clique = tree.cliques[edge[1]]
        sep = tree.separator(edge)
        new = tuple(a for a in clique if a not in sep)
        if not new:
            continue
        joint = np.transpose(model.marginals[edge[1]], [clique.index(a) for a in sep + new])
        table = joint.reshape(table_size(sep, sizes), table_size(new, sizes))
        rows = np.ravel_multi_index(tuple(out[:, a] for a in sep), [sizes[a] for a in sep]) if sep else np.zeros(n, dtype=np.int64)
        drawn = draw_rows(table, rows, rng)
        for a, col in zip(new, np.unravel_index(drawn, [sizes[a] for a in new])):
            out[:, a] = col
    return out


