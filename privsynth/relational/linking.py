"""Attaching sampled child rows to sampled parents (post-processing: no data, no budget).

A child table's model draws rows *with* the parent's context columns. Each synthetic parent
asks for as many children as its count column says; a pool of model rows is drawn and each
parent takes rows whose context equals its own, so the children follow the model's
distribution given the parent. When the pool has too few rows for a context, the rest are
matched on fewer context columns (the first ones, in the schema's order), down to none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["match_children"]


def _codes(parents: pd.DataFrame, pool: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per distinct combination of ``columns``, shared by parents and pool rows."""
    if not columns:
        return np.zeros(len(parents), dtype=np.int64), np.zeros(len(pool), dtype=np.int64)
    both = pd.concat([parents[columns], pool[columns]], ignore_index=True)
    codes = both.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    return codes[: len(parents)], codes[len(parents):]


def match_children(parents: pd.DataFrame, demand: np.ndarray, pool: pd.DataFrame, context: list[str],
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``demand[i]`` pool rows for each parent ``i``, matching on ``context`` columns.

    Args:
        parents: The parents' context columns (same names as in ``pool``).
        demand: Children wanted per parent.
        pool: Model rows to choose from (at least ``demand.sum()`` rows).
        context: The context columns, most important first.
        rng: Public randomness (sampling a fitted model).

    Returns:
        ``(parent_index, pool_index)``: for every child, the position of its parent in
        ``parents`` and of its row in ``pool`` (each pool row used at most once).

    Example:
        >>> parents = pd.DataFrame({"c": ["a", "b"]})
        >>> pool = pd.DataFrame({"c": ["b", "a", "a", "b"]})
        >>> who, rows = match_children(parents, np.array([2, 1]), pool, ["c"], np.random.default_rng(0))
        >>> sorted(zip(who.tolist(), pool["c"].to_numpy()[rows].tolist()))
        [(0, 'a'), (0, 'a'), (1, 'b')]
    """
    demand = np.asarray(demand, dtype=np.int64)
    if len(pool) < demand.sum():
        raise ValueError(f"The pool has {len(pool)} rows for {int(demand.sum())} children; draw a larger pool.")
    parents = parents.reset_index(drop=True)
    pool = pool.reset_index(drop=True)
    free = np.ones(len(pool), dtype=bool)
    left = demand.copy()
    who_parts, row_parts = [], []
    for level in range(len(context), -1, -1):
        wanting = np.flatnonzero(left > 0)
        if not len(wanting):
            break
        free_rows = np.flatnonzero(free)
        parent_codes, pool_codes = _codes(parents.iloc[wanting], pool.iloc[free_rows], list(context[:level]))
        pool_groups = pd.Series(free_rows).groupby(pool_codes, sort=False).indices
        for key, members in pd.Series(wanting).groupby(parent_codes, sort=False).indices.items():
            available = pool_groups.get(key)
            if available is None:
                continue
            candidates = free_rows[available]
            rng.shuffle(candidates)
            asked = wanting[members]
            counts = left[asked]
            take = min(int(counts.sum()), len(candidates))
            if take == 0:
                continue
            order = rng.permutation(len(asked))  # who is served first when the pool runs short
            asked, counts = asked[order], counts[order]
            served = np.minimum(counts, np.maximum(take - np.concatenate(([0], np.cumsum(counts)[:-1])), 0))
            who = np.repeat(asked, served)
            rows = candidates[: len(who)]
            free[rows] = False
            left[asked] -= served
            who_parts.append(who)
            row_parts.append(rows)
    who = np.concatenate(who_parts) if who_parts else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
    order = np.argsort(who, kind="stable")
    return who[order], rows[order]
