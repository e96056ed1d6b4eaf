"""Column kinds of a public domain: :class:`Categorical`, :class:`Ordinal` and :class:`Numeric`.

Each is a small frozen value object validated when built: names, roles, categories (and the merged
ones, see :mod:`privsynth.core.categories`), bounds and binning are declared, never read off the
data. :class:`~privsynth.core.domain.Domain` holds a tuple of them.

Example:
    >>> Numeric("age", 17, 90, integer=True).levels
    16
    >>> Categorical("sex", ("F", "M"), nullable=True).levels
    3
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Union

import numpy as np

from privsynth.core.binning import check_binning, describe_binning, numeric_edges
from privsynth.core.categories import check_merged
from privsynth.core.errors import DomainError

__all__ = ["Categorical", "Ordinal", "Numeric", "Column", "ROLES", "DEFAULT_BINS", "column_from_dict", "plain"]

ROLES = ("identifier", "quasi_identifier", "sensitive")
DEFAULT_BINS = 16


def _check_common(name: Any, role: Any) -> None:
    if not isinstance(name, str) or not name:
        raise DomainError(f"A column name must be a non-empty string, got {name!r}.")
    if role is not None and role not in ROLES:
        raise DomainError(f"Column {name!r}: role must be one of {ROLES} or None, got {role!r}.")


def plain(value: Any) -> Any:
    """Turn numpy scalars into the Python scalars JSON and YAML understand."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Categorical:
    """A column whose values come from a fixed, public list of categories.

    Args:
        name: Column name.
        categories: The public categories (strings, ints or bools), in a fixed order.
        nullable: Whether missing values are allowed; they become one extra state.
        role: ``"identifier"``, ``"quasi_identifier"``, ``"sensitive"`` or ``None``.
        other: A category (one of ``categories``) that takes every value not declared, e.g.
            ``"(other)"`` in a DP-estimated domain; ``None``: undeclared values are refused.
        merged: Categories that share one cell (rare ones merged, e.g. by
            :func:`privsynth.profiling.dp_merge_rare`): synthesizers model the cell and draw one
            of its categories uniformly (:mod:`privsynth.core.categories`). Not for ordinals.

    Example:
        >>> Categorical("sex", ("Female", "Male")).levels
        2
        >>> Categorical("country", ("US", "MX", "FJ", "TV"), merged=("FJ", "TV")).levels
        3
    """

    name: str
    categories: tuple
    nullable: bool = False
    role: str | None = None
    other: str | None = None
    merged: tuple = ()
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        _check_common(self.name, self.role)
        cats = tuple(plain(c) for c in self.categories)
        if not cats:
            raise DomainError(f"Column {self.name!r}: declare at least one category.")
        for c in cats:
            if not isinstance(c, (str, int, bool)) or (isinstance(c, float)):
                raise DomainError(
                    f"Column {self.name!r}: categories must be strings, ints or bools; "
                    f"got a {type(c).__name__}. Quote it in the domain file."
                )
        if len(set(cats)) != len(cats):
            raise DomainError(f"Column {self.name!r}: categories must be unique.")
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "nullable", bool(self.nullable))
        if self.other is not None and self.other not in cats:
            raise DomainError(f"Column {self.name!r}: other={self.other!r} must be one of its categories.")
        object.__setattr__(self, "merged", check_merged(self.name, cats, self.merged, ordinal=isinstance(self, Ordinal)))

    @property
    def cells(self) -> int:
        """Number of cells a synthesizer models: one per category, one for all merged ones."""
        return len(self.categories) - max(len(self.merged) - 1, 0)

    @property
    def levels(self) -> int:
        """Number of discrete states (cells), the missing state included."""
        return self.cells + int(self.nullable)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the domain file's entry for this column)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "categories": list(self.categories)}
        if self.nullable:
            out["nullable"] = True
        if self.role is not None:
            out["role"] = self.role
        if self.other is not None:
            out["other"] = self.other
        if self.merged:
            out["merged"] = list(self.merged)
        return out


@dataclass(frozen=True)
class Ordinal(Categorical):
    """A categorical column whose categories are listed in their natural order.

    Example:
        >>> Ordinal("size", ("S", "M", "L")).categories
        ('S', 'M', 'L')
    """

    kind: ClassVar[str] = "ordinal"


@dataclass(frozen=True)
class Numeric:
    """A numeric column with public bounds.

    Args:
        name: Column name.
        lower: Public lower bound (inclusive), chosen without looking at the data.
        upper: Public upper bound (inclusive).
        integer: Whether values are whole numbers.
        bins: Number of equal-width bins used where the column is discretized, or a list of
            public edges from ``lower`` to ``upper``; ``None`` lets the consumer choose (see
            :meth:`n_bins`).
        nullable: Whether missing values are allowed.
        role: ``"identifier"``, ``"quasi_identifier"``, ``"sensitive"`` or ``None``.
        points: Public point masses (e.g. ``(0, -1)``: a count's zero, a "not applicable"
            code): each gets a cell of its own, so its share is kept exactly
            (:mod:`privsynth.core.binning`).

    Example:
        >>> Numeric("age", 17, 90, integer=True, bins=8).edges().round(2).tolist()[:3]
        [17.0, 26.12, 35.25]
        >>> Numeric("juv_fel_count", 0, 1000, integer=True, bins=4, points=(0,)).edges().tolist()
        [-0.5, 0.5, 250.0, 500.0, 750.0, 1000.0]
    """

    name: str
    lower: float
    upper: float
    integer: bool = False
    bins: Any = None
    nullable: bool = False
    role: str | None = None
    points: tuple = ()
    kind: ClassVar[str] = "numeric"

    def __post_init__(self) -> None:
        _check_common(self.name, self.role)
        lo, hi = plain(self.lower), plain(self.upper)
        for label, v in (("lower", lo), ("upper", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise DomainError(f"Column {self.name!r}: {label} bound must be a finite number, got {v!r}.")
        if not lo < hi:
            raise DomainError(f"Column {self.name!r}: lower bound {lo} must be below upper bound {hi}.")
        if self.integer and (lo != int(lo) or hi != int(hi)):
            raise DomainError(f"Column {self.name!r}: an integer column needs whole-number bounds.")
        if self.integer:
            lo, hi = int(lo), int(hi)
        bins, points = check_binning(self.name, lo, hi, bool(self.integer), self.bins, self.points)
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "integer", bool(self.integer))
        object.__setattr__(self, "nullable", bool(self.nullable))
        object.__setattr__(self, "bins", bins)
        object.__setattr__(self, "points", points)

    def n_bins(self, default: int = DEFAULT_BINS) -> int:
        """Cells used to discretize: the declared bins (a count, else ``default``; an integer
        column never gets more bins than it has values), plus one per point mass."""
        return len(self.edges(default)) - 1

    @property
    def levels(self) -> int:
        """Discrete states at the default bin count, the missing state included."""
        return self.n_bins() + int(self.nullable)

    def edges(self, default_bins: int = DEFAULT_BINS) -> np.ndarray:
        """Public bin edges (``n_bins + 1`` values) from the declared domain alone.

        An integer column with at most ``n_bins`` values gets one bin per value; every point
        mass is a bin of its own (:func:`privsynth.core.binning.numeric_edges`).
        """
        return numeric_edges(self.lower, self.upper, integer=self.integer, bins=self.bins, points=self.points, default=default_bins)

    def describe_binning(self, default_bins: int = DEFAULT_BINS) -> str:
        """How the column is modelled, in a few words."""
        return describe_binning(self.lower, self.upper, integer=self.integer, bins=self.bins, points=self.points,
                                default=default_bins)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the domain file's entry for this column)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "lower": self.lower, "upper": self.upper}
        for key in ("integer", "nullable"):
            if getattr(self, key):
                out[key] = True
        if self.bins is not None:
            out["bins"] = list(self.bins) if isinstance(self.bins, tuple) else self.bins
        if self.points:
            out["points"] = list(self.points)
        if self.role is not None:
            out["role"] = self.role
        return out


Column = Union[Categorical, Ordinal, Numeric]
_KINDS: dict[str, type] = {"categorical": Categorical, "ordinal": Ordinal, "numeric": Numeric}


def column_from_dict(entry: Mapping[str, Any]) -> Column:
    """A column from its domain-file entry (``kind`` picks the class); :class:`DomainError` names a bad entry."""
    if not isinstance(entry, Mapping):
        raise DomainError(f"Each column entry must be a mapping, got {type(entry).__name__}.")
    entry = dict(entry)
    kind = entry.pop("kind", None)
    if kind not in _KINDS:
        raise DomainError(
            f"Column {entry.get('name')!r}: kind must be one of {sorted(_KINDS)}, got {kind!r}."
        )
    cls = _KINDS[kind]
    try:
        if "categories" in entry:
            entry["categories"] = tuple(entry["categories"])
        if isinstance(entry.get("merged"), list):
            entry["merged"] = tuple(entry["merged"])
        return cls(**entry)
    except TypeError as exc:  # unknown or missing keys
        raise DomainError(f"Column {entry.get('name')!r} ({kind}): {exc}.") from None
