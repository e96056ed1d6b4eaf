"""Related tables on the generated bank database: privsynth's person-level DP relational
synthesizer against synthesizing each table independently and linking keys at random, and
against SDV's HMASynthesizer (not DP), on the same data and metrics.

    python benchmarks/relational_bank.py --sdv-python /tmp/sdv/bin/python

writes ``benchmarks/results/relational_bank.{json,md}``. Data: ``make_bank(10_000, random_state=0)``
(10k customers, ~20k accounts, ~50k transactions) to fit, ``make_bank(10_000, random_state=99)``
as the real test database of the join task (churn from customer attributes and account
aggregates; random-forest ROC AUC, train on synthetic, test on real). Metrics against the
training database: referential integrity, TVD of the number of children per parent, the
average child-attribute x parent-attribute 2-way TVD, and each table's own 2-way TVD.

The schema's bounds: 4 accounts per customer, 8 transactions per account and 12 per customer
(a row "no per-person bound" shows the same fit with 4 x 8 = 32 per customer). The independent
baseline fits the same synthesizer on each table alone (no parent context),
with the same person-level accounting, and then gives every child a parent drawn uniformly at
random. SDV 2.0 refuses three-level schemas; ``benchmarks/peers/sdv_hma.py`` switches that
check off so HMA's own recursion models all three levels (install: see that file).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps
from privsynth.evaluation.relational import cardinality_tvd, cross_table_tvd, join_task_auc, referential_integrity
from privsynth.relational import RelationalSynthesizer, Schema

RESULTS = Path(__file__).resolve().parent / "results"
CHILDREN = ("accounts", "transactions")


def scores(real, synth, test, schema: Schema) -> dict[str, float]:
    """Every metric of the tables ``synth`` holds (a peer that models fewer tables gets NaN for the rest)."""
    have = [name for name in ("customers", *CHILDREN) if name in synth]
    present = {name: synth[name] if name in synth else real[name].iloc[:0] for name in schema.names}  # a missing table: no keys
    out = {"integrity": referential_integrity(present, schema).rate}
    for name in CHILDREN:
        out[f"{name}.cardinality_tvd"] = cardinality_tvd(real, synth, schema, name) if name in synth else float("nan")
        out[f"{name}.cross_tvd"] = cross_table_tvd(real, synth, schema, name) if name in synth else float("nan")
    for name in ("customers", *CHILDREN):
        domain = schema[name].domain
        out[f"{name}.tvd_2"] = ps.evaluation.marginal_tvd(real[name][list(domain.names)], synth[name][list(domain.names)], domain,
                                                          order=2).average if name in have else float("nan")
    out["join_auc"] = join_task_auc(synth, test, schema, target="churned", positive="yes")
    return out


def without_context(schema: Schema) -> Schema:
    return Schema(tuple(dataclasses.replace(t, context=()) if t.parent is not None else t for t in schema.tables), person=schema.person)


def random_links(db: dict, schema: Schema, rng: np.random.Generator, children: tuple[str, ...] = CHILDREN) -> dict:
    """Each child row's parent drawn uniformly among the synthetic parents."""
    out = dict(db)
    for name in children:
        link = schema.parent_link(name)
        parents = out[link.references][schema[link.references].primary_key].to_numpy()
        out[name] = out[name].assign(**{link.column: rng.choice(parents, size=len(out[name]))})
    return out


def run_privsynth(real, schema, epsilon, seed, *, independent=False, children: tuple[str, ...] = CHILDREN):
    """Fit and sample privsynth's relational synthesizer (or, ``independent``, the same tables
    without parent context, their keys linked at random afterwards)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RelationalSynthesizer(epsilon=epsilon, delta=1e-6, random_state=seed).fit(
            real, without_context(schema) if independent else schema)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    db = model.sample(random_state=seed)
    if independent:
        db = random_links(db, schema, np.random.default_rng(seed), children)
    sample_s = time.perf_counter() - start
    assert ps.relational.verify_database(model.certificate_).ok  # noqa: S101 - a benchmark, stop on a broken certificate
    return db, fit_s, sample_s


def run_sdv(real, python: str, seed: int, cache: str | None, tables: tuple[str, ...] = ("customers", *CHILDREN)):
    """SDV's HMA on the same ``tables`` (a prefix of the chain), in its own venv; with ``cache``,
    its release is kept in ``cache/<tables>/seed=<seed>`` and reused by the next run."""
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in"
        out = Path(cache) / "-".join(tables) / f"seed={seed}" if cache else Path(tmp) / "out"
        if not (out / "timing.json").is_file():
            inp.mkdir()
            for name in tables:
                real[name].drop(columns=["name"], errors="ignore").to_csv(inp / f"{name}.csv", index=False)
            subprocess.run([python, str(Path(__file__).parent / "peers" / "sdv_hma.py"), str(inp), str(out), "--seed", str(seed),
                            "--tables", *tables], check=True, capture_output=True)
        db = {name: pd.read_csv(out / f"{name}.csv") for name in tables}
        timing = json.loads((out / "timing.json").read_text())
    if "transactions" in db:
        db["transactions"]["merchant_id"] = pd.to_numeric(db["transactions"]["merchant_id"], errors="coerce").astype("Int64")
    db["merchants"] = real["merchants"]
    return db, timing["fit_s"], timing["sample_s"], timing["sdv"]


def _markdown(table: pd.DataFrame) -> str:
    """A pipe table (no tabulate needed)."""
    head = [*table.index.names, *table.columns]
    body = [[*(k if isinstance(k, tuple) else (k,)), *row] for k, row in zip(table.index, table.to_numpy().tolist())]
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in r) + " |" for r in body])


def detection(real, db, python: str) -> dict[str, float]:
    """SyntheRela's C2ST-Agg accuracy per parent table (0.5: indistinguishable), in its own venv."""
    with tempfile.TemporaryDirectory() as tmp:
        for label, tables in (("real", real), ("synth", db)):
            (Path(tmp) / label).mkdir()
            for name in ("customers", *CHILDREN):
                if name in db:
                    tables[name].to_csv(Path(tmp) / label / f"{name}.csv", index=False)
        out = Path(tmp) / "out.json"
        subprocess.run([python, str(Path(__file__).parent / "peers" / "syntherela_detection.py"), str(Path(tmp) / "real"),
                        str(Path(tmp) / "synth"), str(out)], check=True, capture_output=True)
        found = json.loads(out.read_text())
    return {f"c2st_agg.{table}": values["accuracy"] for table, values in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--sdv-python", help="python of a venv with sdv 2.0 (skipped when absent)")
    parser.add_argument("--sdv-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sdv-dir", default=None, help="keep SDV's releases here and reuse them (its fit takes ~10 minutes)")
    parser.add_argument("--sdv-rows-from", default=None,
                        help="take the SDV rows of an earlier results JSON of this script (same data and metrics) instead of refitting")
    parser.add_argument("--syntherela-python", default=None,
                        help="python of a venv with syntherela 0.0.4: adds its C2ST-Agg detection accuracy (first seed only)")
    parser.add_argument("--out", default=str(RESULTS / "relational_bank"))
    args = parser.parse_args()
    real, schema = ps.datasets.make_bank(args.customers, random_state=0)
    uncapped = ps.datasets.bank_schema(max_transactions_per_person=None)
    test, _ = ps.datasets.make_bank(args.customers, random_state=99)
    rows = []

    def record(method, epsilon, seed, db, fit_s, sample_s):
        rows.append({"method": method, "epsilon": epsilon, "seed": seed, "fit_s": fit_s, "sample_s": sample_s,
                     **scores(real, db, test, schema)})
        if args.syntherela_python and db is not real and seed in (args.seeds[0], 99):
            rows[-1].update(detection(real, db, args.syntherela_python))
        if seed == 99:  # the test database itself: its task score would be trained on the test set
            rows[-1]["join_auc"] = float("nan")
        print(json.dumps(rows[-1]), flush=True)

    record("real (second sample of the generator)", None, 99, test, 0.0, 0.0)
    record("real (training database)", None, 0, real, 0.0, 0.0)
    for epsilon in args.epsilons:
        for seed in args.seeds:
            record("privsynth relational (MST)", epsilon, seed, *run_privsynth(real, schema, epsilon, seed))
            record("privsynth relational, no per-person bound (32 transactions)", epsilon, seed,
                   *run_privsynth(real, uncapped, epsilon, seed))
            record("independent tables + random keys (MST)", epsilon, seed, *run_privsynth(real, schema, epsilon, seed, independent=True))
    sdv_version = None
    if args.sdv_rows_from:
        earlier = json.loads(Path(args.sdv_rows_from).read_text())
        for row in earlier["rows"]:
            if row["method"].startswith("SDV"):
                rows.append(row)
                if args.syntherela_python and "c2st_agg.customers" not in row:
                    sdv_db = {name: pd.read_csv(Path(args.sdv_dir) / f"seed={row['seed']}" / f"{name}.csv")
                              for name in ("customers", *CHILDREN)} if args.sdv_dir else None
                    if sdv_db is not None:
                        row.update(detection(real, sdv_db, args.syntherela_python))
                sdv_version = earlier["meta"].get("sdv")
    elif args.sdv_python:
        for seed in args.sdv_seeds:
            db, fit_s, sample_s, sdv_version = run_sdv(real, args.sdv_python, seed, args.sdv_dir)
            record(f"SDV HMASynthesizer, 3 levels, depth check off (not DP, sdv {sdv_version})", None, seed, db, fit_s, sample_s)
    if args.sdv_python:
        for seed in args.sdv_seeds:
            db, fit_s, sample_s, sdv_version = run_sdv(real, args.sdv_python, seed, args.sdv_dir, ("customers", "accounts"))
            record(f"SDV HMASynthesizer, customers and accounts only (not DP, sdv {sdv_version})", None, seed, db, fit_s, sample_s)
    frame = pd.DataFrame(rows)
    meta = {"customers": args.customers, "rows": {k: len(v) for k, v in real.items()}, "seeds": args.seeds,
            "python": sys.version.split()[0], "privsynth": ps.__version__, "sdv": sdv_version}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
    metrics = [c for c in frame.columns if c not in ("method", "epsilon", "seed")]
    table = frame.fillna({"epsilon": "-"}).groupby(["method", "epsilon"], sort=False)[metrics].mean()
    lines = ["# Related tables: the bank database (`python benchmarks/relational_bank.py --sdv-python /tmp/sdv/bin/python`)",
             "", f"Fit on make_bank({args.customers}, random_state=0): {meta['rows']}; mean over seeds {args.seeds} "
             "(SDV: seeds " + ", ".join(map(str, args.sdv_seeds)) + "). Lower TVD is better; join_auc is the churn task's "
             "ROC AUC (train on the release, test on a second real database).", "",
             _markdown(table.round(4)), ""]
    Path(f"{args.out}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
