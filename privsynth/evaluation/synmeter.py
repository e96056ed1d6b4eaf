"""The fidelity and query metrics of SynMeter (Du & Li, "Systematic Assessment of Tabular Data Synthesis", CCS 2025).

Faithful to the evaluator published with the paper (``evaluator/fidelity/wasserstein.py`` and
``evaluator/utility/query.py`` of zealscott/SynMeter):

* :func:`synmeter_fidelity`: five averages. ``cat_error``: TVD of each categorical column over
  its declared categories; ``cat_cat_error``: TVD of each pair of categorical columns;
  ``cont_error``: the 1-D Wasserstein distance of each numeric column after min-max scaling on
  the real and synthetic values together; ``cont_cont_error``: the 2-D Wasserstein distance
  (earth mover's distance, L1 ground cost) of each pair of scaled numeric columns;
  ``cat_cont_error``: the 2-D distance of each (categorical, numeric) pair with cost
  ``[categories differ] + |scaled difference|``. As in SynMeter the synthetic table is first cut
  to the real table's size by a uniform draw, and when the real table has more than 5,000 rows
  both are cut to 3,000. The 2-D distances are solved exactly (an assignment problem between two
  equal-size samples, which is what ``ot.emd2`` with uniform weights solves); SynMeter's solver
  stops after 100,000 iterations, so on its larger samples its figures can be slightly above the
  exact optimum computed here.
* :func:`synmeter_query_error`: the mean absolute difference of the answer share of random
  queries over ``n_way`` distinct columns (ranges on numeric columns between the declared bounds,
  points on categorical ones among the declared categories), drawn with a seed (SynMeter draws
  with the clock, so its queries cannot be replayed).

SynMeter scores against the real **test** split. These evaluators read real records: their outputs
are not private and spend no budget. The 2-D distances cost seconds per pair of columns on 3,000
rows; :func:`synmeter_fidelity` takes ``pairs=False`` to skip them.

Example:
    >>> from privsynth.datasets import make_census
    >>> real, domain = make_census(300, random_state=0)
    >>> synmeter_fidelity(real, real, domain)["cat_cat_error"]
    0.0
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance

from privsynth.core.domain import Categorical, Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_frame

__all__ = ["synmeter_fidelity", "synmeter_query_error", "synmeter_queries", "earth_movers_distance", "SYNMETER_ROWS"]

#: (tables above this many rows are subsampled, to this many rows) in SynMeter's fidelity.
SYNMETER_ROWS = (5000, 3000)


def earth_movers_distance(cost: np.ndarray) -> float:
    """The earth mover's distance between two equal-size samples with uniform weights.

    With ``n`` points of mass ``1/n`` on each side, an optimal transport plan is a permutation
    (Birkhoff), so the distance is the mean cost of an optimal assignment.

    Example:
        >>> earth_movers_distance(np.array([[0.0, 1.0], [1.0, 0.0]]))
        0.0
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2 or cost.shape[0] != cost.shape[1] or cost.shape[0] == 0:
        raise ValueError(f"cost must be a non-empty square matrix, got shape {cost.shape}.")
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def _scaled(real: pd.Series, synth: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    r = pd.to_numeric(real, errors="coerce").to_numpy(dtype=float)
    s = pd.to_numeric(synth, errors="coerce").to_numpy(dtype=float)
    both = np.concatenate([r, s])
    lo, hi = np.nanmin(both), np.nanmax(both)
    scale = hi - lo if hi > lo else 1.0  # scikit-learn's MinMaxScaler leaves a constant column at 0
    return (r - lo) / scale, (s - lo) / scale


def _category_tvd(real: pd.DataFrame, synth: pd.DataFrame, columns: list[Categorical]) -> float:
    def shares(frame: pd.DataFrame) -> np.ndarray:
        codes = np.zeros(len(frame), dtype=np.int64)
        inside = np.ones(len(frame), dtype=bool)
        for c in columns:
            index = {str(v): i for i, v in enumerate(c.categories)}
            col = frame[c.name].astype(str).map(index)
            inside &= col.notna().to_numpy()
            codes = codes * len(c.categories) + col.fillna(0).to_numpy(dtype=np.int64)
        size = int(np.prod([len(c.categories) for c in columns]))
        return np.bincount(codes[inside], minlength=size) / len(frame)

    return float(0.5 * np.abs(shares(real) - shares(synth)).sum())


def _mean(values: list[float]) -> float | None:
    return float(np.nanmean(values)) if values else None


def synmeter_fidelity(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, seed: int = 0,
                      pairs: bool = True) -> dict[str, float]:
    """SynMeter's fidelity errors (lower is better); a kind of error the table has no columns for is left out.

    Args:
        real: The real records compared with (SynMeter uses the test split).
        synth: The synthetic records (at least as many as ``real``).
        domain: Says which columns are categorical (with their declared categories) and numeric.
        seed: Seed of the subsampling.
        pairs: Whether to compute the 2-way errors (the 2-D distances cost seconds per pair).

    Raises:
        DomainError: a frame is empty or lacks a column, or ``synth`` has fewer rows than ``real``.
    """
    names = list(domain.names)
    check_frame(real, names, what="real data")
    check_frame(synth, names, what="synthetic data")
    if len(synth) < len(real):
        raise DomainError(f"SynMeter compares equal-size samples: the synthetic table has {len(synth)} rows, fewer than "
                          f"the real table's {len(real)}; sample at least {len(real)} rows.")
    rng = np.random.default_rng(seed)
    synth = synth.iloc[np.sort(rng.choice(len(synth), size=len(real), replace=False))]
    above, rows = SYNMETER_ROWS
    if len(real) > above:
        real = real.iloc[np.sort(rng.choice(len(real), size=rows, replace=False))]
        synth = synth.iloc[np.sort(rng.choice(len(synth), size=rows, replace=False))]
    cats = [c for c in domain.columns if isinstance(c, Categorical)]
    nums = [c for c in domain.columns if isinstance(c, Numeric)]
    scaled = {c.name: _scaled(real[c.name], synth[c.name]) for c in nums}
    out: dict[str, Any] = {
        "cat_error": _mean([_category_tvd(real, synth, [c]) for c in cats]),
        "cont_error": _mean([wasserstein_distance(*scaled[c.name]) for c in nums]),
    }
    if pairs:
        out["cont_cont_error"] = _mean([
            earth_movers_distance(np.abs(scaled[a.name][0][:, None] - scaled[a.name][1][None, :])
                                  + np.abs(scaled[b.name][0][:, None] - scaled[b.name][1][None, :]))
            for a, b in itertools.combinations(nums, 2)])
        cat_text = {c.name: (real[c.name].astype(str).to_numpy(), synth[c.name].astype(str).to_numpy()) for c in cats}
        out["cat_cont_error"] = _mean([
            earth_movers_distance((cat_text[c.name][0][:, None] != cat_text[c.name][1][None, :]).astype(float)
                                  + np.abs(scaled[n.name][0][:, None] - scaled[n.name][1][None, :]))
            for c in cats for n in nums])
        out["cat_cat_error"] = _mean([_category_tvd(real, synth, [a, b]) for a, b in itertools.combinations(cats, 2)])
    return {k: v for k, v in out.items() if v is not None}


def synmeter_queries(domain: Domain, *, n_way: int = 3, n_queries: int = 1000, seed: int = 0) -> list[list[tuple[str, Any]]]:
    """The random queries of :func:`synmeter_query_error`, drawn from the declared domain.

    Each query is a list of ``(column, condition)``: a ``(low, high)`` range (inclusive) on a
    numeric column, drawn as SynMeter does (``low`` uniform between the bounds, ``high`` uniform
    between ``low`` and the upper bound), or a declared category (as text).
    """
    names = list(domain.names)
    if not 1 <= int(n_way) <= len(names):
        raise DomainError(f"n_way must be between 1 and the number of columns ({len(names)}), got {n_way}.")
    if int(n_queries) < 1:
        raise DomainError(f"n_queries must be at least 1, got {n_queries}.")
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(int(n_queries)):
        query: list[tuple[str, Any]] = []
        for j in rng.choice(len(names), size=int(n_way), replace=False):
            column = domain[names[int(j)]]
            if isinstance(column, Numeric):
                lo = float(rng.uniform(column.lower, column.upper))
                query.append((column.name, (lo, float(rng.uniform(lo, column.upper)))))
            else:
                query.append((column.name, str(column.categories[int(rng.integers(len(column.categories)))])))
        queries.append(query)
    return queries


def synmeter_query_error(real: pd.DataFrame, synth: pd.DataFrame, domain: Domain, *, n_way: int = 3,
                         n_queries: int = 1000, seed: int = 0, queries: list | None = None) -> float:
    """SynMeter's ``{n_way}_way_range`` query error: mean |real share - synthetic share| over random queries.

    Args:
        real: The real records (SynMeter uses the test split).
        synth: The synthetic records (cut to the real table's size by a uniform draw, as in SynMeter).
        domain: Declared categories (points) and numeric bounds (ranges).
        n_way: Distinct columns per query (SynMeter reports 1, 2 and 3).
        n_queries: Queries (SynMeter: 1,000).
        seed: Seed of the draws.
        queries: Queries to score instead of drawing them (see :func:`synmeter_queries`).

    Raises:
        DomainError: bad sizes or a missing column.
    """
    names = list(domain.names)
    check_frame(real, names, what="real data")
    check_frame(synth, names, what="synthetic data")
    if queries is None:
        queries = synmeter_queries(domain, n_way=n_way, n_queries=n_queries, seed=seed)
    if len(synth) > len(real):
        rng = np.random.default_rng([seed, 1])
        synth = synth.iloc[np.sort(rng.choice(len(synth), size=len(real), replace=False))]

    def values(frame: pd.DataFrame, name: str) -> np.ndarray:
        if isinstance(domain[name], Numeric):
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        return np.asarray(np.where(frame[name].isna().to_numpy(), None, frame[name].astype(str).to_numpy()))

    real_values = {n: values(real, n) for n in names}
    synth_values = {n: values(synth, n) for n in names}
    errors = []
    for query in queries:
        in_real = np.ones(len(real), dtype=bool)
        in_synth = np.ones(len(synth), dtype=bool)
        for name, condition in query:
            for mask, vals in ((in_real, real_values[name]), (in_synth, synth_values[name])):
                mask &= (vals >= condition[0]) & (vals <= condition[1]) if isinstance(condition, tuple) else vals == condition
        errors.append(abs(in_real.mean() - in_synth.mean()))
    return float(np.mean(errors))
