"""Numeric bins chosen with differential privacy (PrivTree), as the benchmark papers preprocess.

A declared domain bins every numeric column into equal-width cells between its public bounds.
On skewed columns (durations, amounts, counts with most records at 0) that wastes the cells:
one cell holds nearly every record, and values drawn uniformly inside it are far from the real
ones. :func:`dp_bins` re-bins the numeric columns with **PrivTree** (Zhang, Xiao, Xie, SIGMOD
2016; :mod:`privsynth.mechanisms.privtree`): narrow bins where records are dense, wide where they
are sparse, each column's tree ``epsilon / k``-DP (``k`` numeric columns). The split threshold is
``rows / max_bins`` records, ``rows`` being a public row count (e.g. a benchmark's published
split size) or, by default, a noisy count charged first (``count_share`` of ``epsilon``).

The result is a domain with ``provenance="dp"`` that carries these charges (and those of the
domain it refines, if that was estimated with DP too): every fit on it charges them first, so
its certificate covers the binning. Split a total budget as the papers do, e.g. 10% to binning:

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.make_census(3000, random_state=0)
    >>> binned = dp_bins(df, domain, epsilon=0.1, random_state=0)
    >>> binned.provenance, len(binned["age"].edges()) > 2
    ('dp', True)
    >>> syn = ps.synthesizers.MST(epsilon=0.9, random_state=0).fit(df, binned)
    >>> round(syn.certificate_.spent.epsilon, 6) <= 1.0
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from privsynth.core.domain import Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.mechanisms.counts import noisy_counts
from privsynth.mechanisms.privtree import GRID_CELLS, privtree_edges, privtree_grid
from privsynth.privacy.calibrate import split_epsilon
from privsynth.profiling._refine import Refinement

__all__ = ["dp_bins", "DEFAULT_MAX_BINS"]

#: Bins aimed at per column: the split threshold is ``rows / DEFAULT_MAX_BINS`` records.
DEFAULT_MAX_BINS = 32


def _fine(column: Numeric) -> Numeric:
    grid = privtree_grid(column.lower, column.upper, integer=column.integer, cells=GRID_CELLS)
    return Numeric(column.name, column.lower, column.upper, integer=column.integer, bins=tuple(grid), nullable=column.nullable)


def dp_bins(data: Any, domain: Domain, *, epsilon: float, columns: Sequence[str] | None = None, rows: int | None = None,
            max_bins: int = DEFAULT_MAX_BINS, count_share: float = 0.1, accountant: str = "rdp",
            random_state: Any = None) -> Domain:
    """Re-bin the numeric columns of ``domain`` with PrivTree at ``epsilon`` in total.

    Args:
        data: The private table (a DataFrame, a file, a ``duckdb://`` URI, a Spark source or a
            :class:`~privsynth.data.Table`): only the histogram of each column on a fine public
            grid is read, in the engine. On Spark the grid's 4,096 cells per column make a
            counting query that ran out of a 1 GB driver heap (census, 2,000 rows, ``local[2]``):
            give the driver more memory, or bin from a Parquet export through DuckDB.
        domain: The domain to refine (declared, or DP: its charges are kept).
        epsilon: What the binning spends in total (pure DP).
        columns: The numeric columns to re-bin (default: all).
        rows: A public row count for the split threshold; ``None`` spends ``count_share`` of
            ``epsilon`` on a noisy count instead.
        max_bins: Bins aimed at per column (threshold ``rows / max_bins``).
        count_share: Share of ``epsilon`` for the noisy count when ``rows`` is not given.
        accountant: ``"rdp"`` or ``"pld"``: how the domain's estimation block states its budget.
        random_state: A *secret* seed for reproducible research runs.

    Returns:
        The domain with the new bins, ``provenance="dp"``, its estimation block listing every charge.

    Raises:
        DomainError: no numeric column to re-bin, or a named column that is not numeric.
        ValueError: a bad budget or count.
    """
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}.")
    if not (isinstance(max_bins, int) and max_bins >= 2):
        raise ValueError(f"max_bins must be an integer of at least 2, got {max_bins!r}.")
    if rows is None and not 0 < count_share < 1:
        raise ValueError(f"count_share must be between 0 and 1, got {count_share!r}.")
    names = [c.name for c in domain.columns if isinstance(c, Numeric)] if columns is None else list(columns)
    wrong = [n for n in names if n not in domain.names or not isinstance(domain[n], Numeric)]
    if wrong or not names:
        raise DomainError(f"dp_bins re-bins numeric columns; {wrong or 'the domain has none'} "
                          f"{'are not numeric columns of the domain' if wrong else ''}".strip() + ".")
    fine = Domain(tuple(_fine(c) if c.name in names else c for c in domain.columns  # type: ignore[arg-type]
                        ), identifiers=domain.identifiers)
    run = Refinement.open(data, fine, epsilon=epsilon, accountant=accountant, random_state=random_state, stream=1,
                          clip=domain.provenance == "dp")
    table, ledger, rng = run.table, run.ledger, run.rng
    # parts that sum to at most epsilon in floating point (the ledger refuses even a rounding overshoot)
    parts = split_epsilon(float(epsilon), [1.0] * len(names) if rows is not None else
                          [(1.0 - count_share) / len(names)] * len(names) + [count_share])
    if rows is None:
        noisy = noisy_counts(np.array([len(table)]), ledger=ledger, label="binning: noisy record count",
                             epsilon=parts[-1], rng=rng)
        rows_hat = max(float(noisy[0]), 1.0)
    else:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rows must be a positive whole number (a public count), got {rows!r}.")
        rows_hat = float(rows)
    theta = rows_hat / max_bins
    index = {n: i for i, n in enumerate(fine.names)}
    histograms = table.marginals([[index[n]] for n in names])
    refined = {}
    for name, counts, per_column in zip(names, histograms, parts):
        column = domain[name]
        assert isinstance(column, Numeric)
        grid = np.asarray(fine[name].edges(), dtype=float)  # type: ignore[union-attr]
        edges = privtree_edges(np.asarray(counts)[: len(grid) - 1], grid, epsilon=per_column, theta=theta, ledger=ledger,
                               label=f"binning: PrivTree bins of {name!r}", rng=rng)
        refined[name] = Numeric(name, column.lower, column.upper, integer=column.integer, bins=tuple(float(e) for e in edges),
                                nullable=column.nullable, role=column.role, points=column.points)
    spent = ledger.spent().epsilon
    note = (f"numeric bins of {names} chosen by PrivTree (pure DP, {spent:g} in total; split threshold "
            f"{'a public row count' if rows is not None else 'a noisy record count'} / {max_bins}); bin counts not released")
    return run.domain(domain, refined, note)
