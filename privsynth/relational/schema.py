"""The schema of a database: tables, keys, the person table and each person's contribution bound.

A schema is public metadata, like a domain: it is declared (a YAML file next to each table's
domain) or drafted by :func:`privsynth.relational.draft_schema` (marked ``inferred``; a model
fitted on an inferred schema carries an invalid certificate until a person confirms it).

Every private table but the person table has one *parent* on the path to the person table
(``parent: {column: customer_id, references: customers}``) and a public bound
``max_per_parent`` on the rows one parent row may hold; one person then holds at most the
product of the bounds along the path (:meth:`Schema.rows_per_person`). Other foreign keys may
point only at *public* tables (reference data released as is, e.g. a product catalogue): a
table with two parents is a private parent plus public ones.

Example (YAML):

.. code-block:: yaml

    person: customers
    tables:
      customers: {primary_key: customer_id, domain: customers.domain.yaml}
      accounts:
        primary_key: account_id
        parent: {column: customer_id, references: customers}
        max_per_parent: 4
        context: [segment, age_band]       # parent columns the child model sees (default: all)
        domain: accounts.domain.yaml
      merchants: {primary_key: merchant_id, public: true}
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError

__all__ = ["ForeignKey", "TableSpec", "Schema", "count_column"]


def count_column(child: str) -> str:
    """The column of a parent's model that holds its number of ``child`` rows."""
    return f"n_{child}"


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of a table holds primary keys of the table ``references``."""

    column: str
    references: str

    @classmethod
    def from_dict(cls, data: Any, *, table: str) -> "ForeignKey":
        if not isinstance(data, Mapping) or set(data) != {"column", "references"}:
            raise DomainError(f"Schema table {table!r}: a foreign key is a mapping {{column: ..., references: ...}}, got {data!r}.")
        return cls(column=str(data["column"]), references=str(data["references"]))

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "references": self.references}


@dataclass(frozen=True)
class TableSpec:
    """One table of a :class:`Schema`.

    Args:
        name: The table's name.
        primary_key: Its key column (never modelled: keys are generated when sampling).
        domain: The public domain of its attribute columns (keys excluded); ``None`` for a
            public table, which is released as given.
        parent: The foreign key towards the person table (``None`` for the person table and
            public tables).
        max_per_parent: The public bound on this table's rows per parent row; rows beyond it
            are dropped at random (private randomness) before fitting.
        max_per_person: An optional public bound on this table's rows per *person* (below the
            product of the ``max_per_parent`` bounds on its path): extra rows are dropped at
            random too. One person's rows then count ``min(product, max_per_person)`` times,
            so the noise shrinks in proportion, at the cost of heavy users' rows.
        context: The parent's columns the child's model sees (``None``: all of them).
        references: Foreign keys to public tables (their columns are categorical columns of
            ``domain`` whose categories are the public table's keys).
        public: A reference table holding no person's data, released as is.
        share: This table's share of the database budget (relative weight).
    """

    name: str
    primary_key: str
    domain: Domain | None = None
    parent: ForeignKey | None = None
    max_per_parent: int | None = None
    max_per_person: int | None = None
    context: tuple[str, ...] | None = None
    references: tuple[ForeignKey, ...] = ()
    public: bool = False
    share: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"primary_key": self.primary_key}
        if self.public:
            out["public"] = True
        if self.domain is not None:
            out["domain"] = self.domain.to_dict()
        if self.parent is not None:
            out["parent"] = self.parent.to_dict()
            out["max_per_parent"] = self.max_per_parent
        if self.max_per_person is not None:
            out["max_per_person"] = self.max_per_person
        if self.context is not None:
            out["context"] = list(self.context)
        if self.references:
            out["references"] = [r.to_dict() for r in self.references]
        if self.share != 1.0:
            out["share"] = self.share
        return out


_TABLE_KEYS = {"primary_key", "domain", "parent", "max_per_parent", "max_per_person", "context", "references", "public", "share"}


def _table_from_dict(name: str, data: Any, base: Path | None) -> TableSpec:
    if not isinstance(data, Mapping):
        raise DomainError(f"Schema table {name!r} must be a mapping, got {type(data).__name__}.")
    unknown = set(data) - _TABLE_KEYS
    if unknown:
        raise DomainError(f"Schema table {name!r}: unknown keys {sorted(unknown)}; known: {sorted(_TABLE_KEYS)}.")
    if "primary_key" not in data:
        raise DomainError(f"Schema table {name!r}: declare its primary_key.")
    domain = data.get("domain")
    if isinstance(domain, (str, Path)):
        path = Path(domain) if base is None or Path(domain).is_absolute() else base / domain
        domain = Domain.from_file(path)
    elif isinstance(domain, Mapping):
        domain = Domain.from_dict(domain)
    elif domain is not None and not isinstance(domain, Domain):
        raise DomainError(f"Schema table {name!r}: domain must be a file path or a domain mapping.")
    parent = ForeignKey.from_dict(data["parent"], table=name) if data.get("parent") is not None else None
    refs = tuple(ForeignKey.from_dict(r, table=name) for r in data.get("references") or ())
    context = data.get("context")
    bound = data.get("max_per_parent")
    share = data.get("share", 1.0)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not (share > 0 and math.isfinite(share)):
        raise DomainError(f"Schema table {name!r}: share must be a positive number, got {share!r}.")
    return TableSpec(name=name, primary_key=str(data["primary_key"]), domain=domain, parent=parent,
                     max_per_parent=bound, max_per_person=data.get("max_per_person"),
                     context=None if context is None else tuple(str(c) for c in context), references=refs,
                     public=bool(data.get("public", False)), share=float(share))


@dataclass(frozen=True)
class Schema:
    """Tables with keys, the person table, and the public contribution bounds.

    Args:
        tables: The tables (see :class:`TableSpec`), kept in a canonical order: the person
            table, its descendants breadth first, then public tables by name.
        person: The table whose rows are the privacy unit.
        provenance: ``"declared"`` or ``"inferred"`` (drafted from data: certificates invalid).

    Example:
        >>> from privsynth.core.domain import Categorical
        >>> d = Domain((Categorical("kind", ("a", "b")),))
        >>> s = Schema(tables=(TableSpec("people", "pid", d),
        ...                    TableSpec("visits", "vid", d, parent=ForeignKey("pid", "people"), max_per_parent=3)),
        ...            person="people")
        >>> s.children("people"), s.rows_per_person("visits")
        (('visits',), 3)
    """

    tables: tuple[TableSpec, ...]
    person: str
    provenance: str = "declared"
    _by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(self.tables))
        by_name = {t.name: t for t in self.tables}
        if len(by_name) != len(self.tables):
            raise DomainError("Schema: every table needs a unique name.")
        object.__setattr__(self, "_by_name", by_name)
        if self.provenance not in ("declared", "inferred"):
            raise DomainError(f"Schema provenance must be 'declared' or 'inferred', got {self.provenance!r}.")
        self._validate()
        canonical = (*self.private_order(), *sorted(t.name for t in self.tables if t.public))  # the same schema, in any order
        object.__setattr__(self, "tables", tuple(by_name[n] for n in canonical))

    def _validate(self) -> None:
        if self.person not in self._by_name:
            raise DomainError(f"Schema: the person table {self.person!r} is not among the tables {sorted(self._by_name)}.")
        for t in self.tables:
            where = f"Schema table {t.name!r}"
            if t.public:
                if t.parent is not None or t.name == self.person:
                    raise DomainError(f"{where} is public (reference data): it can be neither the person table nor a child.")
                continue
            if t.domain is None:
                raise DomainError(f"{where}: declare the public domain of its attribute columns (domain: file.yaml).")
            keys = {t.primary_key} | ({t.parent.column} if t.parent else set())
            clash = keys & set(t.domain.names)
            if clash:
                raise DomainError(f"{where}: key columns {sorted(clash)} must not be in its domain (keys are generated, not modelled).")
            if t.name == self.person:
                if t.parent is not None:
                    raise DomainError(f"{where} is the person table: it has no parent.")
            else:
                if t.parent is None:
                    raise DomainError(f"{where}: a private table needs a parent on the path to the person table {self.person!r} "
                                      "(parent: {column: ..., references: ...}), or mark it public: true.")
                bound = t.max_per_parent
                if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
                    raise DomainError(f"{where}: max_per_parent must be a positive integer (the public bound on its rows per "
                                      f"parent row), got {bound!r}.")
                cap = t.max_per_person
                if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
                    raise DomainError(f"{where}: max_per_person must be a positive integer or absent, got {cap!r}.")
                parent = self._by_name.get(t.parent.references)
                if parent is None or parent.public:
                    raise DomainError(f"{where}: its parent {t.parent.references!r} must be a private table of the schema.")
                if t.context is not None and parent.domain is not None:
                    missing = [c for c in t.context if c not in parent.domain.names]
                    if missing:
                        raise DomainError(f"{where}: context columns {missing} are not in the parent {parent.name!r}'s domain.")
            for ref in t.references:
                target = self._by_name.get(ref.references)
                if target is None or not target.public:
                    raise DomainError(f"{where}: foreign key {ref.column!r} references {ref.references!r}, which must be a public "
                                      "table of the schema (a second private parent would link one row to two persons).")
                if ref.column not in t.domain.names:
                    raise DomainError(f"{where}: declare {ref.column!r} in its domain as a categorical column whose categories "
                                      f"are {ref.references!r}'s public keys.")
            for child in self.children(t.name):
                if count_column(child) in t.domain.names:
                    raise DomainError(f"{where}: its domain has a column {count_column(child)!r}, the name of its count of "
                                      f"{child!r} rows; rename it.")
        for t in self.tables:  # every private table reaches the person table (no cycles)
            if not t.public:
                self.path_to_person(t.name)

    # -- structure ----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> TableSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"No table {name!r} in the schema; it has {sorted(self._by_name)}.") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def children(self, name: str) -> tuple[str, ...]:
        """Private tables whose parent is ``name``."""
        return tuple(t.name for t in self.tables if t.parent is not None and t.parent.references == name)

    def parent_link(self, name: str) -> ForeignKey:
        """The foreign key of private table ``name`` towards the person table."""
        link = self[name].parent
        if link is None:
            raise KeyError(f"Table {name!r} has no parent (it is the person table or public).")
        return link

    def path_to_person(self, name: str) -> tuple[str, ...]:
        """The tables from ``name`` up to the person table, both included."""
        path, seen = [name], {name}
        while path[-1] != self.person:
            parent = self[path[-1]].parent
            if parent is None or parent.references in seen:
                raise DomainError(f"Schema: table {name!r} does not reach the person table {self.person!r} through its parents.")
            path.append(parent.references)
            seen.add(parent.references)
        return tuple(path)

    def rows_per_person(self, name: str) -> int:
        """The most rows of table ``name`` one person can hold: the product of the bounds on its
        path, or the table's ``max_per_person`` when that is lower."""
        product = math.prod(int(self[t].max_per_parent or 1) for t in self.path_to_person(name)[:-1])
        cap = self[name].max_per_person
        return product if cap is None else min(product, int(cap))

    def private_order(self) -> tuple[str, ...]:
        """Private tables, parents before children (the person table first)."""
        order, frontier = [], [self.person]
        while frontier:
            name = frontier.pop(0)
            order.append(name)
            frontier.extend(self.children(name))
        return tuple(order)

    def public_tables(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables if t.public)

    def fingerprint(self) -> str:
        """sha256 of the schema's canonical JSON (tables, keys, bounds, domains): what a database
        certificate names in place of a domain fingerprint."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- files --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"person": self.person, "provenance": self.provenance, "tables": {t.name: t.to_dict() for t in self.tables}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: str | Path | None = None) -> "Schema":
        """Parse a schema mapping; domain file paths are relative to ``base``."""
        if not isinstance(data, Mapping) or "tables" not in data or "person" not in data:
            raise DomainError("A schema is a mapping with 'person' (the privacy unit's table) and 'tables'.")
        tables = data["tables"]
        if not isinstance(tables, Mapping) or not tables:
            raise DomainError("Schema 'tables' must map table names to their declarations.")
        root = None if base is None else Path(base)
        return cls(tables=tuple(_table_from_dict(str(n), t, root) for n, t in tables.items()), person=str(data["person"]),
                   provenance=str(data.get("provenance", "declared")))

    @classmethod
    def from_file(cls, path: str | Path) -> "Schema":
        """Read a YAML or JSON schema; domain paths in it are relative to its folder."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No schema file at {str(path)!r}.")
        return cls.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), base=path.parent)

    def to_file(self, path: str | Path) -> Path:
        """Write the schema (domains inline) as YAML."""
        import yaml

        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        return path
