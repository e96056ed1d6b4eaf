"""Rare categories merged with differential privacy, as the benchmark papers preprocess.

A column with many declared categories spreads a marginal synthesizer's noise over many cells,
most of them nearly empty (a country column: a few countries hold almost every record). The
benchmark papers (Chen et al., SIGMOD 2025, and the MargNet code that ships their preprocessing)
merge the rare categories of each such column into one cell before fitting. :func:`dp_merge_rare`
does that with DP: each chosen column's counts over its *declared* categories get discrete
Laplace noise (``epsilon / k``-DP per column, ``k`` columns; one record moves one count of each
column by one), and a category is rare when its noisy count is at most
``max(threshold * rows, 3 * sd)`` -- a share of the rows, or three standard deviations of the
noise, whichever is larger (the papers' rule). ``rows`` is a public row count when given, else
the column's noisy total (no extra charge). The rare categories of a column share one cell
(``Categorical.merged``); a synthesizer models the cell and draws one of its categories
uniformly when sampling (:mod:`privsynth.core.categories`), so every declared category can
still appear in a release.

Unlike the papers' code, the categories are the declared ones (never read off the data) and the
columns are chosen by their declared size, not by how many values the data hold. The result is
a domain with ``provenance="dp"`` whose estimation block lists these charges after any earlier
ones: every fit on it charges them first, so its certificate covers the merge. Only the merged
sets are published (in the domain and the model file); the noisy counts are not.

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.load_adult()
    >>> merged = dp_merge_rare(df, domain, epsilon=0.1, random_state=0)  # native-country: 41 categories
    >>> len(merged["native-country"].merged) > 10, merged.provenance
    (True, 'dp')
    >>> syn = ps.synthesizers.MST(epsilon=0.9, random_state=0).fit(df, merged)
    >>> round(syn.certificate_.spent.epsilon, 6) <= 1.0
    True
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from privsynth.core.domain import Categorical, Domain, Ordinal
from privsynth.core.errors import DomainError
from privsynth.mechanisms.counts import noisy_counts
from privsynth.privacy.calibrate import split_epsilon
from privsynth.profiling._refine import Refinement

__all__ = ["dp_merge_rare", "mergeable_columns", "DEFAULT_RARE_THRESHOLD", "DEFAULT_MIN_CATEGORIES"]

#: A category is rare below this share of the rows (MargNet's default), or below 3 noise sd.
DEFAULT_RARE_THRESHOLD = 0.002
#: Columns with at least this many declared categories are considered by default. Chosen by
#: measurement (``benchmarks/results/bench_merge/``, 3 seeds, epsilon 0.3 and 1, 10% of it on the
#: merge): merging columns of 8-20 categories cost fidelity on census and shoppers (AIM 2-way TVD
#: 0.064 -> 0.076, 0.057 -> 0.064 at epsilon 1), while merging Adult's 41 countries helped AIM (0.0328
#: -> 0.0320 at 1, 0.0554 -> 0.0540 at 0.3); at 32 only such columns are merged (the papers' code: 100).
DEFAULT_MIN_CATEGORIES = 32


def laplace_sd(epsilon: float) -> float:
    """Standard deviation of discrete Laplace noise at ``epsilon`` (sensitivity 1): ``sqrt(2t)/(1-t)``, ``t = e^-eps``."""
    t = math.exp(-epsilon)
    return math.sqrt(2.0 * t) / (1.0 - t)


def _rare(noisy: np.ndarray, categories: int, threshold: float, rows: float | None, epsilon: float) -> np.ndarray:
    """Which declared categories are rare, from the noisy counts (categories first, then the missing state)."""
    total = float(np.maximum(noisy, 0).sum()) if rows is None else float(rows)
    cut = max(threshold * total, 3.0 * laplace_sd(epsilon))
    return noisy[:categories] <= cut


def mergeable_columns(domain: Domain, min_categories: int = DEFAULT_MIN_CATEGORIES) -> list[str]:
    """The columns :func:`dp_merge_rare` considers by default: categorical (not ordinal) ones with at
    least ``min_categories`` declared categories -- a choice from the domain alone."""
    return [c.name for c in domain.columns
            if isinstance(c, Categorical) and not isinstance(c, Ordinal) and len(c.categories) >= min_categories]


def dp_merge_rare(data: Any, domain: Domain, *, epsilon: float, columns: Sequence[str] | None = None,
                  threshold: float = DEFAULT_RARE_THRESHOLD, min_categories: int = DEFAULT_MIN_CATEGORIES,
                  rows: int | None = None, accountant: str = "rdp", random_state: Any = None) -> Domain:
    """Merge the rare categories of ``domain``'s categorical columns at ``epsilon`` in total.

    Args:
        data: The private table (a DataFrame, a file, a ``duckdb://`` URI, a Spark source or a
            :class:`~privsynth.data.Table`): only each column's counts over its declared
            categories are read, in the engine.
        domain: The domain to refine (declared, or DP: its charges are kept).
        epsilon: What the merge spends in total (pure DP), split evenly over the columns.
        columns: The categorical (not ordinal) columns to consider; default: every one with at
            least ``min_categories`` declared categories (a public choice).
        threshold: Rare below this share of the rows (or 3 noise standard deviations, if more).
        min_categories: Declared size from which a column is considered (when ``columns`` is None).
        rows: A public row count for the threshold; ``None``: each column's noisy total.
        accountant: ``"rdp"`` or ``"pld"``: how the domain's estimation block states its budget.
        random_state: A *secret* seed for reproducible research runs.

    Returns:
        The domain with each column's rare categories in ``merged`` (when at least two are
        rare), ``provenance="dp"``, its estimation block listing every charge.

    Raises:
        DomainError: no column to consider, or a named column that is not categorical.
        ValueError: a bad budget, threshold or count.
    """
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}.")
    if not (isinstance(threshold, (int, float)) and 0 <= threshold < 1):
        raise ValueError(f"threshold must be a share of the rows in [0, 1), got {threshold!r}.")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise ValueError(f"rows must be a positive whole number (a public count), got {rows!r}.")
    nominal = mergeable_columns(domain, 1)
    names = mergeable_columns(domain, min_categories) if columns is None else list(columns)
    wrong = [n for n in names if n not in nominal]
    if wrong or not names:
        raise DomainError(
            "dp_merge_rare merges categories of categorical (not ordinal) columns; "
            + (f"{wrong} are not such columns of the domain." if wrong else
               f"the domain has none with at least {min_categories} categories (lower min_categories or name columns)."))
    # counts over the declared categories themselves (any earlier merge undone)
    whole = Domain(tuple(replace(c, merged=()) if c.name in names else c for c in domain.columns),  # type: ignore[call-arg]
                   identifiers=domain.identifiers)
    run = Refinement.open(data, whole, epsilon=epsilon, accountant=accountant, random_state=random_state, stream=2,
                          clip=domain.provenance == "dp")
    table, ledger, rng = run.table, run.ledger, run.rng
    parts = split_epsilon(float(epsilon), [1.0] * len(names))
    index = {n: i for i, n in enumerate(whole.names)}
    refined = {}
    for name, counts, per_column in zip(names, table.marginals([[index[n]] for n in names]), parts):
        column = domain[name]
        assert isinstance(column, Categorical)
        noisy = noisy_counts(np.asarray(counts, dtype=np.int64), ledger=ledger, rng=rng, epsilon=per_column,
                             label=f"rare categories of {name!r}: noisy counts")
        rare = _rare(np.asarray(noisy, dtype=float), len(column.categories), float(threshold), rows, per_column)
        merged = tuple(c for c, r in zip(column.categories, rare) if r)
        refined[name] = replace(column, merged=merged if len(merged) >= 2 else ())
    spent = ledger.spent().epsilon
    note = (f"rare categories of {names} merged (pure DP, {spent:g} in total; rare: noisy count <= max({threshold:g} x "
            f"{'a public row count' if rows is not None else 'the noisy total'}, 3 noise sd)); counts not released")
    return run.domain(domain, refined, note)
