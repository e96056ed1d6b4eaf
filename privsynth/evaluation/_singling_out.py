"""Singling-out predicates as anonymeter builds them, as data: ``[(column, operator, value), ...]``.

Operators: ``isna``, ``notna``, ``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=``. A predicate
matches a record when every term does; a missing value matches only ``isna`` (and ``!=``/
``notna`` never match it, as with pandas' ``query``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from privsynth.core.domain import Domain, Numeric

Predicate = list  # [(column, operator, value)]
_NUMERIC_OPS = ("==", "!=", ">", "<", ">=", "<=")


def _column(frame: pd.DataFrame, domain: Domain, name: str) -> np.ndarray:
    if isinstance(domain[name], Numeric):
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return frame[name].to_numpy(dtype=object)


def _term(values: np.ndarray, op: str, value: Any) -> np.ndarray:
    missing = pd.isna(values)
    if op == "isna":
        return missing
    if op == "notna":
        return ~missing
    with np.errstate(invalid="ignore"):
        if op == "==":
            hit = values == value
        elif op == "!=":
            hit = values != value
        elif op == "<":
            hit = values < value
        elif op == ">":
            hit = values > value
        elif op == "<=":
            hit = values <= value
        elif op == ">=":
            hit = values >= value
        else:
            raise ValueError(f"Unknown operator {op!r}.")
    return np.asarray(hit, dtype=bool) & ~missing


def count_matches(frame: pd.DataFrame, domain: Domain, queries: list[Predicate]) -> np.ndarray:
    """How many records of ``frame`` each predicate matches."""
    columns: dict[str, np.ndarray] = {}
    counts = np.zeros(len(queries), dtype=np.int64)
    for i, query in enumerate(queries):
        hit = np.ones(len(frame), dtype=bool)
        for name, op, value in query:
            if name not in columns:
                columns[name] = _column(frame, domain, name)
            hit &= _term(columns[name], op, value)
        counts[i] = int(hit.sum())
    return counts


def _unique_in(frame: pd.DataFrame, domain: Domain, candidates: list[Predicate], n: int) -> list[Predicate]:
    kept: list[Predicate] = []
    seen: set = set()
    for query in candidates:
        key = repr(query)
        if key in seen:
            continue
        if count_matches(frame, domain, [query])[0] == 1:
            seen.add(key)
            kept.append(query)
            if len(kept) == n:
                break
    return kept


def univariate_queries(syn: pd.DataFrame, domain: Domain, n: int, rng: np.random.Generator) -> list[Predicate]:
    """Single-column predicates that isolate one synthetic record: a lone missing value, the extremes, a rare value."""
    candidates: list[Predicate] = []
    for name in sorted(domain.names):
        values = _column(syn, domain, name)
        missing = pd.isna(values)
        if missing.sum() == 1:
            candidates.append([(name, "isna", None)])
        present = values[~missing]
        if isinstance(domain[name], Numeric) and present.size:
            candidates += [[(name, "<=", float(present.min()))], [(name, ">=", float(present.max()))]]
        counts = pd.Series(present).value_counts()
        candidates += [[(name, "==", v.item() if hasattr(v, "item") else v)] for v in counts.index[counts.to_numpy() == 1]]
    order = rng.permutation(len(candidates))
    return _unique_in(syn, domain, [candidates[i] for i in order], n)


def multivariate_queries(syn: pd.DataFrame, domain: Domain, n: int, n_cols: int, max_attempts: int,
                         rng: np.random.Generator) -> list[Predicate]:
    """Predicates on ``n_cols`` columns of a random synthetic record that isolate it."""
    names = list(domain.names)
    columns = {c: _column(syn, domain, c) for c in names}
    medians = {c: float(np.nanmedian(v)) for c, v in columns.items() if isinstance(domain[c], Numeric) and np.isfinite(v).any()}
    kept: list[Predicate] = []
    seen: set = set()
    for _ in range(int(max_attempts)):
        if len(kept) >= n:
            break
        row = int(rng.integers(len(syn)))
        query: Predicate = []
        for name in sorted(rng.choice(names, size=n_cols, replace=False).tolist()):
            value = columns[name][row]
            if pd.isna(value):
                query.append((name, "isna", None))
            elif isinstance(domain[name], Numeric):
                query.append((name, ">=" if value > medians[name] else "<=", float(value)))
            else:
                query.append((name, "==", value))
        key = repr(query)
        if key not in seen and count_matches(syn, domain, [query])[0] == 1:
            seen.add(key)
            kept.append(query)
    return kept


def random_queries(syn: pd.DataFrame, domain: Domain, n: int, n_cols: int, rng: np.random.Generator) -> list[Predicate]:
    """The baseline attacker's predicates: random columns, random values seen in the synthetic data, random operators."""
    names = list(domain.names)
    uniques = {c: pd.unique(_column(syn, domain, c)) for c in names}
    queries = []
    for _ in range(int(n)):
        query: Predicate = []
        for name in sorted(rng.choice(names, size=n_cols, replace=False).tolist()):
            value = uniques[name][int(rng.integers(len(uniques[name])))]
            if pd.isna(value):
                query.append((name, "isna" if rng.random() < 0.5 else "notna", None))
            elif isinstance(domain[name], Numeric):
                query.append((name, _NUMERIC_OPS[int(rng.integers(6))], float(value)))
            else:
                query.append((name, "==" if rng.random() < 0.5 else "!=", value))
        queries.append(query)
    return queries


def _probability_integral(n: np.ndarray | float, w_min: float, w_max: float) -> np.ndarray | float:
    """anonymeter's integral of the chance that a predicate of weight in [w_min, w_max] singles out in n records."""
    return ((n * w_min + 1) * (1 - w_min) ** n - (n * w_max + 1) * (1 - w_max) ** n) / (n + 1)


def size_correction(control: pd.DataFrame, domain: Domain, queries: list[Predicate], n_target: int,
                    rng: np.random.Generator) -> float:
    """Rescale control successes from the control table's size to ``n_target`` rows (anonymeter's fitted model)."""
    sizes, successes = [], []
    for rows in np.linspace(min(1000, len(control)), len(control), 10).astype(int):
        for _ in range(5):
            sample = control.iloc[rng.choice(len(control), size=rows, replace=False)]
            successes.append(int(np.sum(count_matches(sample, domain, queries) == 1)))
            sizes.append(rows)
    x, y = np.array(sizes, dtype=float), np.array(successes, dtype=float)

    def model(n: np.ndarray, w_eff: float, scale: float) -> np.ndarray:
        return np.asarray(scale * _probability_integral(n, 0.0, w_eff))

    w0 = 1 / x.max()
    popt, _ = curve_fit(model, x, y, bounds=(0, (1, np.inf)), p0=(w0, 1 / _probability_integral(x.max(), 0.0, w0)))
    return float(model(np.array([n_target], dtype=float), *popt)[0] / model(np.array([len(control)], dtype=float), *popt)[0])
