"""The ``privsynth`` command: profile, fit, sample, compare, certificate, verify, bench, forecast, keygen, serve, demo, report.

Exit codes, the same for every command: 0 success; 1 a certificate or model file failed
verification or the trust policy (corrupt or tampered, unsigned, untrusted signer, over
``--max-epsilon`` / ``--max-delta``), or a fit/sample whose certificate is not valid (without
``--allow-invalid``); 2 bad arguments or bad input, one clear line and no traceback: a missing
or unreadable file, a folder where a file belongs, an unknown encoding or output format, a busy
or impossible port, data that do not fit the domain, or a column that looks like a direct
identifier (without ``--allow-identifiers``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from privsynth.cli_args import build_parser
from privsynth.cli_forecast import cmd_forecast
from privsynth.cli_relational import fit_database, is_database_model, profile_database, sample_database
from privsynth.cli_support import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Failure, existing, key_id_of, port_free, read_document, warn
from privsynth.cli_verify import cmd_verify
from privsynth.core.domain import Domain, Numeric
from privsynth.core.errors import IntegrityError, PrivsynthError
from privsynth.core.io import file_sha256
from privsynth.graphical.sampling import SAMPLERS


def _cmd_fit(args: argparse.Namespace) -> int:
    from privsynth.core.errors import IdentifierWarning
    from privsynth.synthesizers import synthesizer_class
    from privsynth.synthesizers._public_domain import identifier_message, suspected_identifiers

    if args.schema is not None:
        if args.domain is not None:
            raise ValueError("--schema declares each table's domain; drop --domain.")
        return fit_database(args)
    if args.domain is None:
        raise ValueError("give the public domain of the table (--domain file.yaml), or --schema for related tables.")
    domain = Domain.from_file(args.domain)
    cls = synthesizer_class(args.synthesizer or "privbayes")
    data = _open_source(args, domain, bins=getattr(cls(), "bins", None))
    found = suspected_identifiers(data, domain)
    if found and not args.allow_identifiers:
        raise IdentifierRefusal(identifier_message(found, what="refusing to fit")
                                 + " Or pass --allow-identifiers if you are sure.")
    epsilon = args.epsilon
    if args.dp_preprocess and args.secure:
        raise ValueError("--dp-preprocess has no --secure mode: its noise comes from numpy generators, not the exact samplers "
                         "on the OS CSPRNG that --secure promises; drop one of them (the certificate states how the domain's "
                         "noise was drawn either way).")
    if args.dp_preprocess:  # the domain it returns carries its charges: the fit's certificate covers all of --epsilon
        from privsynth.profiling.dp_preprocess import dp_preprocess

        domain, epsilon = dp_preprocess(data, domain, epsilon=args.epsilon, steps=args.dp_preprocess, share=args.preprocess_share,
                                        accountant=args.accountant, random_state=args.seed)
        data = data.reopened(domain, clip=args.clip)
    params = {} if args.delta is None else {"delta": args.delta}  # default: the synthesizer's own (0, 1e-9 or 1e-5)
    if "progress" in cls._param_names():
        params["progress"] = False if args.quiet else args.progress
    synth = cls(epsilon=epsilon, accountant=args.accountant, random_state=args.seed, secure=args.secure, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentifierWarning)  # already checked above
        synth.fit(data, domain, allow_large_delta=args.allow_large_delta)
    path = synth.save(args.out, sign_key=args.sign_key)
    print(synth.certificate_.summary())
    signed = f", signed by {key_id_of(args.sign_key)}" if args.sign_key else ""
    print(f"model written to {path} (sha256 {file_sha256(path)}{signed})")
    return _invalid_exit(synth.certificate_, args, what=f"the model {path}")


def _open_source(args: argparse.Namespace, domain: Domain, *, bins: int | None) -> Any:
    """The records of ``--data`` as a Table, read by ``--engine`` and validated in the engine
    (a DataFrame path for a CSV in memory, DuckDB for files, Spark for ``spark:`` names)."""
    from privsynth.core.domain import DEFAULT_BINS
    from privsynth.data import open_table

    options: dict[str, Any] = {"na_values": args.na_values or (), "sep": args.sep, "encoding": args.encoding,
                               "memory_limit": args.memory_limit, "progress": False if args.quiet else args.progress}
    if args.engine == "spark" or args.data.startswith("spark:"):
        from privsynth.data.engine_spark import spark_session

        options["spark"] = spark_session(args.spark_master)
    elif "://" not in args.data and not any(ch in args.data for ch in "*?["):
        existing(args.data, "data file", folder_ok=True)
    table = open_table(args.data, domain, engine=args.engine, clip=args.clip, **options)
    table.check(bins=bins or DEFAULT_BINS)
    return table


class IdentifierRefusal(Exception):
    """Data hold a column that looks like a direct identifier (exit 2)."""


def _invalid_exit(cert, args: argparse.Namespace, *, what: str) -> int:
    """Exit 1 with a warning line for an invalid certificate, unless ``--allow-invalid``."""
    if cert.valid:
        return EXIT_OK
    reasons = "; ".join(cert.leaks) or ("the domain was read off the data (provenance: inferred)"
                                        if cert.domain_provenance == "inferred" else "see the certificate")
    warn(f"the certificate of {what} is INVALID: no DP guarantee ({reasons}). Declare the domain from public knowledge "
          "(or estimate it with `privsynth profile --dp`) and refit; --allow-invalid accepts it for exploration.")
    return EXIT_OK if args.allow_invalid else EXIT_FAILED


#: Records of a table in DuckDB that the console's identifier warning (after a DP estimation) reads.
_IDENTIFIER_SAMPLE = 20_000


def _cmd_profile(args: argparse.Namespace) -> int:
    import pandas as pd

    from privsynth.profiling import detect_identifiers, estimate_domain, profile, read_raw
    from privsynth.profiling.dp_domain import parse_kinds, schema_kinds
    from privsynth.profiling.profile import role_from_name

    if args.related:
        return profile_database(args)
    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".md"):
        raise ValueError(f"--report {args.report!r}: the report is written as .html or .md; name it accordingly.")
    if args.kinds and not args.dp:
        raise ValueError("--kinds declares column kinds for the DP estimation (--dp); the draft reads them off the data.")
    parquet = Path(args.data).suffix.lower() in (".parquet", ".pq")
    in_engine = args.engine == "duckdb" or (args.engine == "auto" and (parquet or Path(args.data).is_dir()
                                                                       or args.data.startswith("duckdb://")))
    source = None
    if in_engine:  # DuckDB reads the file: a sample for the draft, the DP statistics in the engine
        from privsynth.data.engine_duckdb import DuckDBSource
        from privsynth.data.files import type_numbers

        if "://" not in args.data:
            existing(args.data, "data file", folder_ok=True)
        source = DuckDBSource(args.data, na_values=args.na_values or (), sep=args.sep, encoding=args.encoding)
        rows = _IDENTIFIER_SAMPLE if args.dp else args.sample_rows
        data = source.sample(rows)
        data = type_numbers(data) if source.text and not args.dp else data
    else:
        data = read_raw(args.data, encoding=args.encoding, sep=args.sep, na_values=args.na_values or (), typed=not args.dp)
    missing = [c for c in args.exclude or () if c not in data.columns]
    if missing:
        raise ValueError(f"--exclude names columns not in {args.data}: {missing}; it has {list(data.columns)}.")
    data = data.drop(columns=list(args.exclude or ()))
    if not args.dp:
        prof = profile(data, max_categories=args.max_categories)
        prof.write_yaml(args.out)
        print(prof.table()[["column", "kind", "role", "missing_rate", "distinct", "detected"]].to_string(index=False))
        for cp in prof.columns:
            d = cp.detection
            if cp.name in prof.domain.identifiers:
                what = f"{d.label} (confidence {d.confidence:.2f}; {'; '.join(d.regulations)})" if d else "no detection"
                why = "" if d and d.direct else f"; {cp.distinct} distinct values, too many for a category"
                print(f"IDENTIFIER {cp.name!r}: {what}{why} -> role: identifier, dropped from synthesis")
        if args.report:
            print(f"report written to {prof.write_report(args.report)} (it describes the private data: keep it private)")
        print(f"draft domain written to {args.out} (provenance: inferred -- certificates on it are INVALID until you "
              "replace bounds and categories by public knowledge and set provenance: declared, or use --dp)")
        return EXIT_OK
    if args.epsilon is None:
        raise ValueError("--dp needs --epsilon (the budget of the domain estimation, e.g. --epsilon 0.2).")
    if args.report:
        raise ValueError("--report describes the private data and is not DP; run without --dp for a report.")
    roles = {str(c): r for c in data.columns if (r := role_from_name(str(c)))}  # names only: no value is looked at
    if source is not None:
        from privsynth.data.column_stats import DuckDBStats

        stats: Any = DuckDBStats(source)
        declared = stats.schema_kinds()  # a Parquet or database schema is declared; a CSV's is not
    else:
        stats, declared = data, (schema_kinds(data) if parquet else {})
    kinds = {**declared, **parse_kinds(_kinds_spec(args.kinds))}
    domain = estimate_domain(stats, exclude=tuple(args.exclude or ()), epsilon=args.epsilon, delta=args.delta, roles=roles,
                             accountant=args.accountant, kinds=kinds,
                             random_state=args.seed, secure=args.secure, allow_large_delta=args.allow_large_delta)
    domain.to_file(args.out)
    by_name = [c for c in domain.identifiers if c not in domain.estimation.get("dropped", ())]
    print(f"DP domain written to {args.out}: {len(domain)} columns, identifiers by name {by_name}; "
          f"spent epsilon={domain.estimation['epsilon']:.4g} delta={domain.estimation['delta']:.3g}, charged again by "
          "every fit on it (its certificate covers both)")
    if domain.estimation.get("dropped"):
        print(f"dropped {domain.estimation['dropped']}: no value of theirs was released (identifiers, dates, free text); "
              "listed as identifiers, never synthesized")
    for col in domain:
        if isinstance(col, Numeric):
            print(f"  {col.name}: bounds [{col.lower:g}, {col.upper:g}] from the noisy histogram; values outside are clipped to "
                  "them (check them against the column's public range)")
    typed = data.assign(**{c.name: pd.to_numeric(data[c.name], errors="coerce") for c in domain if c.kind == "numeric"})
    flagged = [d for d in detect_identifiers(typed, columns=domain.names) if d.direct]  # on the console only, never used
    for d in flagged:
        warn(f"column {d.column!r} looks like {d.label} (confidence {d.confidence:.2f}); it was estimated like any column "
              f"(DP: a value held by one record is not released), but exclude it (--exclude {d.column}) unless you need it.")
    return EXIT_OK


def _kinds_spec(spec: str | None) -> Any:
    """``--kinds``: ``NAME=KIND,...``, or a YAML/JSON file holding ``{name: kind}``."""
    if spec is None or "=" in spec:
        return spec
    import yaml

    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"--kinds {spec!r}: neither NAME=KIND,... nor an existing YAML/JSON file.")
    found = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(found, dict):
        raise ValueError(f"--kinds file {spec!r} must hold a mapping of column name to kind (categorical, integer or float).")
    return found


def _cmd_sample(args: argparse.Namespace) -> int:
    from privsynth.synthesizers.model_file import load

    existing(args.model, "model file")
    if is_database_model(args.model):
        return sample_database(args)
    if args.n is None:
        raise ValueError("-n: how many records to sample (a database model samples its DP number of persons without it).")
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"--out {args.out!r}: privsynth writes .csv or .parquet files; name the output accordingly.")
    synth = load(args.model, trusted_keys=args.trusted_key, max_epsilon=args.max_epsilon, max_delta=args.max_delta)
    if not synth.certificate_.valid and not args.allow_invalid:
        _invalid_exit(synth.certificate_, args, what=f"the model {args.model}")
        print("nothing written", file=sys.stderr)
        return EXIT_FAILED
    if args.sampler is not None:
        if "sampler" not in synth.get_params():
            raise PrivsynthError(f"--sampler: {type(synth).__name__} models have one sampler; only MST and AIM models offer "
                                 f"{' / '.join(SAMPLERS)}. Drop --sampler.")
        synth.set_params(sampler=args.sampler)
    df = synth.sample(args.n, random_state=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    cert_path = out.with_name(out.stem + ".certificate.json")
    release = {"file": out.name, "sha256": file_sha256(out), "rows": int(args.n), "model": Path(args.model).name,
               "model_sha256": file_sha256(args.model), "sample_seed": args.seed}
    if "sampler" in synth.get_params():  # MST/AIM: how the rows were drawn (a public choice, like the seed)
        release["sampler"] = synth.get_params()["sampler"]
    synth.certificate_.to_file(cert_path, release=release, sign_key=args.sign_key)
    print(f"{args.n} synthetic records written to {out}; certificate to {cert_path}")
    return _invalid_exit(synth.certificate_, args, what=f"the release {out}")


def _cmd_certificate(args: argparse.Namespace) -> int:
    from privsynth.privacy.certificate import Certificate
    from privsynth.synthesizers.model_file import load

    path = existing(args.path, "file")
    cert = Certificate.from_dict(read_document(path)) if path.suffix == ".json" else load(path).certificate_
    print(cert.to_json() if args.json else cert.summary())
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from privsynth.datasets.loaders import read_table
    from privsynth.evaluation.compare import compare

    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".md"):
        raise ValueError(f"--report {args.report!r}: the report is written as .html or .md; name it accordingly.")
    domain = Domain.from_file(existing(args.domain, "domain file"))
    tables = [read_table(existing(path, "data file"), domain, clip=args.clip, na_values=args.na_values or (), encoding=args.encoding)
              for path in (args.real, args.synthetic)]
    result = compare(tables[0], tables[1], domain, bins=args.bins)
    print(f"{result.rows[0]} real and {result.rows[1]} synthetic records; average 1-way TVD {result.tvd_1:.4f}, "
          f"2-way TVD {result.tvd_2:.4f}")
    print(result.columns.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if len(result.rules):
        print(result.rules.to_string(index=False))
    if args.report:
        print(f"report written to {result.write_report(args.report)} (it describes the real records: keep it private)")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from privsynth.bench import run_bench

    result = run_bench(tables=args.tables, synthesizers=args.synthesizers, epsilons=args.epsilons, seeds=args.seeds,
                       out_dir=args.out, data_dir=args.data_dir, ml_models=args.ml_models, pairs=args.pairs)
    print((Path(args.out) / "summary.md").read_text())
    print(f"{len(result.runs)} runs; written to {args.out}: {', '.join(result.files)} (scores read the real records: keep them private)")
    return EXIT_OK if bool(result.runs["verified"].all()) else EXIT_FAILED


def _cmd_keygen(args: argparse.Namespace) -> int:
    from privsynth.core.signing import generate_keypair

    private, public, kid = generate_keypair(args.out)
    print(f"key {kid}\n  private: {private} (keep it secret: it signs releases)\n  public:  {public} (give it to whoever must trust them)")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from privsynth.datasets import make_census
    from privsynth.evaluation import marginal_tvd
    from privsynth.privacy.certificate import verify
    from privsynth.synthesizers import synthesizer_class

    df, domain = make_census(args.rows, random_state=args.seed)
    print(f"privsynth demo: built-in census data ({args.rows} records, {len(domain)} columns), "
          f"synthesizer {args.synthesizer}, as many synthetic records as its DP record count")
    for eps in args.epsilons:
        synth = synthesizer_class(args.synthesizer)(epsilon=eps).fit(df, domain)
        out = synth.sample(max(1, synth.n_hat_))
        cert = synth.certificate_
        tvd1 = marginal_tvd(df, out, domain, order=1).average
        tvd2 = marginal_tvd(df, out, domain, order=2).average
        status = "verified" if verify(cert).ok else "NOT VERIFIED"
        print(f"epsilon={eps:<6g} spent epsilon={cert.spent.epsilon:.4f} delta={cert.spent.delta:.1g} "
              f"({len(cert.entries)} mechanism calls, certificate {status})  1-way TVD={tvd1:.3f}  2-way TVD={tvd2:.3f}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from privsynth.report import write_report

    if (args.sweep_dir is None) == (args.mlflow is None):
        raise ValueError("Give a sweep folder or --mlflow URI (one of them).")
    result = write_report(args.sweep_dir, args.out, tracking_uri=args.mlflow, experiment=args.experiment, sweep=args.sweep)
    print(f"{len(result.table)} runs -> {result.csv}, {result.markdown}; {len(result.plots)} plots")
    for run in result.flagged:
        print(f"FLAGGED (certificate does not verify): {run}")
    for run in result.unfinished:
        print(f"unfinished (ignored): {run}")
    return EXIT_FAILED if result.flagged else EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from privsynth.serve import TOKEN_ENV, _require_extra, describe_models, load_models, read_token, serve

    _require_extra()
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}.")
    port_free(args.host, args.port)
    for spec in args.models:
        existing(spec.split("=", 1)[1] if "=" in spec and not Path(spec).exists() else spec, "model file")
    token = read_token(args.token_file)
    if token is None and not args.insecure_no_auth:
        raise ValueError(f"No bearer token: set ${TOKEN_ENV} or pass --token-file FILE (a file holding the token), or "
                         "--insecure-no-auth to serve without one on a trusted network.")
    models = load_models(args.models, trusted_keys=args.trusted_key, max_epsilon=args.max_epsilon, max_delta=args.max_delta,
                         require_valid=not args.allow_invalid)
    print(f"privsynth serve: {len(models)} model(s) on http://{args.host}:{args.port} (docs: /docs; "
          f"{'bearer token required' if token else 'NO AUTHENTICATION'}; at most {args.max_rows} rows per request, "
          f"{args.max_concurrent} streams at once)\n{describe_models(models)}", flush=True)
    serve(models, host=args.host, port=args.port, token=token, max_rows=args.max_rows, max_concurrent=args.max_concurrent,
          log_level=args.log_level)
    return EXIT_OK


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings' hook
    """Warnings as one line each on stderr (no source line)."""
    print(f"privsynth: warning: {category.__name__}: {message}", file=sys.stderr)


def _log_progress() -> None:
    """Progress lines (written where no terminal shows a bar) go to stderr, unless the caller set
    up logging for them."""
    import logging

    logger = logging.getLogger("privsynth.progress")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("privsynth: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


#: Each sub-command's function (its arguments: :func:`privsynth.cli_args.build_parser`).
COMMANDS = {"profile": _cmd_profile, "fit": _cmd_fit, "sample": _cmd_sample, "compare": _cmd_compare, "certificate": _cmd_certificate,
            "verify": cmd_verify, "bench": _cmd_bench, "keygen": _cmd_keygen, "serve": _cmd_serve, "demo": _cmd_demo, "report": _cmd_report,
            "forecast": cmd_forecast}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``privsynth`` command; returns the exit code."""
    args = build_parser(COMMANDS).parse_args(argv)
    _log_progress()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except Failure:
        return EXIT_FAILED
    except IdentifierRefusal as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except IntegrityError as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (PrivsynthError, OSError, ValueError, TypeError, ImportError, json.JSONDecodeError) as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
