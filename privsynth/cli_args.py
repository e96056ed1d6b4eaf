"""The arguments of the ``privsynth`` command (its functions are in :mod:`privsynth.cli`)."""

from __future__ import annotations

import argparse
from typing import Callable, Mapping

from privsynth.data.sources import ENGINES
from privsynth.graphical.sampling import SAMPLERS
from privsynth.privacy.budget import MAX_DELTA

__all__ = ["build_parser"]


def build_parser(commands: Mapping[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The ``privsynth`` argument parser; ``commands`` maps each sub-command to its function."""
    from privsynth.synthesizers.names import ALL_NAMES, BASIC_NAMES

    parser = argparse.ArgumentParser(
        prog="privsynth",
        description="Differentially private synthetic data with verifiable certificates.",
        epilog="Exit codes: 0 success; 1 verification or the trust policy failed, or an invalid certificate; 2 bad arguments "
               "or input (missing file, busy port, data off the domain ...).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("profile", help="draft a domain file (and a report) from a CSV/Parquet file; --dp estimates it with DP; "
                                       "--related drafts a schema for a folder of related tables")
    p.add_argument("data", help="CSV or Parquet file, a folder of Parquet files, or duckdb:///file.db?table=NAME")
    p.add_argument("--engine", choices=["auto", "pandas", "duckdb"], default="auto",
                   help="who reads the records: auto (default: DuckDB for Parquet, folders and duckdb://, in memory for a "
                        "CSV), pandas or duckdb (e.g. a CSV larger than memory); with DuckDB the draft reads a sample "
                        "(--sample-rows) and --dp computes its statistics in the engine")
    p.add_argument("--sample-rows", type=int, default=1_000_000,
                   help="with DuckDB: records (a uniform sample) the draft reads (default 1,000,000)")
    p.add_argument("--out", required=True, help="domain file to write (.yaml, commented; .json); with --related a schema .yaml")
    p.add_argument("--related", action="store_true",
                   help="DATA is a folder of related tables (one CSV/Parquet file each): draft a schema -- keys, the person "
                        "table, contribution bounds, each table's domain -- marked inferred, to check and declare")
    p.add_argument("--report", default=None, help="also write a report: .html (self-contained, with plots) or .md")
    p.add_argument("--dp", action="store_true",
                   help="estimate the domain with differential privacy (categories by partition selection, bounds by a "
                        "noisy histogram) instead of drafting it; needs --epsilon")
    p.add_argument("--epsilon", type=float, default=None, help="budget of the DP estimation (with --dp)")
    p.add_argument("--delta", type=float, default=1e-9, help="delta of the DP estimation (with --dp; default 1e-9)")
    p.add_argument("--accountant", choices=["rdp", "pld"], default="rdp")
    p.add_argument("--seed", type=int, default=None, help="SECRET seed of the DP estimation (research only)")
    p.add_argument("--secure", action="store_true", help="exact samplers on the OS CSPRNG (with --dp)")
    p.add_argument("--allow-large-delta", action="store_true", help=f"accept --delta above {MAX_DELTA:g} (the certificate says so)")
    p.add_argument("--kinds", default=None, metavar="SPEC",
                   help="with --dp: declared column kinds, NAME=KIND,... or a YAML file {name: kind} (categorical, integer, "
                        "float); a Parquet file's schema counts as declared; other columns' kinds are decided with DP (charged)")
    p.add_argument("--exclude", action="append", default=None, help="leave this column out (repeatable)")
    p.add_argument("--max-categories", type=int, default=100,
                   help="text columns with more distinct values are treated as identifiers (default 100)")
    p.add_argument("--sep", default=None, help="CSV separator (default ',')")
    p.add_argument("--na-values", action="append", default=None, help="extra strings meaning 'missing' (repeatable)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of a CSV (default utf-8; e.g. latin-1)")
    p.set_defaults(func=commands["profile"])

    p = sub.add_parser("fit", help="fit a synthesizer on a CSV/Parquet file, a DuckDB table or a Spark table under a declared domain, "
                                   "or a database of related tables under a schema (--schema)")
    p.add_argument("--data", required=True,
                   help="the private records: a CSV or Parquet file, a folder of Parquet files, duckdb:///file.db?table=NAME, "
                        "or spark:TABLE; with --schema, a folder of <table>.csv/.parquet files")
    p.add_argument("--engine", choices=list(ENGINES), default="auto",
                   help="who reads the records: auto (default: Parquet, folders and duckdb:// with DuckDB, out of core; a CSV "
                        "in memory; spark: with Spark), pandas, duckdb (e.g. a CSV larger than memory) or spark")
    p.add_argument("--memory-limit", default=None, help="DuckDB's memory limit (default 1GB; it spills to disk beyond it)")
    p.add_argument("--spark-master", default=None,
                   help="Spark master for --engine spark / spark: sources (default: spark-submit's, else local[*])")
    p.add_argument("--domain", default=None, help="public domain file (.yaml or .json) of a single table")
    p.add_argument("--schema", default=None,
                   help="related tables: a schema file (YAML: tables, keys, the person table, max_per_parent bounds, each "
                        "table's domain); the fit is DP per person and every row linked to them")
    p.add_argument("--synthesizer", choices=list(ALL_NAMES), default=None,
                   help="default privbayes; with --schema mst (child tables need a counting one: mst, aim, independent)")
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--delta", type=float, default=None,
                   help="default: the synthesizer's own -- 0 (pure DP), 1e-9 for mst/aim, 1e-5 for the DP-SGD models")
    p.add_argument("--accountant", choices=["rdp", "pld"], default="rdp")
    p.add_argument("--seed", type=int, default=None,
                   help="SECRET seed that makes the fit reproducible (research only): written nowhere, and the guarantee "
                        "holds only while it stays secret; omit it for fresh OS entropy")
    p.add_argument("--secure", action="store_true", help="exact samplers on the OS CSPRNG for every private draw (final releases)")
    p.add_argument("--allow-large-delta", action="store_true", help=f"accept --delta above {MAX_DELTA:g} (the certificate says so)")
    p.add_argument("--clip", action="store_true", help="clip numbers to the domain's public bounds instead of failing")
    p.add_argument("--dp-preprocess", nargs="+", choices=["merge", "bins"], default=None, metavar="STEP",
                   help="the benchmark papers' DP preprocessing before the fit, on --preprocess-share of --epsilon: merge "
                        "(rare categories of categorical columns with >= 32 declared categories share one cell) and/or bins "
                        "(numeric columns re-binned by PrivTree); the certificate covers the whole --epsilon; not with --secure")
    p.add_argument("--preprocess-share", type=float, default=0.1,
                   help="share of --epsilon that --dp-preprocess spends (default 0.1, as tab_bench and MargNet)")
    p.add_argument("--sep", default=None, help="CSV separator (default ',')")
    p.add_argument("--na-values", action="append", default=None, help="extra strings meaning 'missing' (repeatable)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of a CSV (default utf-8; e.g. latin-1)")
    p.add_argument("--sign-key", default=None, help="Ed25519 private key (privsynth keygen) to sign the model file with")
    p.add_argument("--allow-identifiers", action="store_true",
                   help="fit even if a column looks like a direct identifier (name, SSN, e-mail ...)")
    p.add_argument("--allow-invalid", action="store_true",
                   help="exit 0 even if the certificate is invalid (e.g. a domain inferred from the data)")
    p.add_argument("--progress", action="store_true", default=None,
                   help="show progress (default: a bar on a terminal, a line every 30 s in logs and redirected output)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out", required=True, help="model file to write (e.g. adult.privsynth)")
    p.set_defaults(func=commands["fit"])

    p = sub.add_parser("sample", help="sample records from a model file (or a database from a database model); writes the "
                                      "certificate beside them")
    p.add_argument("model")
    p.add_argument("-n", type=int, default=None, help="number of records (database model: persons; default its DP count)")
    p.add_argument("--out", required=True, help="output .csv or .parquet (database model: a folder, one CSV per table)")
    p.add_argument("--seed", type=int, default=None, help="public sampling seed (recorded); omit for new rows every call")
    p.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help="MST/AIM: draw i.i.d. or stratified rows (recorded; default: the model's own, normally iid)")
    p.add_argument("--trusted-key", action="append", default=None, help="refuse a model not signed by this public key (repeatable)")
    p.add_argument("--max-epsilon", type=float, default=None, help="refuse a model that spends more")
    p.add_argument("--max-delta", type=float, default=MAX_DELTA,
                   help=f"refuse a model whose guarantee needs a larger delta (default {MAX_DELTA:g})")
    p.add_argument("--sign-key", default=None, help="Ed25519 private key to sign the certificate of the sample with")
    p.add_argument("--allow-invalid", action="store_true", help="sample from a model whose certificate is invalid")
    p.set_defaults(func=commands["sample"])

    p = sub.add_parser("compare", help="compare a synthetic table with the real one: TVD per column, associations, rules; "
                                       "an HTML report with plots")
    p.add_argument("real", help="CSV or Parquet file with the real records")
    p.add_argument("synthetic", help="CSV or Parquet file with the synthetic records (e.g. from privsynth sample)")
    p.add_argument("--domain", required=True, help="the public domain both follow (.yaml or .json)")
    p.add_argument("--report", default=None, help="also write a report: .html (self-contained, with plots) or .md")
    p.add_argument("--bins", type=int, default=16, help="bins of numeric columns whose domain declares none (default 16)")
    p.add_argument("--clip", action="store_true", help="clip numbers to the domain's bounds instead of failing")
    p.add_argument("--na-values", action="append", default=None, help="extra strings meaning 'missing' (repeatable)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of the CSV files (default utf-8)")
    p.set_defaults(func=commands["compare"])

    p = sub.add_parser("bench", help="benchmark tables x synthesizers x epsilons x seeds: one results table and plots (resumable)")
    p.add_argument("--tables", nargs="+", default=None,
                   help="benchmark tables (default: all readable here: adult, census, and the shared shoppers, magic, phishing, "
                        "bean, obesity, abalone)")
    p.add_argument("--synthesizers", nargs="+", default=None, metavar="NAME[+privtree][+merge]",
                   choices=[*ALL_NAMES, *(f"{n}{v}" for n in BASIC_NAMES for v in ("+privtree", "+merge", "+privtree+merge"))],
                   help=f"{', '.join(ALL_NAMES)} (default: all with the deep extra installed, else the numpy-only ones); "
                        "+privtree: on numeric bins chosen by PrivTree, +merge: with rare categories merged, both with DP on "
                        "10%% of epsilon (numpy-only synthesizers)")
    p.add_argument("--epsilons", type=float, nargs="+", default=[1.0])
    p.add_argument("--ml-models", nargs="*", default=None, choices=["rf", "xgboost", "catboost"],
                   help="models of the ML efficiency (default: those installed; none given: skip it)")
    p.add_argument("--pairs", action="store_true", help="also SynMeter's 2-way Wasserstein errors (seconds per column pair)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="SECRET seeds of the fits (research only)")
    p.add_argument("--data-dir", default=None, help="the shared data folder (default $PRIVSYNTH_DATA or ../shared/data)")
    p.add_argument("--out", required=True, help="folder for runs/, results.csv, summary.csv/.md, meta.json and plots")
    p.set_defaults(func=commands["bench"])

    p = sub.add_parser("forecast", help="before a fit: the noise of each measurement and the error it alone causes, from "
                                        "the domain, epsilon and a public or DP row count")
    p.add_argument("--domain", required=True, help="the domain file (YAML/JSON)")
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--delta", type=float, default=None, help="default: each synthesizer's")
    p.add_argument("--rows", type=float, required=True, help="a PUBLIC or DP row count (never the exact private one)")
    p.add_argument("--synthesizers", nargs="+", choices=["independent", "dpgaussiancopula", "privbayes", "mst", "aim"],
                   default=None, help="default: the five marginal synthesizers")
    p.add_argument("--json", action="store_true", help="print the full forecast as JSON")
    p.set_defaults(func=commands["forecast"])

    p = sub.add_parser("certificate", help="print the certificate of a model file or certificate JSON")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the full JSON")
    p.set_defaults(func=commands["certificate"])

    p = sub.add_parser("verify", help="check a model file or certificate: hashes, signature, recomputed epsilon")
    p.add_argument("path", help="model file or certificate JSON")
    p.add_argument("--trusted-key", action="append", default=None,
                   help="public key (.pub) whose signature you trust; the file must be signed by one (repeatable)")
    p.add_argument("--max-epsilon", type=float, default=None, help="fail if the recomputed epsilon is above this")
    p.add_argument("--max-delta", type=float, default=MAX_DELTA,
                   help=f"fail if the guarantee holds only at a larger delta (default {MAX_DELTA:g})")
    p.add_argument("--require-valid", action="store_true", help="fail on an invalid certificate (inferred domain, leaks)")
    p.set_defaults(func=commands["verify"])

    p = sub.add_parser("keygen", help="create an Ed25519 key pair for signing releases")
    p.add_argument("--out", required=True, help="path prefix: writes PREFIX.key (private) and PREFIX.pub (public)")
    p.set_defaults(func=commands["keygen"])

    p = sub.add_parser("serve", help="serve model files over HTTP: list, certificates, streamed samples (needs the serve extra)",
                       description="Serve certified model files over HTTP (FastAPI + uvicorn; docs at /docs). Every endpoint "
                                   "but /healthz needs 'Authorization: Bearer <token>', the token read from "
                                   "$PRIVSYNTH_SERVE_TOKEN or --token-file. Serving rows spends no privacy budget.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model file, served by its file stem, or NAME=PATH")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token-file", default=None, help="file holding the bearer token (default: $PRIVSYNTH_SERVE_TOKEN)")
    p.add_argument("--insecure-no-auth", action="store_true", help="serve without a token (trusted networks only)")
    p.add_argument("--max-rows", type=int, default=10_000_000, help="most rows per request (default 10,000,000)")
    p.add_argument("--max-concurrent", type=int, default=4, help="most sampling streams at once; more get 429 (default 4)")
    p.add_argument("--trusted-key", action="append", default=None, help="refuse a model not signed by this public key (repeatable)")
    p.add_argument("--max-epsilon", type=float, default=None, help="refuse a model that spends more")
    p.add_argument("--max-delta", type=float, default=MAX_DELTA,
                   help=f"refuse a model whose guarantee needs a larger delta (default {MAX_DELTA:g})")
    p.add_argument("--allow-invalid", action="store_true", help="serve models whose certificate is invalid")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=commands["serve"])

    p = sub.add_parser("demo", help="fit on the built-in data at a few epsilons and print certificates and fidelity")
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--epsilons", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    p.add_argument("--synthesizer", choices=list(BASIC_NAMES), default="privbayes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=commands["demo"])

    p = sub.add_parser("report", help="collect a sweep's runs (folder or MLflow store) into a table and trade-off plots")
    p.add_argument("sweep_dir", nargs="?", default=None, help="folder of a sweep (e.g. multirun/default)")
    p.add_argument("--mlflow", default=None, metavar="URI",
                   help="read the runs from an MLflow tracking store instead (e.g. sqlite:///mlflow.db; needs --out)")
    p.add_argument("--experiment", default="privsynth", help="MLflow experiment (with --mlflow; default privsynth)")
    p.add_argument("--sweep", default=None, help="only the runs of this sweep (with --mlflow)")
    p.add_argument("--out", default=None, help="where to write (default SWEEP_DIR/report)")
    p.set_defaults(func=commands["report"])
    return parser
