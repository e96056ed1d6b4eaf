"""``privsynth profile --related``, ``fit --schema`` and ``sample`` for database models (related tables)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from privsynth.cli_support import EXIT_FAILED, EXIT_OK, existing, warn
from privsynth.core.io import file_sha256
from privsynth.relational.model_file import is_database_model

__all__ = ["fit_database", "sample_database", "profile_database", "is_database_model"]


def fit_database(args: argparse.Namespace) -> int:
    from privsynth.core.errors import IdentifierWarning
    from privsynth.relational import RelationalSynthesizer, Schema

    existing(args.schema, "schema file")
    existing(args.data, "folder of tables", folder_ok=True)
    if not Path(args.data).is_dir():
        raise ValueError(f"--data {args.data!r}: with --schema, give a folder holding one <table>.csv or <table>.parquet per table.")
    schema = Schema.from_file(args.schema)
    params = {} if args.delta is None else {"delta": args.delta}
    model = RelationalSynthesizer(epsilon=args.epsilon, synthesizer=args.synthesizer or "mst", accountant=args.accountant,
                                  random_state=args.seed, secure=args.secure, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentifierWarning)
        model.fit(args.data, schema)
    path = model.save(args.out, sign_key=args.sign_key)
    print(model.certificate_.summary())
    print(f"database model written to {path} (sha256 {file_sha256(path)}); tables: {', '.join(schema.names)}")
    return _invalid(model.certificate_, args, what=f"the database model {path}")


def sample_database(args: argparse.Namespace) -> int:
    from privsynth.relational import load

    model = load(args.model, trusted_keys=args.trusted_key, max_epsilon=args.max_epsilon, max_delta=args.max_delta)
    if not model.certificate_.valid and not args.allow_invalid:
        _invalid(model.certificate_, args, what=f"the database model {args.model}")
        return EXIT_FAILED
    out = Path(args.out)
    if out.suffix:
        raise ValueError(f"--out {args.out!r}: a database model writes one file per table into a folder; name a folder.")
    out.mkdir(parents=True, exist_ok=True)
    db = model.sample(args.n, random_state=args.seed)
    files = {}
    for name, frame in db.items():
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False)
        files[name] = {"file": path.name, "sha256": file_sha256(path), "rows": len(frame)}
    release = {"tables": files, "model": Path(args.model).name, "model_sha256": file_sha256(args.model), "sample_seed": args.seed,
               "persons": len(db[model.schema_.person])}
    cert_path = model.certificate_.to_file(out / "database.certificate.json", release=release, sign_key=args.sign_key)
    sizes = ", ".join(f"{name} {len(frame)}" for name, frame in db.items())
    print(f"synthetic database written to {out} ({sizes}); certificate to {cert_path}")
    return _invalid(model.certificate_, args, what=f"the release {out}")


def _invalid(cert, args: argparse.Namespace, *, what: str) -> int:  # noqa: ANN001 - a Certificate
    if cert.valid:
        return EXIT_OK
    warn(f"the certificate of {what} is INVALID: no DP guarantee (a domain or the schema was inferred from the data). Declare "
         "them from public knowledge and refit; --allow-invalid accepts it for exploration.")
    return EXIT_OK if args.allow_invalid else EXIT_FAILED


def profile_database(args: argparse.Namespace) -> int:
    """``privsynth profile FOLDER --related --out schema.yaml``: a draft schema with each table's draft domain."""
    from privsynth.data import read_raw
    from privsynth.relational.draft import draft_schema

    folder = Path(args.data)
    if not folder.is_dir():
        raise ValueError(f"{args.data!r}: with --related, give a folder holding one .csv or .parquet file per table.")
    if args.dp:
        raise ValueError("--related drafts a schema for you to check and declare; DP estimation of related tables' domains is not "
                         "supported (their charges would be per record, not per person). Drop --dp.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".parquet", ".pq"))
    frames = {p.stem: read_raw(p, encoding=args.encoding, sep=args.sep, na_values=args.na_values or ()) for p in files}
    schema = draft_schema(frames, max_categories=args.max_categories)
    out = Path(args.out)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"--out {args.out!r}: a schema draft is written as YAML (.yaml).")
    schema.to_file(out)
    print(f"draft schema of {len(frames)} tables written to {out} (provenance: inferred): person table {schema.person!r}; "
          + "; ".join(f"{t.name}: key {t.primary_key}" + (f", parent {t.parent.references} via {t.parent.column}, "
                                                          f"max_per_parent {t.max_per_parent}" if t.parent else "")
                      + (" (public reference table)" if t.public else "") for t in schema.tables))
    warn("the draft was read off the private data: check every key, bound and category, choose max_per_parent from public "
         "knowledge, mark public tables only if they hold no one's data, then set provenance: declared.")
    return EXIT_OK
