"""The public domain: column kinds, categories and bounds declared *without* looking at the data.

A :class:`Domain` is a small frozen value object (after private-pgm's ``Domain``). It is the
public metadata every synthesizer and evaluator relies on: reading categories, bounds or bin
edges off private data would leak them, so they come from a declared file. ``Domain.infer``
exists for exploration only; it warns with :class:`PrivacyLeakWarning` and marks the domain
``provenance="inferred"``, which makes every certificate built on it invalid.
:func:`privsynth.profiling.estimate_domain` reads one off the data *with differential privacy*:
``provenance="dp"``, and the domain carries the ledger entries of that estimation, which every
fit on it charges first, so its certificate stays valid and covers the whole pipeline.

Columns declared ``role: identifier`` are direct identifiers: they are kept by name in
``Domain.identifiers`` and are never synthesized (readers drop them). Public business
``rules`` (see :mod:`privsynth.core.rules`) are enforced when sampling.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from privsynth.core.binning import check_binning, describe_binning, numeric_edges
from privsynth.core.categories import check_merged
from privsynth.core.errors import DomainError, PrivacyLeakWarning

__all__ = ["Categorical", "Ordinal", "Numeric", "Column", "Domain", "ROLES", "PROVENANCES"]

ROLES = ("identifier", "quasi_identifier", "sensitive")
PROVENANCES = ("declared", "inferred", "dp")
DEFAULT_BINS = 16


def _check_common(name: Any, role: Any) -> None:
    if not isinstance(name, str) or not name:
        raise DomainError(f"A column name must be a non-empty string, got {name!r}.")
    if role is not None and role not in ROLES:
        raise DomainError(f"Column {name!r}: role must be one of {ROLES} or None, got {role!r}.")


def _plain(value: Any) -> Any:
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
        cats = tuple(_plain(c) for c in self.categories)
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
        lo, hi = _plain(self.lower), _plain(self.upper)
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


def _column_from_dict(entry: Mapping[str, Any]) -> Column:
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


@dataclass(frozen=True)
class Domain:
    """The public schema of a table: one :class:`Column` per attribute.

    Args:
        columns: The columns, in table order. A column with ``role="identifier"`` is moved to
            ``identifiers``: it is a direct identifier and is never synthesized.
        provenance: ``"declared"`` (public metadata), ``"inferred"`` (read off data by
            :meth:`infer`; certificates built on it are invalid) or ``"dp"`` (estimated with
            differential privacy; ``estimation`` holds what that spent).
        identifiers: Names of direct-identifier columns: accepted in the data and dropped.
        rules: Public business rules (strings or mappings, see :mod:`privsynth.core.rules`),
            enforced when sampling.
        estimation: For ``provenance="dp"``: the DP estimation's accountant and ledger entries
            (plain JSON), charged first by every fit on this domain.
        source: Where a declared domain's bounds and categories come from (e.g. a benchmark's
            published metadata); certificates of fits on it state it.

    Example:
        >>> d = Domain((Numeric("age", 17, 90, integer=True), Categorical("sex", ("F", "M"))))
        >>> d.names
        ('age', 'sex')
        >>> d["sex"].levels
        2
        >>> Domain.from_dict(d.to_dict()) == d
        True
    """

    columns: tuple
    provenance: str = "declared"
    identifiers: tuple = ()
    rules: tuple = ()
    estimation: Any = None
    source: str | None = None

    def __post_init__(self) -> None:
        cols = tuple(self.columns)
        for c in cols:
            if not isinstance(c, (Categorical, Numeric)):
                raise DomainError(f"Domain columns must be Categorical, Ordinal or Numeric; got {type(c).__name__}.")
        identifiers = tuple(str(n) for n in self.identifiers) + tuple(c.name for c in cols if c.role == "identifier")
        cols = tuple(c for c in cols if c.role != "identifier")
        if not cols:
            raise DomainError("A domain needs at least one column that is not an identifier.")
        names = [c.name for c in cols] + list(identifiers)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DomainError(f"Duplicate column names in domain: {dupes}.")
        if self.provenance not in PROVENANCES:
            raise DomainError(f"provenance must be one of {PROVENANCES}, got {self.provenance!r}.")
        if self.provenance == "dp" and not isinstance(self.estimation, Mapping):
            raise DomainError("A domain with provenance 'dp' needs its 'estimation' block (accountant and ledger entries); "
                              "write it with privsynth.profiling.estimate_domain or `privsynth profile --dp`.")
        if self.provenance != "dp" and self.estimation is not None:
            raise DomainError("Only a domain with provenance 'dp' has an 'estimation' block.")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "identifiers", identifiers)
        object.__setattr__(self, "rules", tuple(self.rules or ()))
        if self.rules:
            from privsynth.core.rules import parse_rules

            parse_rules(self.rules, self)  # refuse a malformed rule now, naming it

    def __hash__(self) -> int:  # rules and the estimation block hold dicts: hash the canonical form
        return hash(self.fingerprint())

    # -- access ---------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"Column {name!r} is not in the domain; it has {list(self.names)}.")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def select(self, names: Sequence[str]) -> "Domain":
        """The sub-domain of ``names`` (in the order given). Rules on the columns kept stay."""
        from privsynth.core.rules import parse_rules

        keep = set(names)
        rules = tuple(r.source for r in parse_rules(self.rules, self) if set(r.columns) <= keep)
        return Domain(tuple(self[n] for n in names), provenance=self.provenance, identifiers=self.identifiers,
                      rules=rules, estimation=self.estimation, source=self.source)

    def with_role(self, role: str) -> tuple[str, ...]:
        """Names of the columns declared with ``role``."""
        return tuple(c.name for c in self.columns if c.role == role)

    @property
    def is_declared(self) -> bool:
        """True when the domain is public metadata, not read off data."""
        return self.provenance == "declared"

    # -- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as written to domain files."""
        out: dict[str, Any] = {"provenance": self.provenance, "columns": [c.to_dict() for c in self.columns]
                               + [{"name": n, "role": "identifier"} for n in self.identifiers]}
        if self.rules:
            out["rules"] = [dict(r) if isinstance(r, Mapping) else r for r in self.rules]
        if self.estimation is not None:
            out["estimation"] = dict(self.estimation)
        if self.source is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Domain":
        """Build a domain from its dict form.

        Also accepts private-pgm's compact form ``{"column": n_levels, ...}``: each column
        becomes an :class:`Ordinal` over the integer codes ``0 .. n_levels-1``.
        """
        if not isinstance(data, Mapping):
            raise DomainError(f"A domain must be a mapping, got {type(data).__name__}.")
        if "columns" not in data:
            if data and all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
                return cls(tuple(Ordinal(str(k), tuple(range(int(v)))) for k, v in data.items()))
            raise DomainError("A domain file needs a 'columns' list (or private-pgm's {name: size} form).")
        entries = data["columns"]
        if isinstance(entries, Mapping):  # {name: {kind: ...}}
            entries = [{"name": k, **v} for k, v in entries.items()]
        unknown = sorted(set(data) - {"columns", "provenance", "rules", "estimation", "identifiers", "source"})
        if unknown:
            raise DomainError(f"Unknown top-level key {unknown[0]!r} in the domain; it takes columns, provenance, rules, "
                              "estimation, source.")
        identifiers = [str(e["name"]) for e in entries if isinstance(e, Mapping) and e.get("role") == "identifier"]
        columns = tuple(_column_from_dict(e) for e in entries if not (isinstance(e, Mapping) and e.get("role") == "identifier"))
        return cls(columns, provenance=data.get("provenance", "declared"), identifiers=(*data.get("identifiers", ()), *identifiers),
                   rules=tuple(data.get("rules") or ()), estimation=data.get("estimation"), source=data.get("source"))

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @classmethod
    def from_file(cls, path: str | Path) -> "Domain":
        """Load a domain from a ``.yaml``/``.yml`` or ``.json`` file.

        Raises:
            DomainError: if the file is missing or malformed.
        """
        path = Path(path)
        if not path.is_file():
            raise DomainError(f"Domain file {str(path)!r} does not exist; pass the path of a .yaml or .json domain file.")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # noqa: BLE001 - parser errors differ by format
            raise DomainError(f"Domain file {str(path)!r} could not be parsed: {exc}") from None
        return cls.from_dict(data)

    def to_file(self, path: str | Path) -> Path:
        """Write the domain as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        else:
            path.write_text(self.to_json(), encoding="utf-8")
        return path

    def fingerprint(self) -> str:
        """A stable ``sha256:`` digest of the domain (columns, kinds, categories, bounds, roles,
        provenance), independent of file format and key order."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()

    # -- exploration only -----------------------------------------------------------------------
    @classmethod
    def infer(cls, df: pd.DataFrame, *, max_categories: int = 1000) -> "Domain":
        """Read a domain off ``df`` -- **for exploration only**.

        Categories, minima and maxima of private data are themselves private: this emits a
        :class:`PrivacyLeakWarning` and marks the result ``provenance="inferred"``, so every
        certificate built on it says ``valid = False``. Write the result to a file, replace
        the bounds with public ones, and load that instead.

        Example:
            >>> import warnings
            >>> with warnings.catch_warnings():
            ...     warnings.simplefilter("ignore")
            ...     d = Domain.infer(pd.DataFrame({"x": [1, 2], "c": ["a", "b"]}))
            >>> d.provenance, d["c"].categories
            ('inferred', ('a', 'b'))
        """
        if not isinstance(df, pd.DataFrame) or df.shape[1] == 0:
            raise DomainError("Domain.infer needs a DataFrame with at least one column.")
        warnings.warn(
            "Domain.infer reads categories and min/max off the data, which leaks private "
            "information; certificates built on this domain are marked invalid. Declare the "
            "domain from public knowledge (Domain.from_file) for any real release.",
            PrivacyLeakWarning,
            stacklevel=2,
        )
        cols: list[Column] = []
        for name in df.columns:
            s = df[name]
            nullable = bool(s.isna().any())
            values = s.dropna()
            if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
                cats = sorted({_plain(v) for v in values}, key=lambda v: (str(type(v)), v))
                if len(cats) > max_categories:
                    raise DomainError(
                        f"Column {name!r} has more than {max_categories} distinct values: an identifier, free text "
                        "or a number read as text. Draft the domain with privsynth.profile / `privsynth profile`, which "
                        "flags identifiers and declares them `role: identifier` (dropped), then edit it."
                    )
                cols.append(Categorical(str(name), tuple(cats) or ("",), nullable=nullable))
            else:
                lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
                integer = bool(len(values)) and bool(np.all(np.mod(values.to_numpy(float), 1) == 0))
                if hi <= lo:
                    hi = lo + 1
                cols.append(Numeric(str(name), lo, hi, integer=integer, nullable=nullable))
        return cls(tuple(cols), provenance="inferred")
