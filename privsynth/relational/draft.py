"""Drafting a schema from a folder of related tables (``privsynth profile FOLDER --related``).

Like :func:`privsynth.profile`, this reads private data to *propose* metadata, so everything it
writes is marked ``inferred`` and a model fitted on it carries an invalid certificate until a
person has checked it and declared it (``provenance: declared``):

* primary key: a column whose values are present and unique (named ``id``/``*_id`` first);
* foreign key: a column named like another table's primary key (else a ``*_id`` column naming
  that table) whose values all occur among that table's primary keys (inclusion);
* person table: the root table with the most tables below it; other roots are proposed as
  public reference tables -- they must hold no one's personal data, or the schema is wrong;
* ``max_per_parent``: the 95th percentile of children per parent (a bound read off the data:
  choose it from public knowledge instead);
* each table's domain: :func:`privsynth.profile`'s draft of its non-key columns.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np
import pandas as pd

from privsynth.core.domain import Categorical
from privsynth.core.errors import DomainError
from privsynth.profiling import profile
from privsynth.relational.schema import ForeignKey, Schema, TableSpec

__all__ = ["draft_schema"]


def _looks_like_key(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or lowered.endswith("id") and len(lowered) > 2


def _primary_key(name: str, frame: pd.DataFrame) -> str:
    unique = [c for c in frame.columns if frame[c].notna().all() and frame[c].is_unique]
    named = [c for c in unique if _looks_like_key(str(c))]
    if not named:
        raise DomainError(f"Table {name!r}: no column looks like its primary key (an id column with a value in every row, never "
                          "repeated); declare the schema by hand.")
    exact = [c for c in named if str(c).lower() in ("id", f"{name.lower().rstrip('s')}_id", f"{name.lower()}_id")]
    return str((exact or named)[0])


def draft_schema(frames: Mapping[str, pd.DataFrame], *, max_categories: int = 100) -> Schema:
    """Propose a :class:`Schema` (``provenance="inferred"``) for ``{table name: DataFrame}``.

    Example:
        >>> import privsynth as ps
        >>> tables, _ = ps.datasets.make_bank(200, random_state=0)
        >>> draft = draft_schema(tables)
        >>> draft.person, draft["transactions"].parent, draft.public_tables()
        ('customers', ForeignKey(column='account_id', references='accounts'), ('merchants',))
    """
    if len(frames) < 2:
        raise DomainError("Drafting a schema needs at least two tables.")
    keys = {name: _primary_key(name, frame) for name, frame in frames.items()}
    links: dict[str, list[ForeignKey]] = {name: [] for name in frames}
    for child, frame in frames.items():
        for column in frame.columns:
            if column == keys[child] or not _looks_like_key(str(column)):
                continue
            values = frame[column].dropna()
            named = [p for p in frames if p != child and keys[p] == column] or \
                [p for p in frames if p != child and p.lower().rstrip("s") in str(column).lower()]
            for target in named:  # integer keys overlap across tables: a name must point at the parent too
                if len(values) and values.isin(frames[target][keys[target]]).all():
                    links[child].append(ForeignKey(str(column), target))
                    break
    roots = [name for name in frames if not links[name]]
    if not roots:
        raise DomainError("Every table references another one: no table can hold the persons; declare the schema by hand.")

    def below(name: str, seen: frozenset = frozenset()) -> int:
        kids = [c for c, fks in links.items() if c not in seen and any(fk.references == name for fk in fks)]
        return len(kids) + sum(below(k, seen | {name}) for k in kids)

    person = max(roots, key=lambda r: (below(r), -roots.index(r)))
    public = set(roots) - {person}
    specs = []
    for name, frame in frames.items():
        if name in public:
            specs.append(TableSpec(name, keys[name], public=True))
            continue
        private = [fk for fk in links[name] if fk.references not in public]
        parent = private[0] if private else None
        references = tuple(fk for fk in links[name] if fk.references in public)
        key_columns = {keys[name], *(fk.column for fk in links[name] if fk in private[:1])}
        attributes = frame.drop(columns=[c for c in frame.columns if c in key_columns])
        domain = profile(attributes, max_categories=max_categories).domain
        if references:  # a reference column's categories are the public table's keys
            public_keys = {fk.column: tuple(sorted(frames[fk.references][keys[fk.references]].tolist())) for fk in references}
            domain = dataclasses.replace(domain, columns=tuple(
                Categorical(c.name, public_keys[c.name]) if c.name in public_keys else c for c in domain.columns))
        bound = None
        if parent is not None:
            counts = frame.groupby(parent.column).size()
            bound = max(1, int(math.ceil(float(np.quantile(counts.to_numpy(), 0.95)))))
        specs.append(TableSpec(name, keys[name], domain, parent=parent, max_per_parent=bound, references=references))
    return Schema(tuple(specs), person=person, provenance="inferred")
