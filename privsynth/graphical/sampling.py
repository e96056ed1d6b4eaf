"""Sampling from a graphical model by forward sampling down the junction tree: the root
clique's joint, then each clique's new attributes given its separator. Vectorized over rows.

Two samplers (:data:`SAMPLERS`):

- ``"iid"``: every row is an independent draw from the model's distribution.
- ``"stratified"``: systematic sampling within each stratum. The root clique's cells, and each
  clique's new attributes within every group of rows that share a separator value, get counts
  within one of their expected counts (unbiased), assigned to the group's rows in a fresh
  uniformly random order. Every row is still distributed as the model and the rows are
  exchangeable, but the sample's clique marginals carry less Monte Carlo error than i.i.d.
  rows. The fresh random order per step is what keeps columns that the model makes
  conditionally independent uncoupled (rounding counts and concatenating them in a fixed
  order, as Private-PGM's ``"round"`` sampler does, couples the row orders of different
  columns).
"""

from __future__ import annotations

import numpy as np

from privsynth.graphical.factor import table_size
from privsynth.graphical.model import GraphicalModel

__all__ = ["SAMPLERS", "draw_rows", "sample_codes", "systematic_rows"]

SAMPLERS = ("iid", "stratified")


def draw_rows(table: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each entry of ``rows``, a column index drawn from that row of ``table`` (non-negative
    weights; a row without weight is uniform): the first ``j`` whose CDF exceeds a uniform ``u``.

    Inverse-CDF lookup through a guide table (Chen and Asau, 1974): ``k`` buckets per row, each
    holding the first index whose CDF passes the bucket's start, so a draw starts at most a few
    steps before its answer -- about two gathers per draw instead of a binary search over the
    whole table (which misses the cache on large tables).

    Example:
        >>> draw_rows(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1, 0]), np.random.default_rng(0))
        array([1, 0, 1])
    """
    return inverse_cdf(table, rows, rng.random(len(rows)))


def systematic_rows(table: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Like :func:`draw_rows`, but stratified: the entries of ``rows`` that share a value form a
    group of size ``m``, whose uniforms are ``(v + i) / m`` for ``i = 0 .. m-1`` with one
    uniform offset ``v`` per group, handed to the group's entries in a uniformly random order.
    Each entry's uniform is still uniform (so each draw follows its row of ``table``), and the
    count of each column within a group is within one of its expected count.

    Example:
        >>> drawn = systematic_rows(np.array([[1.0, 3.0]]), np.zeros(8, dtype=int), np.random.default_rng(0))
        >>> np.bincount(drawn, minlength=2)
        array([2, 6])
    """
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    shuffled = rng.permutation(n)
    order = shuffled[np.argsort(rows[shuffled], kind="stable")]  # grouped by row, uniformly random order within a group
    grouped = rows[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    u = np.empty(n)
    u[order] = (np.repeat(rng.random(len(starts)), sizes) + rank) / np.repeat(sizes, sizes)
    return inverse_cdf(table, rows, u)


def inverse_cdf(table: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each entry of ``rows``, the first column ``j`` whose CDF in that row of ``table``
    exceeds the entry's uniform ``u`` in ``[0, 1)`` (see :func:`draw_rows`)."""
    table = np.asarray(table, dtype=float)
    r, k = table.shape
    sums = table.sum(axis=1, keepdims=True)
    probs = np.where(sums > 0, table / np.where(sums > 0, sums, 1.0), 1.0 / k)
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0  # every u < 1 stops at the last index at the latest
    flat = cdf.ravel()
    # guide[row, g] = first j with cdf[row, j] > g / k, for all rows at once
    starts = np.arange(k, dtype=float) / k
    if r * k * k <= 1 << 22:
        guide = (cdf[:, :, None] <= starts[None, None, :]).sum(axis=1)
    else:  # one search over the offset CDFs; one step back absorbs the offsets' rounding (a guide may be low, never high)
        offsets = np.arange(r, dtype=float)[:, None]
        found = np.searchsorted((cdf + offsets).ravel(), (starts[None, :] + offsets).ravel(), side="right")
        guide = np.maximum(found.reshape(r, k) - np.arange(r)[:, None] * k - 1, 0)
    base = np.asarray(rows, dtype=np.int64) * k
    j = guide.ravel()[base + np.minimum((u * k).astype(np.int64), k - 1)]
    behind = np.flatnonzero(flat[base + j] <= u)
    while behind.size:
        j[behind] += 1
        behind = behind[flat[base[behind] + j[behind]] <= u[behind]]
    return j


def sample_codes(model: GraphicalModel, n: int, rng: np.random.Generator, *, sampler: str = "iid") -> np.ndarray:
    """``n`` rows of integer codes, one column per attribute of the model's domain: i.i.d. draws
    (``sampler="iid"``) or exchangeable stratified draws (``"stratified"``; see the module).

    The result is an ``n x d`` view of a column-major array: each attribute's codes are
    contiguous (written and read column by column).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}.")
    draw = draw_rows if sampler == "iid" else systematic_rows
    tree, sizes = model.tree, model.sizes
    out = np.zeros((len(sizes), n), dtype=np.int64)
    if n == 0:
        return out.T
    root = tree.cliques[0]
    flat = draw(model.marginals[0].reshape(1, -1), np.zeros(n, dtype=np.int64), rng)
    for a, col in zip(root, np.unravel_index(flat, [sizes[a] for a in root])):
        out[a] = col
    for edge in tree.edges:
        clique = tree.cliques[edge[1]]
        sep = tree.separator(edge)
        new = tuple(a for a in clique if a not in sep)
        if not new:
            continue
        joint = np.transpose(model.marginals[edge[1]], [clique.index(a) for a in sep + new])
        table = joint.reshape(table_size(sep, sizes), table_size(new, sizes))
        rows = np.ravel_multi_index(tuple(out[a] for a in sep), [sizes[a] for a in sep]) if sep else np.zeros(n, dtype=np.int64)
        drawn = draw(table, rows, rng)
        if len(new) == 1:
            out[new[0]] = drawn
        else:
            for a, col in zip(new, np.unravel_index(drawn, [sizes[a] for a in new])):
                out[a] = col
    return out.T
