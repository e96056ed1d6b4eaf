"""The fidelity metrics of tab_bench (Chen, Li, Gong, McKenna, Wang, SIGMOD 2025), as its code computes them.

Faithful to the evaluator published with the paper (``evaluator/eval_tvd.py`` and
``evaluator/eval_query.py`` of KaiChen9909/tab_bench, also shipped in KaiChen9909/margnet), so
that figures computed here sit beside the paper's:

* :func:`tab_bench_tvd`: the average total-variation distance over all 1-way and all 2-way
  marginals. Each numeric column is cut into 100 equal-width bins between the smallest and the
  largest value of the real and synthetic columns together (``round(99 * (x - min) / (max - min))``,
  so the two end bins are half as wide, as in the paper's code); every other column is compared
  value by value (as text). A regression target is truncated to whole numbers, as the paper's
  code does with every target.
* :func:`tab_bench_query_error`: the average absolute difference of the answer share of random
  range (numeric) and point (categorical) queries over ``attrs`` distinct columns, ranges drawn
  uniformly between the real column's minimum and maximum, points among its values. As in the
  paper's code every query is scored on each of its prefixes (its first column, its first two,
  ... all ``attrs``), and the error is the mean over those.

The paper scores a release against the real **test** split; pass what you compare with. These
evaluators read real records: their outputs are not private and spend no budget.

Example:
    >>> from privsynth.datasets import make_census
    >>> real, domain = make_census(500, random_state=0)
    >>> tab_bench_tvd(real, real, domain).two_way
    0.0
    >>> tab_bench_query_error(real, real, domain, n_queries=50)
    0.0
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_frame

__all__ = ["TabBenchTVD", "tab_bench_tvd", "tab_bench_query_error", "tab_bench_queries", "TAB_BENCH_BINS"]

#: Equal-width bins per numeric column in tab_bench's TVD.
TAB_BENCH_BINS = 100


@dataclass(frozen=True)
class TabBenchTVD:
    """tab_bench's average 1-way and 2-way marginal TVD (``1way margin`` / ``2way margin`` in its code)."""

    one_way: float
    two_way: float
    n_columns: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _numeric_columns(domain: Domain, target: str | None, task: str | None) -> tuple[set[str], set[str]]:
    """(numeric columns binned in 100, numeric targets truncated to whole numbers)."""
    numeric = {c.name for c in domain.columns if isinstance(c, Numeric)}
    truncated: set[str] = set()
    if target is not None and target in numeric:
        numeric.discard(target)
        if task == "regression":
            truncated.add(target)
    return numeric, truncated


def _joint_codes(real: pd.Series, synth: pd.Series, *, binned: bool, truncated: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of the two columns over their common value set (missing values are one more value)."""
    if binned or truncated:
        r = pd.to_numeric(real, errors="coerce").to_numpy(dtype=float)
        s = pd.to_numeric(synth, errors="coerce").to_numpy(dtype=float)
        both = np.concatenate([r, s])
        if binned:
            finite = both[~np.isnan(both)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
            both = np.round((TAB_BENCH_BINS - 1) * (both - lo) / (hi - lo)) if hi > lo else np.where(np.isnan(both), np.nan, 0.0)
        else:
            both = np.trunc(both)
        values = pd.Series(both)
    else:
        values = pd.concat([real.astype(str), synth.astype(str)], ignore_index=True)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    k = len(uniques)
    codes = np.where(codes < 0, k, codes)
    return codes[: len(real)], codes[len(real):], k + 1


def _tvd(real_codes: np.ndarray, synth_codes: np.ndarray, size: int) -> float:
    p = np.bincount(real_codes, minlength=size) / len(real_codes)
    q = np.bincount(synth_codes, minlength=size) / len(synth_codes)
    return float(0.5 * np.abs(p - q).sum())


def tab_bench_tvd(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, target: str | None = None,
                  task: str | None = None) -> TabBenchTVD:
    """tab_bench's average TVD over all 1-way and 2-way marginals (numeric columns in 100 bins).

    Args:
        real: The real records compared with (tab_bench uses the test split).
        synth: The synthetic records.
        domain: Says which columns are numeric (binned) and which categorical (compared as text).
        target: The prediction target; with ``task="regression"`` it is truncated to whole
            numbers instead of binned, as in tab_bench's code.
        task: ``binary_classification``, ``multiclass_classification`` or ``regression``.

    Raises:
        DomainError: a frame is empty or lacks a column of the domain.
    """
    names = list(domain.names)
    check_frame(real, names, what="real data")
    check_frame(synth, names, what="synthetic data")
    numeric, truncated = _numeric_columns(domain, target, task)
    coded = [_joint_codes(real[n], synth[n], binned=n in numeric, truncated=n in truncated) for n in names]
    one = [_tvd(r, s, k) for r, s, k in coded]
    two = []
    for (ra, sa, ka), (rb, sb, kb) in itertools.combinations(coded, 2):
        two.append(_tvd(ra * kb + rb, sa * kb + sb, ka * kb))
    return TabBenchTVD(one_way=float(np.mean(one)), two_way=float(np.mean(two)) if two else float("nan"), n_columns=len(names))


def _values(frame: pd.DataFrame, name: str, numeric: set[str]) -> np.ndarray:
    if name in numeric:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.asarray(np.where(frame[name].isna().to_numpy(), None, frame[name].astype(str).to_numpy()))


def _draw_query(real: dict[str, np.ndarray], names: list[str], numeric: set[str], attrs: int,
                rng: np.random.Generator) -> list:
    query = []
    for j in rng.choice(len(names), size=attrs, replace=False):
        name = names[int(j)]
        if name in numeric:
            values = real[name][~np.isnan(real[name])]
            lo, hi = float(values.min()), float(values.max())
            query.append((name, tuple(sorted((float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)))))))
        else:
            choices = sorted({v for v in real[name] if v is not None})
            query.append((name, choices[int(rng.integers(len(choices)))]))
    return query


def _matches(values: np.ndarray, condition: Any) -> np.ndarray:
    if isinstance(condition, tuple):
        return (values >= condition[0]) & (values <= condition[1])
    return values == condition


def _query_columns(domain: Domain, target: str | None, task: str | None) -> tuple[list[str], set[str]]:
    numeric = {c.name for c in domain.columns if isinstance(c, Numeric)}
    if target is not None and task is not None and task != "regression":
        numeric.discard(target)
    return list(domain.names), numeric


def tab_bench_queries(real: pd.DataFrame, domain: Domain, *, n_queries: int = 1000, attrs: int = 3, seed: int = 0,
                      target: str | None = None, task: str | None = None) -> list[list[tuple[str, Any]]]:
    """The random queries of :func:`tab_bench_query_error`, drawn from the real values.

    Each query is a list of ``(column, condition)``: a condition is a ``(low, high)`` range
    (inclusive) on a numeric column or a value (as text) of any other column.
    """
    names, numeric = _query_columns(domain, target, task)
    check_frame(real, names, what="real data")
    if not 1 <= int(attrs) <= len(names):
        raise DomainError(f"attrs must be between 1 and the number of columns ({len(names)}), got {attrs}.")
    if int(n_queries) < 1:
        raise DomainError(f"n_queries must be at least 1, got {n_queries}.")
    rng = np.random.default_rng(seed)
    values = {n: _values(real, n, numeric) for n in names}
    return [_draw_query(values, names, numeric, int(attrs), rng) for _ in range(int(n_queries))]


def tab_bench_query_error(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, n_queries: int = 1000,
                          attrs: int = 3, seed: int = 0, target: str | None = None, task: str | None = None,
                          queries: list | None = None) -> float:
    """tab_bench's query error: mean |real share - synthetic share| of random range/point queries.

    Args:
        real: The real records compared with (tab_bench uses the test split); the query ranges
            and points are drawn from its values.
        synth: The synthetic records.
        domain: Says which columns get range queries (numeric) and which point queries.
        n_queries: How many queries (tab_bench: 1,000).
        attrs: Columns per query (tab_bench: 3); every prefix of a query is scored too.
        seed: Seed of the query draws.
        target, task: A classification target gets point queries, a regression target range queries.
        queries: Queries to score instead of drawing them (see :func:`tab_bench_queries`).

    Raises:
        DomainError: a frame is empty or lacks a column, or ``attrs`` exceeds the column count.
    """
    names, numeric = _query_columns(domain, target, task)
    check_frame(synth, names, what="synthetic data")
    if queries is None:
        queries = tab_bench_queries(real, domain, n_queries=n_queries, attrs=attrs, seed=seed, target=target, task=task)
    check_frame(real, names, what="real data")
    real_values = {n: _values(real, n, numeric) for n in names}
    synth_values = {n: _values(synth, n, numeric) for n in names}
    errors = []
    for query in queries:
        in_real = np.ones(len(real), dtype=bool)
        in_synth = np.ones(len(synth), dtype=bool)
        for name, condition in query:
            in_real &= _matches(real_values[name], condition)
            in_synth &= _matches(synth_values[name], condition)
            errors.append(abs(in_real.mean() - in_synth.mean()))
    return float(np.mean(errors))
