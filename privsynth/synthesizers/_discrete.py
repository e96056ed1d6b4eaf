"""Helpers shared by synthesizers that work on the domain's discrete codes."""

from __future__ import annotations

import numpy as np

__all__ = ["joint_index", "conditional_table", "sample_conditional", "normalize_counts"]


def normalize_counts(counts: np.ndarray) -> np.ndarray:
    """Post-process noisy counts into a distribution: clip at zero, normalize (uniform if empty)."""
    c = np.clip(np.asarray(counts, dtype=float), 0.0, None)
    total = c.sum()
    return c / total if total > 0 else np.full(c.shape, 1.0 / c.size)


def joint_index(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Row-major cell index of each row of ``codes`` (``(n, k)``) in a grid of ``sizes``;
    zeros for an empty grid (``k = 0``)."""
    if codes.shape[1] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    return np.ravel_multi_index(tuple(codes.T), sizes).astype(np.int64)


def conditional_table(joint_counts: np.ndarray, child_axis_last: bool = True) -> np.ndarray:
    """``P(child | parents)`` as ``(n_parent_configs, n_child)`` from noisy joint counts whose
    last axis is the child. Negative counts are clipped; a parent configuration with no mass
    falls back to the child's (noisy) marginal, itself uniform if empty."""
    counts = np.clip(np.asarray(joint_counts, dtype=float), 0.0, None)
    k = counts.shape[-1]
    table = counts.reshape(-1, k)
    fallback = normalize_counts(table.sum(axis=0))
    totals = table.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(totals > 0, table / np.where(totals > 0, totals, 1.0), fallback)
    return cond


def sample_conditional(cond: np.ndarray, parent_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One child value per row, drawn i.i.d. from ``cond[parent_index[row]]`` (inverse CDF over
    all rows at once: each row's CDF is shifted by its configuration index)."""
    n_configs, k = cond.shape
    cdf = np.cumsum(cond, axis=1)
    cdf[:, -1] = 1.0
    shifted = (cdf + np.arange(n_configs)[:, None]).ravel()
    u = rng.random(len(parent_index)) + parent_index
    flat = np.searchsorted(shifted, u, side="right")
    return np.minimum(flat - parent_index * k, k - 1)
