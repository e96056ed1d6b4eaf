"""Database model files and the database certificate's recomputation.

A database model is one model file (:mod:`privsynth.core.io`: a zip of JSON documents and one
``.npz``, sha256 manifest, optional Ed25519 signature):

* ``model.json``: ``{"class": "RelationalSynthesizer", "params", "schema", "tables": {name:
  {"class", "params", "state", "state_version", "certificate", "domain"}}, "public": {name:
  {"columns", "data"}}}`` -- each table's fitted synthesizer as a single-table model file would
  hold it, with its row-level certificate and its model's domain; public tables as given;
* ``certificate.json``: the database certificate (person level);
* ``arrays.npz``: each table's arrays under ``"<table>/<name>"``.

:func:`verify_database` recomputes the database certificate from the tables' row-level entries:
each scaled to person level with the table's ``rows_per_person`` must be exactly what the
database ledger recorded, and the events must compose to the claimed spend.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, IntegrityError
from privsynth.core.io import open_bundle
from privsynth.core.signing import KeyLike, check_signature
from privsynth.privacy.accountants import NEIGHBOURING_PERSON
from privsynth.privacy.budget import MAX_DELTA
from privsynth.privacy.certificate import Certificate, check_policy, verify
from privsynth.privacy.events import event_from_dict
from privsynth.privacy.group import person_level_event
from privsynth.relational.layout import model_domain
from privsynth.relational.schema import Schema
from privsynth.relational.synthesizer import RelationalSynthesizer
from privsynth.synthesizers.model_file import restore_model
from privsynth.synthesizers.names import synthesizer_class

__all__ = ["load", "verify_database", "DatabaseVerification", "is_database_model"]


def is_database_model(path: str | Path) -> bool:
    """Whether a model file holds a database model (a peek at its ``model.json`` to choose the
    loader; the loader then verifies the whole file)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("model.json")).get("class") == "RelationalSynthesizer"
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False  # the single-table loader says what is wrong with the file


def load(path: str | Path, *, trusted_keys: Sequence[KeyLike] | None = None, max_epsilon: float | None = None,
         max_delta: float | None = MAX_DELTA, require_valid: bool = False) -> RelationalSynthesizer:
    """Load a database model written by :meth:`RelationalSynthesizer.save`, verifying it first
    (hashes, signature policy, the database certificate recomputed from the tables' own entries,
    every table's domain against the schema). Arguments as for :func:`privsynth.load`.

    Raises:
        IntegrityError: corrupt, tampered with, not a database model, or inconsistent.
        TrustError: the file fails the trust policy.
    """
    what = f"Database model {str(path)!r}"
    bundle = open_bundle(path)
    signer = check_signature(bundle.manifest, bundle.signature, trusted_keys, what=what)
    documents, arrays = bundle.documents, bundle.arrays
    document = documents.get("model", {})
    if document.get("class") != "RelationalSynthesizer":
        raise IntegrityError(f"{what} does not hold a database model; load a single-table model with privsynth.load(path).")
    try:
        certificate = Certificate.from_dict(documents["certificate"])
        schema = Schema.from_dict(document["schema"])
        params = {k: v for k, v in document["params"].items() if k in RelationalSynthesizer.__init__.__code__.co_varnames}
    except (KeyError, DomainError, AttributeError) as exc:
        raise IntegrityError(f"{what} is malformed: {exc}") from None
    check_policy(certificate, max_epsilon=max_epsilon, max_delta=max_delta, require_valid=require_valid, what=what)
    if certificate.domain_fingerprint != schema.fingerprint():
        raise IntegrityError(f"{what}: its schema does not match the fingerprint in its certificate.")
    described = certificate.parameters.get("tables") or {}
    for name in schema.private_order():  # the bounds the accounting used must be the schema's own
        if not isinstance(described.get(name), dict) or described[name].get("rows_per_person") != schema.rows_per_person(name):
            raise IntegrityError(f"{what}: its certificate accounts table {name!r} at other rows per person than its schema "
                                 f"({schema.rows_per_person(name)}).")
    model = RelationalSynthesizer(**params)
    models = {}
    for name in schema.private_order():
        try:
            entry = document["tables"][name]
            table_cert = Certificate.from_dict(entry["certificate"])
            domain = Domain.from_dict(entry["domain"])
        except (KeyError, DomainError, TypeError) as exc:
            raise IntegrityError(f"{what}: table {name!r} is missing or malformed ({exc}).") from None
        if domain != model_domain(schema, name) or table_cert.domain_fingerprint != domain.fingerprint():
            raise IntegrityError(f"{what}: table {name!r}'s model domain does not follow from the schema.")
        prefix = f"{name}/"
        own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        models[name] = restore_model(synthesizer_class(entry["class"]), entry, domain, own, table_cert, what=f"{what}, table {name!r}")
    model.schema_, model.models_, model.certificate_ = schema, models, certificate
    model.public_tables_ = {name: pd.DataFrame(t["data"], columns=t["columns"]) for name, t in document.get("public", {}).items()}
    model.n_hat_ = int(document.get("n_hat", models[schema.person].n_hat_))
    model.signed_by_ = signer
    result = verify_database(certificate, tables={n: m.certificate_ for n, m in models.items()})
    if not result.ok:
        raise IntegrityError(f"{what}: its database certificate does not recompute: {'; '.join(result.problems)}.")
    return model


@dataclass(frozen=True)
class DatabaseVerification:
    """The outcome of :func:`verify_database`: ``ok`` and the problems found."""

    ok: bool
    epsilon: float
    problems: tuple[str, ...]


def verify_database(certificate: Certificate, *, tables: dict[str, Certificate] | None = None) -> DatabaseVerification:
    """Recompute a database certificate: the person-level relation, the spend composed from its
    events (:func:`privsynth.verify`), and its events equal to every table's row-level entries
    taken to person level with the table's ``rows_per_person`` (read from the certificate's
    parameters, or from the tables' own certificates when given).

    Example:
        >>> import privsynth as ps
        >>> tables, schema = ps.datasets.make_bank(200, random_state=0)
        >>> model = RelationalSynthesizer(epsilon=1.0, random_state=0).fit(tables, schema)
        >>> verify_database(model.certificate_).ok
        True
    """
    problems: list[str] = []
    if certificate.neighbouring != NEIGHBOURING_PERSON:
        problems.append(f"neighbouring relation is {certificate.neighbouring!r}, not {NEIGHBOURING_PERSON!r}")
    check = verify(certificate)
    problems.extend(check.problems)
    described = certificate.parameters.get("tables")
    if not isinstance(described, dict) or not described:
        problems.append("the certificate lists no tables")
        return DatabaseVerification(False, check.recomputed_epsilon, tuple(problems))
    expected: Counter = Counter()
    for name, info in described.items():
        try:
            k = int(info["rows_per_person"])
            if tables is not None and name in tables:
                rows = [e.event for e in tables[name].entries]
                if [e.to_dict()["event"] for e in tables[name].entries] != [e["event"] for e in info["row_level_entries"]]:
                    problems.append(f"table {name!r}: its own certificate and the database's record of it differ")
            else:
                rows = [event_from_dict(e["event"]) for e in info["row_level_entries"]]
            expected.update(person_level_event(e, k) for e in rows)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"table {name!r}: cannot recompute its person-level events ({exc})")
    if expected != Counter(e.event for e in certificate.entries):
        problems.append("the database's events are not the tables' row-level events at their person-level sensitivity")
    return DatabaseVerification(not problems, check.recomputed_epsilon, tuple(problems))
