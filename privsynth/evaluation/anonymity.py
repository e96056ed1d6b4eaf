"""k-anonymity, l-diversity and t-closeness of a table (real or synthetic), vectorized.

Records are grouped into *equivalence classes* by their quasi-identifier values (missing values
form their own value). Each function returns a frozen result with the headline value, a
per-class table and the classes that violate an optional ``threshold``.

References: Sweeney (2002) for k-anonymity; Machanavajjhala, Kifer, Gehrke, Venkitasubramaniam,
"l-Diversity: Privacy Beyond k-Anonymity" (ICDE 2006 / TKDD 2007); Li, Li, Venkatasubramanian,
"t-Closeness: Privacy Beyond k-Anonymity and l-Diversity" (ICDE 2007).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_columns, check_frame, check_no_missing

__all__ = ["KAnonymity", "LDiversity", "TCloseness", "k_anonymity", "l_diversity", "t_closeness", "hierarchical_emd"]

_MAX_LISTED = 100


def _classes(df: pd.DataFrame, qis: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Equivalence-class id of every record, and the classes' QI values and sizes."""
    grouped = df.groupby(qis, dropna=False, sort=True, observed=True)
    ids = grouped.ngroup().to_numpy()
    table = grouped.size().rename("size").reset_index()
    return ids, table


def _violating(classes: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return classes[mask].reset_index(drop=True)


def _summary(name: str, value: float, n_records: int, classes: pd.DataFrame, violating: pd.DataFrame, threshold: Any) -> dict:
    return {
        name: value,
        "n_records": n_records,
        "n_classes": len(classes),
        "threshold": threshold,
        "n_violating_classes": len(violating),
        "violating_classes": violating.head(_MAX_LISTED).astype(object).where(violating.head(_MAX_LISTED).notna(), None).to_dict("records"),
    }


@dataclass(frozen=True)
class KAnonymity:
    """``k`` (smallest class size), the ``classes`` (QI values, ``size``) and the classes
    smaller than ``threshold``."""

    k: int
    n_records: int
    classes: pd.DataFrame
    violating: pd.DataFrame
    threshold: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _summary("k", self.k, self.n_records, self.classes, self.violating, self.threshold)


@dataclass(frozen=True)
class LDiversity:
    """``l`` (smallest per-class diversity of the given ``kind``), per-class ``l`` in ``classes``,
    and the classes below ``threshold``."""

    l: float  # noqa: E741 - the paper's name
    kind: str
    c: float | None
    n_records: int
    classes: pd.DataFrame
    violating: pd.DataFrame
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _summary("l", self.l, self.n_records, self.classes, self.violating, self.threshold)
        out.update(kind=self.kind, c=self.c)
        return out


@dataclass(frozen=True)
class TCloseness:
    """``t`` (largest per-class Earth Mover's Distance to the whole table's distribution of the
    sensitive attribute), per-class ``t`` in ``classes``, and the classes above ``threshold``."""

    t: float
    distance: str
    n_records: int
    classes: pd.DataFrame
    violating: pd.DataFrame
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _summary("t", self.t, self.n_records, self.classes, self.violating, self.threshold)
        out["distance"] = self.distance
        return out


def k_anonymity(df: pd.DataFrame, quasi_identifiers: Sequence[str], *, threshold: int | None = None) -> KAnonymity:
    """k-anonymity: the size of the smallest equivalence class.

    Example:
        >>> df = pd.DataFrame({"zip": ["a", "a", "b", "b", "b"], "age": [1, 1, 2, 2, 2]})
        >>> k_anonymity(df, ["zip", "age"], threshold=3).k, len(k_anonymity(df, ["zip"], threshold=3).violating)
        (2, 1)
    """
    qis = check_columns(quasi_identifiers)
    check_frame(df, qis)
    _, classes = _classes(df, qis)
    violating = _violating(classes, classes["size"].to_numpy() < threshold) if threshold is not None else classes.iloc[:0]
    return KAnonymity(k=int(classes["size"].min()), n_records=len(df), classes=classes, violating=violating, threshold=threshold)


def _snap(values: np.ndarray) -> np.ndarray:
    """Snap values within 1e-9 (relative) of an integer to it: exp(log 3) is 3, not 2.9999999999999996."""
    r = np.round(values)
    return np.where(np.abs(values - r) <= 1e-9 * np.maximum(1.0, np.abs(values)), r, values)


def l_diversity(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str,
    *,
    kind: str = "distinct",
    c: float = 2.0,
    threshold: float | None = None,
) -> LDiversity:
    """l-diversity of the sensitive attribute within equivalence classes.

    Args:
        kind: ``"distinct"`` (number of distinct sensitive values), ``"entropy"``
            (``exp`` of the class entropy: a class is entropy l-diverse iff its entropy is at
            least ``log l``), or ``"recursive"`` (the largest ``l`` such that the class is
            recursive (c, l)-diverse: ``r_1 < c (r_l + ... + r_m)`` for the sorted counts
            ``r_1 >= r_2 >= ...``; 0 if even ``l = 1`` fails).
        c: The constant of recursive (c, l)-diversity.
        threshold: List the classes whose ``l`` is below it.

    Example:
        >>> df = pd.DataFrame({"q": [1, 1, 1, 2, 2, 2], "s": ["x", "y", "z", "x", "x", "y"]})
        >>> l_diversity(df, ["q"], "s", kind="entropy").classes["l"].tolist()[0]
        3.0
    """
    if kind not in ("distinct", "entropy", "recursive"):
        raise ValueError(f"kind must be 'distinct', 'entropy' or 'recursive', got {kind!r}.")
    if kind == "recursive" and not (isinstance(c, (int, float)) and c > 0):
        raise ValueError(f"c must be > 0, got {c!r}.")
    qis = check_columns(quasi_identifiers, sensitive)
    check_frame(df, [*qis, sensitive])
    check_no_missing(df, sensitive)
    ids, classes = _classes(df, qis)
    counts = pd.DataFrame({"cls": ids, "s": df[sensitive].to_numpy()}).value_counts(sort=False)
    cls = counts.index.get_level_values("cls").to_numpy()
    cnt = counts.to_numpy().astype(float)
    n_classes = len(classes)
    if kind == "distinct":
        per_class = np.bincount(cls, minlength=n_classes).astype(float)
    elif kind == "entropy":
        totals = np.bincount(cls, weights=cnt, minlength=n_classes)
        plogp = np.bincount(cls, weights=cnt * np.log(cnt), minlength=n_classes)
        entropy = np.log(totals) - plogp / totals
        per_class = _snap(np.exp(entropy))
    else:
        order = np.lexsort((-cnt, cls))
        cls_s, cnt_s = cls[order], cnt[order]
        starts = np.searchsorted(cls_s, np.arange(n_classes))
        rank = np.arange(len(cls_s)) - starts[cls_s] + 1  # 1-based rank within class, largest first
        totals = np.bincount(cls_s, weights=cnt_s, minlength=n_classes)
        before = np.cumsum(cnt_s) - cnt_s - (np.cumsum(cnt_s) - cnt_s)[starts][cls_s]  # mass ranked above
        tail = totals[cls_s] - before  # r_rank + ... + r_m
        r1 = cnt_s[starts][cls_s]
        ok = r1 < c * tail
        per_class = np.zeros(n_classes)
        np.maximum.at(per_class, cls_s[ok], rank[ok].astype(float))
    classes = classes.assign(l=per_class)
    violating = _violating(classes, per_class < threshold) if threshold is not None else classes.iloc[:0]
    return LDiversity(l=float(per_class.min()), kind=kind, c=c if kind == "recursive" else None, n_records=len(df),
                      classes=classes, violating=violating, threshold=threshold)


def _hierarchy_levels(hierarchy: pd.DataFrame, values: Sequence[Any]) -> list[np.ndarray]:
    """For each level above the leaves, the node index of every leaf value (a single root level
    is added if the hierarchy does not end in one)."""
    h = hierarchy.astype(str)
    leaf_col = h.iloc[:, 0]
    lookup = {v: i for i, v in enumerate(leaf_col)}
    missing = [v for v in values if str(v) not in lookup]
    if missing:
        raise DomainError(f"{len(missing)} sensitive values are not leaves of the hierarchy; add them to its first column.")
    rows = h.iloc[[lookup[str(v)] for v in values]]
    levels = [pd.factorize(rows.iloc[:, j])[0] for j in range(1, h.shape[1])]
    if not levels or len(np.unique(levels[-1])) > 1:
        levels.append(np.zeros(len(values), dtype=np.int64))
    return levels


def hierarchical_emd(p: np.ndarray, q: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """EMD with hierarchical ground distance (Li et al. 2007, Section 4.2) for each row of ``p``.

    ``levels[h-1][i]`` is the node at height ``h`` above leaf ``i``; the distance of two leaves is
    ``height(lowest common ancestor) / H``. Each node ``N`` at height ``h`` costs
    ``(h / H) * min(pos_extra(N), neg_extra(N))``, its children's positive and negative extras.
    """
    extra = np.atleast_2d(p) - q
    height = len(levels)
    total = np.zeros(extra.shape[0])
    child_of = np.arange(extra.shape[1])  # leaves are their own "nodes" at height 0
    for h, node_of_leaf in enumerate(levels, start=1):
        n_children = int(child_of.max()) + 1
        parent_of_child = np.zeros(n_children, dtype=np.int64)
        parent_of_child[child_of] = node_of_leaf
        n_nodes = int(node_of_leaf.max()) + 1
        membership = np.zeros((n_children, n_nodes))
        membership[np.arange(n_children), parent_of_child] = 1.0
        pos = np.clip(extra, 0, None) @ membership
        neg = np.clip(-extra, 0, None) @ membership
        total += (h / height) * np.minimum(pos, neg).sum(axis=1)
        extra = extra @ membership
        child_of = node_of_leaf
    return total


def _sparse_distances(ids: np.ndarray, codes: np.ndarray, n_classes: int, q: np.ndarray, *, ordered: bool) -> np.ndarray:
    """Each class's distance to the whole table's distribution ``q`` over ``m`` values, touching
    only the (class, value) pairs that occur: O(n log m) instead of a dense classes x values table
    (a numeric sensitive column has as many values as records).

    Equal distance: total variation, ``0.5 * sum_v |p_c(v) - q(v)|``. Ordered: the EMD
    ``sum_k |P_c(k) - Q(k)| / (m - 1)`` of the cumulative distributions, summed piecewise over the
    runs where ``P_c`` is constant (``Q`` is non-decreasing, so one binary search splits each run).
    """
    m = len(q)
    keys, counts = np.unique(ids.astype(np.int64) * m + codes, return_counts=True)
    cls, val = keys // m, keys % m
    sizes = np.bincount(cls, weights=counts, minlength=n_classes)
    p = counts / sizes[cls]
    if not ordered:
        return 0.5 * (1.0 + np.bincount(cls, weights=np.abs(p - q[val]) - q[val], minlength=n_classes))
    big_q = np.cumsum(q)
    prefix = np.concatenate([[0.0], np.cumsum(big_q)])  # prefix[i] = sum of Q(k) for k < i
    cum = np.cumsum(p)  # within each class (keys are sorted by class, then value): P_c just after each value
    first = np.r_[True, cls[1:] != cls[:-1]]
    start_of = np.flatnonzero(first)
    cum -= np.repeat(np.r_[0.0, cum[start_of[1:] - 1]], np.diff(np.r_[start_of, len(cum)]))
    last = np.r_[cls[1:] != cls[:-1], True]
    # runs: [0, first value) at level 0, then [v_j, v_j+1) at cum_j, the class's last value to m at 1
    a = np.concatenate([np.zeros(len(start_of), dtype=np.int64), val])
    b = np.concatenate([val[first], np.where(last, m, np.r_[val[1:], m])])
    level = np.concatenate([np.zeros(len(start_of)), cum])
    owner = np.concatenate([cls[first], cls])
    s = np.clip(np.searchsorted(big_q, level, side="left"), a, b)
    total = level * (s - a) - (prefix[s] - prefix[a]) + (prefix[b] - prefix[s]) - level * (b - s)
    return np.bincount(owner, weights=total, minlength=n_classes) / (m - 1)


def t_closeness(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str,
    *,
    ordered: bool | Sequence[Any] | None = None,
    hierarchy: pd.DataFrame | None = None,
    threshold: float | None = None,
    domain: Any = None,
) -> TCloseness:
    """t-closeness: the largest Earth Mover's Distance between a class's and the whole table's
    distribution of the sensitive attribute.

    Args:
        ordered: Ground distance. ``None``: from ``domain`` when given (ordered over the declared
            categories of an ordinal column, ordered for a numeric one, equal for a categorical
            one), else ordered for numeric attributes and ordered ``pandas.Categorical`` (over
            its categories), equal otherwise; ``True``/``False`` to force; or the list of values
            in their order.
            Ordered distance between the ``i``-th and ``j``-th of ``m`` values is ``|i-j|/(m-1)``;
            equal distance is 1 between distinct values (EMD = total variation).
        hierarchy: ARX-format generalization hierarchy (first column the values, then one column
            per level up) for the hierarchical distance; overrides ``ordered``.
        threshold: List the classes whose ``t`` exceeds it.
        domain: The table's :class:`~privsynth.core.domain.Domain`, whose kind of ``sensitive``
            chooses the ground distance when ``ordered`` is ``None``.

    Example:
        >>> df = pd.DataFrame({"q": ["a"] * 3 + ["b"] * 3, "salary": [3, 4, 5, 6, 7, 8]})
        >>> round(t_closeness(df, ["q"], "salary").t, 3)
        0.3
    """
    qis = check_columns(quasi_identifiers, sensitive)
    check_frame(df, [*qis, sensitive])
    check_no_missing(df, sensitive)
    ids, classes = _classes(df, qis)
    s = df[sensitive]
    if ordered is None and domain is not None and sensitive in domain:
        column = domain[sensitive]
        ordered = list(column.categories) if column.kind == "ordinal" else column.kind == "numeric"
    elif ordered is None and isinstance(s.dtype, pd.CategoricalDtype) and s.dtype.ordered:
        ordered = list(s.dtype.categories)
    if hierarchy is not None:
        distance = "hierarchical"
        values = list(pd.unique(s))
    elif ordered is not None and not isinstance(ordered, bool):
        distance, values = "ordered", list(ordered)
        unknown = int((~s.isin(values)).sum())
        if unknown:
            raise DomainError(f"{unknown} values of {sensitive!r} are not in the given order; list every value.")
    else:
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        is_ordered = numeric if ordered is None else ordered
        distance = "ordered" if is_ordered else "equal"
        values = sorted(pd.unique(s)) if is_ordered else list(pd.unique(s))
    index = pd.Index(values)
    codes = index.get_indexer(s)
    m = len(values)
    q = np.bincount(codes, minlength=m) / len(codes)
    if m == 1:
        per_class = np.zeros(len(classes))
    elif distance == "hierarchical":  # hierarchies are small: one dense row per class
        counts = np.zeros((len(classes), m))
        np.add.at(counts, (ids, codes), 1.0)
        per_class = hierarchical_emd(counts / counts.sum(axis=1, keepdims=True), q, _hierarchy_levels(hierarchy, values))
    else:
        per_class = _sparse_distances(ids, codes, len(classes), q, ordered=distance == "ordered")
    per_class = np.clip(per_class, 0.0, 1.0)
    classes = classes.assign(t=per_class)
    violating = _violating(classes, per_class > threshold) if threshold is not None else classes.iloc[:0]
    return TCloseness(t=float(per_class.max()), distance=distance, n_records=len(df), classes=classes,
                      violating=violating, threshold=threshold)
