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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.columns import DEFAULT_BINS, ROLES, Categorical, Column, Numeric, Ordinal, column_from_dict, plain
from privsynth.core.errors import DomainError, PrivacyLeakWarning

__all__ = ["Categorical", "Ordinal", "Numeric", "Column", "Domain", "ROLES", "PROVENANCES", "DEFAULT_BINS"]

PROVENANCES = ("declared", "inferred", "dp")


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
        columns = tuple(column_from_dict(e) for e in entries if not (isinstance(e, Mapping) and e.get("role") == "identifier"))
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
                cats = sorted({plain(v) for v in values}, key=lambda v: (str(type(v)), v))
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
