"""What each table's model sees: its own attribute columns, the parent's context columns and
its counts of children -- all public metadata derived from the schema.

Example:
    >>> from privsynth.core.domain import Categorical
    >>> from privsynth.relational.schema import ForeignKey, Schema, TableSpec
    >>> people = Domain((Categorical("region", ("N", "S")),))
    >>> visits = Domain((Categorical("ward", ("A", "B")),))
    >>> s = Schema((TableSpec("people", "pid", people),
    ...             TableSpec("visits", "vid", visits, parent=ForeignKey("pid", "people"), max_per_parent=2)), person="people")
    >>> model_domain(s, "people").names, model_domain(s, "visits").names
    (('region', 'n_visits'), ('ward', 'people.region'))
"""

from __future__ import annotations

import dataclasses

from privsynth.core.domain import Domain, Ordinal
from privsynth.core.errors import DomainError
from privsynth.relational.schema import Schema, count_column

__all__ = ["context_columns", "model_domain"]


def context_columns(schema: Schema, name: str) -> dict[str, str]:
    """``{parent column: its name in the child's model}`` (``"<parent>.<column>"``)."""
    spec = schema[name]
    if spec.parent is None:
        return {}
    parent = spec.parent.references
    columns = spec.context if spec.context is not None else _domain_of(schema, parent).names
    return {c: f"{parent}.{c}" for c in columns}


def _domain_of(schema: Schema, name: str) -> Domain:
    domain = schema[name].domain
    if domain is None:
        raise DomainError(f"Table {name!r} is public: it has no model.")
    return domain


def model_domain(schema: Schema, name: str) -> Domain:
    """The public domain of table ``name``'s model: its attributes, the parent's context
    columns (roles cleared) and one ordinal count ``n_<child>`` in ``0..max_per_parent`` per child.

    Raises:
        DomainError: a table's domain was estimated with DP on the raw table (its charges were
            accounted per row, not per person).
    """
    spec, own = schema[name], _domain_of(schema, name)
    involved = [own] + ([_domain_of(schema, spec.parent.references)] if spec.parent is not None else [])
    if any(d.provenance == "dp" for d in involved):
        raise DomainError(f"Table {name!r}: a DP-estimated domain accounts its charges per record of one table, not per person "
                          "with linked rows; declare the related tables' domains (privsynth profile drafts them).")
    columns = list(own.columns)
    if spec.parent is not None:
        parent_domain = _domain_of(schema, spec.parent.references)
        columns += [dataclasses.replace(parent_domain[c], name=new, role=None) for c, new in context_columns(schema, name).items()]
    for child in schema.children(name):
        bound = int(schema[child].max_per_parent or 1)
        columns.append(Ordinal(count_column(child), tuple(range(bound + 1))))
    inferred = any(d.provenance == "inferred" for d in involved)
    return Domain(tuple(columns), provenance="inferred" if inferred else "declared", identifiers=own.identifiers,
                  rules=own.rules, source=own.source)
