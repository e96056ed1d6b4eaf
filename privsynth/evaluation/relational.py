"""Fidelity and utility of a synthetic database: referential integrity, the number of children
per parent, child-attribute x parent-attribute marginals, and a train-on-synthetic task that
needs a join.

Example:
    >>> import privsynth as ps
    >>> real, schema = ps.datasets.make_bank(300, random_state=0)
    >>> referential_integrity(real, schema).rate
    1.0
    >>> cardinality_tvd(real, real, schema, "accounts")
    0.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain
from privsynth.evaluation.fidelity import marginal_tvd
from privsynth.relational.schema import Schema

__all__ = ["IntegrityResult", "referential_integrity", "cardinality_tvd", "cross_table_tvd", "join_features", "join_task_auc",
           "database_report"]

Database = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class IntegrityResult:
    """Share of foreign-key values that resolve (``rate``: the lowest over keys; ``by_key``:
    ``"table.column -> parent"`` -> share) and whether every primary key is unique."""

    rate: float
    by_key: dict = field(default_factory=dict)
    unique_primary_keys: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def referential_integrity(db: Database, schema: Schema) -> IntegrityResult:
    """Check every foreign key of ``db`` (parents and public references) against its target's keys."""
    by_key, unique = {}, True
    for spec in schema.tables:
        frame = db[spec.name]
        unique = unique and bool(frame[spec.primary_key].is_unique)
        for link in ((spec.parent,) if spec.parent else ()) + spec.references:
            target = db[link.references][schema[link.references].primary_key]
            values = frame[link.column]
            by_key[f"{spec.name}.{link.column} -> {link.references}"] = float(values.isin(target).mean()) if len(values) else 1.0
    return IntegrityResult(rate=min(by_key.values(), default=1.0), by_key=by_key, unique_primary_keys=unique)


def _children_per_parent(db: Database, schema: Schema, table: str) -> np.ndarray:
    link = schema.parent_link(table)
    parents = db[link.references][schema[link.references].primary_key]
    return db[table].groupby(link.column).size().reindex(parents.to_numpy(), fill_value=0).to_numpy()


def cardinality_tvd(real: Database, synth: Database, schema: Schema, table: str) -> float:
    """TVD between the real and synthetic distributions of the number of ``table`` rows per
    parent row (parents without children included)."""
    a, b = _children_per_parent(real, schema, table), _children_per_parent(synth, schema, table)
    top = int(max(a.max(initial=0), b.max(initial=0))) + 1
    pa = np.bincount(a, minlength=top) / max(len(a), 1)
    pb = np.bincount(b, minlength=top) / max(len(b), 1)
    return 0.5 * float(np.abs(pa - pb).sum())


def _joined(db: Database, schema: Schema, table: str) -> tuple[pd.DataFrame, Domain, list[str], list[str]]:
    """``table`` joined to its parent's attributes (named ``parent.column``), their domain, and
    the two lists of column names."""
    spec, link = schema[table], schema.parent_link(table)
    parent = schema[link.references]
    own_domain, parent_domain = spec.domain, parent.domain
    if own_domain is None or parent_domain is None:
        raise ValueError(f"Table {table!r} and its parent need domains.")
    renamed = {c.name: f"{parent.name}.{c.name}" for c in parent_domain}
    context = db[parent.name][[parent.primary_key, *renamed]].rename(columns={parent.primary_key: link.column, **renamed})
    joined = db[table].merge(context, on=link.column, how="inner")
    domain = Domain(tuple(own_domain.columns) + tuple(dataclasses.replace(c, name=renamed[c.name], role=None) for c in parent_domain))
    return joined, domain, list(own_domain.names), list(renamed.values())


def cross_table_tvd(real: Database, synth: Database, schema: Schema, table: str) -> float:
    """Average TVD over every (child attribute, parent attribute) 2-way marginal of ``table``
    joined to its parent, on the domains' public bins (:func:`~privsynth.evaluation.marginal_tvd`'s
    pairs that cross the two tables)."""
    rj, domain, own, parents = _joined(real, schema, table)
    sj, _, _, _ = _joined(synth, schema, table)
    per = marginal_tvd(rj[list(domain.names)], sj[list(domain.names)], domain, order=2).per_marginal
    crossing = [tvd for (a, b), tvd in per.items() if (a in own) != (b in own)]
    return float(np.mean(crossing)) if crossing else 0.0


def join_features(db: Database, schema: Schema, *, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """One row per person: their attributes (one-hot) and, per direct child table, the number of
    children and the share of each category of each categorical child column (numeric columns:
    the mean). ``target`` is a person column, returned separately."""
    person = schema[schema.person]
    frame = db[person.name].set_index(person.primary_key)
    y = frame[target]
    attrs = [c for c in (person.domain.names if person.domain is not None else ()) if c != target]
    parts = [pd.get_dummies(frame[attrs].astype(str), dtype=float)]
    for child in schema.children(person.name):
        link, spec = schema.parent_link(child), schema[child]
        rows = db[child]
        parts.append(rows.groupby(link.column).size().rename(f"{child}.n").to_frame())
        for col in (spec.domain.columns if spec.domain is not None else ()):
            if hasattr(col, "categories"):
                dummies = pd.get_dummies(rows[col.name].astype(str), prefix=f"{child}.{col.name}", dtype=float)
                parts.append(dummies.groupby(rows[link.column].to_numpy()).mean())
            else:
                parts.append(rows.groupby(link.column)[col.name].mean().rename(f"{child}.{col.name}").to_frame())
    features = pd.concat(parts, axis=1).reindex(frame.index).fillna(0.0)
    return features, y


def join_task_auc(train: Database, test: Database, schema: Schema, *, target: str, positive: Any,
                  random_state: int = 0) -> float:
    """Train a random forest on ``train``'s joined person features to predict ``target`` and
    report its ROC AUC on ``test`` (train on synthetic, test on real)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    xtr, ytr = join_features(train, schema, target=target)
    xte, yte = join_features(test, schema, target=target)
    xte = xte.reindex(columns=xtr.columns, fill_value=0.0)
    if (ytr == positive).nunique() < 2:
        return 0.5
    model = RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=random_state, n_jobs=1)
    model.fit(xtr.to_numpy(), (ytr == positive).to_numpy())
    return float(roc_auc_score((yte == positive).to_numpy(), model.predict_proba(xte.to_numpy())[:, 1]))


def database_report(real: Database, synth: Database, schema: Schema) -> dict[str, Any]:
    """Integrity, and per child table its cardinality TVD and cross-table 2-way TVD."""
    out: dict[str, Any] = {"integrity": referential_integrity(synth, schema).rate}
    for name in schema.private_order()[1:]:
        out[f"{name}.cardinality_tvd"] = cardinality_tvd(real, synth, schema, name)
        out[f"{name}.cross_tvd"] = cross_table_tvd(real, synth, schema, name)
    return out
