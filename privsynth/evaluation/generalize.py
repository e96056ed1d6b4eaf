"""Generalizing quasi-identifiers: ARX-format hierarchies and numeric banding."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError

__all__ = ["apply_hierarchy", "generalize", "band"]


def apply_hierarchy(values: pd.Series, hierarchy: pd.DataFrame, level: int) -> pd.Series:
    """Replace each value by its ancestor ``level`` steps up an ARX-format hierarchy (one row per
    value, column 0 the value itself, one column per level; ``level=0`` keeps the values).

    Example:
        >>> h = pd.DataFrame([["47677", "4767*", "*"], ["47602", "4760*", "*"]])
        >>> apply_hierarchy(pd.Series([47677, 47602]), h, 1).tolist()
        ['4767*', '4760*']
    """
    if not 0 <= level < hierarchy.shape[1]:
        raise DomainError(f"level must be in [0, {hierarchy.shape[1] - 1}] for this hierarchy, got {level}.")
    mapping = dict(zip(hierarchy.iloc[:, 0].astype(str), hierarchy.iloc[:, level].astype(str)))
    keys = values.astype(str)
    unknown = int((~keys.isin(mapping.keys()) & values.notna()).sum())
    if unknown:
        raise DomainError(f"{unknown} values of {values.name!r} are not in its hierarchy; add them to the hierarchy file.")
    out = keys.map(mapping)
    return out.where(values.notna(), np.nan).rename(values.name)


def generalize(df: pd.DataFrame, hierarchies: Mapping[str, pd.DataFrame], levels: Mapping[str, int]) -> pd.DataFrame:
    """A copy of ``df`` with each column in ``levels`` generalized to that hierarchy level."""
    out = df.copy()
    for column, level in levels.items():
        if column not in df.columns:
            raise DomainError(f"Column {column!r} is not in the data.")
        if column not in hierarchies:
            raise DomainError(f"No hierarchy for column {column!r}.")
        out[column] = apply_hierarchy(df[column], hierarchies[column], level)
    return out


def band(values: pd.Series, *, width: float | None = None, edges: Sequence[float] | None = None, origin: float = 0.0) -> pd.Series:
    """Numeric banding into labelled intervals ``[lo, hi)``: fixed ``width`` bands from
    ``origin``, or explicit ``edges`` (public, chosen without looking at the data).

    Example:
        >>> band(pd.Series([23, 37, 40]), width=10).tolist()
        ['[20, 30)', '[30, 40)', '[40, 50)']
    """
    if (width is None) == (edges is None):
        raise ValueError("Give exactly one of width or edges.")
    x = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    if width is not None:
        if not width > 0:
            raise ValueError("width must be > 0.")
        lo = origin + np.floor((x - origin) / width) * width
        hi = lo + width
    else:
        e = np.asarray(edges, dtype=float)
        if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0):
            raise ValueError("edges must be at least two increasing numbers.")
        idx = np.searchsorted(e, x, side="right") - 1
        outside = int(((idx < 0) | (idx >= len(e) - 1) & (x != e[-1]))[~np.isnan(x)].sum())
        if outside:
            raise DomainError(f"{outside} values lie outside the band edges [{e[0]}, {e[-1]}].")
        idx = np.clip(idx, 0, len(e) - 2)
        lo, hi = e[idx], e[idx + 1]

    def fmt(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

    labels = [f"[{fmt(a)}, {fmt(b)})" if not np.isnan(v) else np.nan for a, b, v in zip(lo, hi, x)]
    return pd.Series(labels, index=values.index, name=values.name, dtype=object)
