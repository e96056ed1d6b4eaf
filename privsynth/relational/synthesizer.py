"""The relational synthesizer: a database with its keys intact, under person-level DP.

How it fits (every step's privacy argument in brackets):

1. Each child table is bounded to ``max_per_parent`` rows per parent row, the extra rows dropped
   uniformly at random with private randomness; one person then holds at most
   :meth:`Schema.rows_per_person` rows of each table [the public bound on a person's contribution].
2. The person table's model sees its attributes and, per child table, the number of kept
   children ``n_<child>`` (so how many children a person has depends on who they are); each
   child table's model sees its attributes, its parent's *context* columns and its own
   children's counts [one row per person in the person table; up to ``k`` rows per person below].
3. Every table is fitted by a counting synthesizer (MST by default) calibrated for one row, on a
   :class:`~privsynth.privacy.group.PersonLevelLedger`: each of its charges is first charged to the
   database ledger at person level (``k`` times the sensitivity), before any noise is drawn. The
   budget is split over the tables in zCDP (:mod:`privsynth.relational.budget`) and the whole
   database plan is checked against the database ledger before the first charge.
4. Sampling is post-processing: persons from the person model; for each child table, rows drawn
   from its model and attached to parents with the same context (:mod:`privsynth.relational.linking`),
   as many as each parent's count says; keys are generated, so every foreign key resolves.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, NotFittedError
from privsynth.core.io import write_bundle
from privsynth.core.rng import PrivateRandomness, resolve_rng
from privsynth.core.signing import KeyLike
from privsynth.data.relational import bound_contributions, check_keys, child_counts, frames_by_name, read_related, with_context
from privsynth.privacy.accountants import NEIGHBOURING_PERSON, get_accountant
from privsynth.privacy.budget import Budget, check_delta
from privsynth.privacy.certificate import Certificate
from privsynth.privacy.group import PersonLevelLedger
from privsynth.privacy.ledger import Ledger
from privsynth.relational.budget import database_rho, person_level_plan, row_epsilon, table_rhos
from privsynth.relational.layout import context_columns, model_domain
from privsynth.relational.linking import match_children
from privsynth.relational.schema import Schema, count_column
from privsynth.synthesizers.base import Synthesizer
from privsynth.synthesizers.forecast import NoiseDominatedWarning
from privsynth.synthesizers.names import synthesizer_class

__all__ = ["RelationalSynthesizer"]

#: Synthesizers whose releases are counts (their person-level accounting is a rescaling).
COUNTING = ("mst", "aim", "independent", "MST", "AIM", "IndependentMarginals")


class RelationalSynthesizer:
    """Synthesize a database of related tables under person-level DP.

    Args:
        epsilon: The database's budget: neighbouring databases differ by one person and every
            row linked to them.
        delta: Its delta (the tables' releases compose in zCDP, so it must be positive).
        synthesizer: The synthesizer of every table (a counting one: ``"mst"``, ``"aim"``,
            ``"independent"``), unless ``table_synthesizers`` names another for a table.
        table_synthesizers: ``{table: name}`` overrides.
        options: ``{table: {parameter: value}}`` passed to that table's synthesizer.
        accountant: The database ledger's accountant (``"rdp"``).
        pool_factor: When sampling, model rows drawn per child needed (more: closer matching of
            children to their parent's context).
        random_state: Secret seed of the private randomness (see :class:`~privsynth.core.rng.PrivateRandomness`).
        secure: Exact samplers on the OS CSPRNG for every private draw.

    Example:
        >>> import privsynth as ps
        >>> tables, schema = ps.datasets.make_bank(300, random_state=0)
        >>> model = RelationalSynthesizer(epsilon=1.0, random_state=0).fit(tables, schema)
        >>> db = model.sample(random_state=1)
        >>> bool(db["accounts"]["customer_id"].isin(db["customers"]["customer_id"]).all())
        True
        >>> ps.verify(model.certificate_).ok
        True
    """

    signed_by_: str | None = None

    def __init__(self, *, epsilon: float = 1.0, delta: float = 1e-6, synthesizer: str = "mst",
                 table_synthesizers: Mapping[str, str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
                 accountant: str = "rdp", pool_factor: float = 3.0, random_state: Any = None, secure: bool = False) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.synthesizer = synthesizer
        self.table_synthesizers = table_synthesizers
        self.options = options
        self.accountant = accountant
        self.pool_factor = pool_factor
        self.random_state = random_state
        self.secure = secure

    def public_params(self) -> dict[str, Any]:
        """Constructor parameters without the secret ``random_state``."""
        return {"epsilon": float(self.epsilon), "delta": float(self.delta), "synthesizer": self.synthesizer,
                "table_synthesizers": dict(self.table_synthesizers or {}),
                "options": {t: dict(o) for t, o in (self.options or {}).items()}, "accountant": self.accountant,
                "pool_factor": float(self.pool_factor), "secure": bool(self.secure)}

    def __repr__(self) -> str:
        return f"RelationalSynthesizer({', '.join(f'{k}={v!r}' for k, v in self.public_params().items())})"

    def _table_synthesizer(self, schema: Schema, name: str, index: int, randomness: PrivateRandomness) -> Synthesizer:
        choice = (self.table_synthesizers or {}).get(name, self.synthesizer)
        cls = synthesizer_class(choice)
        if schema.rows_per_person(name) > 1 and choice not in COUNTING:
            raise DomainError(f"Table {name!r} lets a person hold up to {schema.rows_per_person(name)} rows; its synthesizer must "
                              f"release counts only (mst, aim, independent) for person-level accounting, not {choice!r}.")
        extra = dict((self.options or {}).get(name, {}))
        seed = randomness.integer_seed("tables", index) if randomness.seeded else None
        return cls(**{**extra, "epsilon": 1.0, "delta": self.delta, "accountant": self.accountant, "random_state": seed,
                      "secure": self.secure})

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, tables: Any, schema: Schema | str | Path) -> "RelationalSynthesizer":
        """Fit on a database: ``tables`` maps each table's name to a DataFrame or a CSV/Parquet
        path (or is a folder of ``<table>.csv``/``.parquet`` files); ``schema`` is a
        :class:`Schema` or its YAML file.

        Raises:
            DomainError: a table does not conform to its domain or lacks key columns.
            IntegrityError: a primary key repeats or a foreign key does not resolve.
            BudgetExceededError: the tables' plans do not fit the budget (nothing is charged).
        """
        schema = schema if isinstance(schema, Schema) else Schema.from_file(schema)
        if not (isinstance(self.pool_factor, (int, float)) and self.pool_factor >= 1):
            raise ValueError(f"pool_factor must be a number >= 1, got {self.pool_factor!r}.")
        check_delta(self.delta, allow_large_delta=False, what="RelationalSynthesizer: delta")  # before any record is read
        accountant = get_accountant(self.accountant)
        rho = database_rho(epsilon=self.epsilon, delta=self.delta, accountant=accountant)
        order = schema.private_order()

        def reader(name: str, source: Any) -> pd.DataFrame:
            spec = schema[name]
            keys = (spec.primary_key, *((spec.parent.column,) if spec.parent else ()))
            return read_related(source, spec.domain, keys, table=name)

        frames = frames_by_name(tables, schema.names, reader)
        self._check_references(schema, frames)
        randomness = PrivateRandomness(self.random_state, secure=self.secure)
        kept = self._bounded(schema, frames, randomness)
        models = {name: self._table_synthesizer(schema, name, i, randomness) for i, name in enumerate(order)}
        domains = {name: model_domain(schema, name) for name in order}
        rhos = table_rhos({name: schema[name].share for name in order}, rho)
        row_eps = {name: row_epsilon(models[name], domains[name], rho=rhos[name], group_size=schema.rows_per_person(name),
                                     accountant=accountant) for name in order}
        database = Ledger(Budget(epsilon=float(self.epsilon), delta=float(self.delta)), accountant=accountant)
        plan = [e for name in order for e in person_level_plan(models[name], domains[name], accountant, schema.rows_per_person(name))]
        database.check_plan(plan, what="RelationalSynthesizer.fit")  # the whole database, before the first charge
        for name in order:
            ledger = PersonLevelLedger(database, group_size=schema.rows_per_person(name), table=name, accountant=accountant,
                                       budget=Budget(epsilon=row_eps[name], delta=float(self.delta)))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NoiseDominatedWarning)
                models[name].fit(self._model_frame(schema, name, kept), domains[name], ledger=ledger)
            for w in caught:  # say which table, and why its epsilon is small
                message = str(w.message)
                if issubclass(w.category, NoiseDominatedWarning):
                    message = (f"table {name!r} (up to {schema.rows_per_person(name)} rows per person, so its row-level epsilon is "
                               f"the person-level share over that): {message} Or lower its max_per_parent, or raise its share.")
                warnings.warn(message, w.category, stacklevel=2)
        self.schema_, self.models_ = schema, models
        self.public_tables_ = {name: frames[name].reset_index(drop=True) for name in schema.public_tables()}
        self.n_hat_ = int(models[schema.person].n_hat_)
        self.certificate_ = self._certify(database, schema, row_eps, randomness)
        return self

    @staticmethod
    def _check_references(schema: Schema, frames: dict[str, pd.DataFrame]) -> None:
        """Each reference column's categories must be keys of its public table; a public table's
        keys read as text from a CSV take the categories' types, so released keys join."""
        for spec in schema.tables:
            for ref in spec.references:
                column = spec.domain[ref.column] if spec.domain is not None else None
                categories = {str(c): c for c in getattr(column, "categories", ())}
                target, pk = frames[ref.references], schema[ref.references].primary_key
                if not categories or not set(categories) <= {str(k) for k in target[pk]}:
                    raise DomainError(f"Table {spec.name!r}: the categories of {ref.column!r} must be keys of the public table "
                                      f"{ref.references!r}.")
                frames[ref.references] = target.assign(**{pk: [categories.get(str(k), k) for k in target[pk]]})

    @staticmethod
    def _bounded(schema: Schema, frames: Mapping[str, pd.DataFrame], randomness: PrivateRandomness) -> dict[str, pd.DataFrame]:
        """The rows kept per table: all persons, then at most ``max_per_parent`` children per kept
        parent, and at most ``max_per_person`` per person where a table declares it."""
        person = schema[schema.person]
        check_keys(frames[person.name], table=person.name, primary_key=person.primary_key)
        kept = {person.name: frames[person.name]}
        owner = {person.name: frames[person.name][person.primary_key]}  # each kept row's person, aligned with kept
        for i, name in enumerate(schema.private_order()[1:], start=1):
            spec = schema[name]
            link = schema.parent_link(name)
            parent = schema[link.references]
            check_keys(frames[name], table=name, primary_key=spec.primary_key, parent_key=link.column,
                       parent_keys=frames[parent.name][parent.primary_key])
            rows = bound_contributions(frames[name], parent_key=link.column, kept_parents=kept[parent.name][parent.primary_key],
                                       bound=int(spec.max_per_parent or 1),
                                       rng=None if randomness.secure else randomness.generator("bound", i))
            persons = rows[link.column].map(pd.Series(owner[parent.name].to_numpy(), index=kept[parent.name][parent.primary_key]))
            if spec.max_per_person is not None:
                rows = bound_contributions(rows.assign(_person=persons), parent_key="_person", kept_parents=persons,
                                           bound=int(spec.max_per_person),
                                           rng=None if randomness.secure else randomness.generator("bound", i, 1))
                persons = rows.pop("_person")
            kept[name], owner[name] = rows, persons
        return kept

    @staticmethod
    def _model_frame(schema: Schema, name: str, kept: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        spec = schema[name]
        frame = kept[name]
        for child in schema.children(name):
            fk = schema.parent_link(child).column
            frame = frame.assign(**{count_column(child): child_counts(frame[spec.primary_key], kept[child], fk)})
        if spec.parent is not None:
            parent = schema[spec.parent.references]
            frame = with_context(frame, kept[parent.name], parent_key=spec.parent.column, parent_primary=parent.primary_key,
                                 columns=context_columns(schema, name))
        return frame[list(model_domain(schema, name).names)]

    def _certify(self, database: Ledger, schema: Schema, row_eps: Mapping[str, float], randomness: PrivateRandomness) -> Certificate:
        tables = {name: {"synthesizer": type(m).__name__, "rows_per_person": schema.rows_per_person(name),
                         "row_level_epsilon": row_eps[name], "share": schema[name].share,
                         "row_level_entries": [e.to_dict() for e in m.certificate_.entries]}
                  for name, m in self.models_.items()}
        inferred = schema.provenance == "inferred" or any(m.domain_.provenance == "inferred" for m in self.models_.values())
        cert = Certificate.from_ledger(
            database, synthesizer=type(self).__name__, neighbouring=NEIGHBOURING_PERSON,
            parameters={**self.public_params(), "person_table": schema.person, "tables": tables},
            assumptions=(
                f"neighbouring databases differ by one person (a row of {schema.person!r}) and every row linked to them",
                *(f"at most {schema[n].max_per_parent} rows of {n!r} per {schema.parent_link(n).references!r} row"
                  + (f" and {schema[n].max_per_person} per person" if schema[n].max_per_person is not None
                     else f" ({schema.rows_per_person(n)} per person)") + ", the rest dropped at random before fitting"
                  for n in schema.private_order()[1:]),
                "each table's releases are accounted at k times their sensitivity for k rows per person (group scaling of "
                "counts and of exponential-mechanism scores)",
                *(f"table {t!r} is public reference data, released as given" for t in schema.public_tables()),
                *randomness.assumptions(),  # a seeded fit says its seed is a secret key, as every table's certificate does
            ),
        )
        return dataclasses.replace(cert, domain_fingerprint=schema.fingerprint(),
                                   domain_provenance="inferred" if inferred else "declared", valid=cert.valid and not inferred)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int | None = None, *, random_state: Any = None) -> dict[str, pd.DataFrame]:
        """A synthetic database: ``n`` persons (default: the DP estimate ``n_hat_``) and their
        linked rows; keys are 1, 2, ... per table and every foreign key resolves. Public tables
        are returned as given. Post-processing: no privacy cost.
        """
        if not hasattr(self, "certificate_"):
            raise NotFittedError("This RelationalSynthesizer is not fitted yet; call fit(tables, schema) first.")
        n = self.n_hat_ if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        schema, rng = self.schema_, resolve_rng(random_state)
        streams = dict(zip(schema.private_order(), rng.spawn(len(schema.private_order()))))
        person = schema[schema.person]
        rows = {person.name: self.models_[person.name].sample(int(n), random_state=streams[person.name])}
        out = {person.name: _with_keys(rows[person.name], self.models_[person.name].domain_, person.primary_key, None, None,
                                       schema[person.name].domain)}
        for name in schema.private_order()[1:]:
            spec, link = schema[name], schema.parent_link(name)
            parent = schema[link.references]
            parents = rows[parent.name]
            demand = parents[count_column(name)].to_numpy(dtype=np.int64)
            context = context_columns(schema, name)
            total = int(demand.sum())
            pool = self.models_[name].sample(int(math.ceil(self.pool_factor * total)), random_state=streams[name])
            who, picked = match_children(parents[list(context)].rename(columns=context), demand, pool, list(context.values()),
                                         streams[name])
            rows[name] = pool.iloc[picked].reset_index(drop=True)
            parent_ids = out[parent.name][parent.primary_key].to_numpy()[who]
            out[name] = _with_keys(rows[name], self.models_[name].domain_, spec.primary_key, link.column, parent_ids, spec.domain)
        for name, frame in self.public_tables_.items():
            out[name] = frame.copy()
        return {name: out[name] for name in schema.names}

    # -- files -----------------------------------------------------------------------------------
    def save(self, path: str | Path, *, sign_key: KeyLike | None = None) -> Path:
        """Write the database model to one pickle-free file (layout: :mod:`privsynth.relational.model_file`;
        read it back with :func:`privsynth.relational.load`)."""
        if not hasattr(self, "certificate_"):
            raise NotFittedError("Fit the RelationalSynthesizer before saving it.")
        tables, arrays = {}, {}
        for name, synth in self.models_.items():
            state, table_arrays = synth._state()
            tables[name] = {"class": type(synth).__name__, "params": synth.public_params(), "state": state,
                            "state_version": type(synth).state_version, "certificate": synth.certificate_.to_dict(),
                            "domain": synth.domain_.to_dict()}
            arrays.update({f"{name}/{key}": value for key, value in table_arrays.items()})
        public = {name: {"columns": [str(c) for c in frame.columns],
                         "data": [[_plain(v) for v in row] for row in frame.itertuples(index=False)]}
                  for name, frame in self.public_tables_.items()}
        document = {"class": type(self).__name__, "params": self.public_params(), "schema": self.schema_.to_dict(),
                    "n_hat": self.n_hat_, "tables": tables, "public": public}
        return write_bundle(path, documents={"model": document, "certificate": self.certificate_.to_dict()}, arrays=arrays,
                            sign_key=sign_key)


def _plain(value: Any) -> Any:
    """A JSON value for a public table's cell."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _with_keys(rows: pd.DataFrame, model: Domain, primary_key: str, parent_key: str | None, parent_ids: Any,
               own: Domain | None) -> pd.DataFrame:
    """A released table: generated primary keys, the parent's keys, the table's own columns."""
    columns = list(own.names) if own is not None else list(model.names)
    out = pd.DataFrame({primary_key: np.arange(1, len(rows) + 1, dtype=np.int64)})
    if parent_key is not None:
        out[parent_key] = np.asarray(parent_ids)
    return pd.concat([out, rows[columns].reset_index(drop=True)], axis=1)
