"""NeuralAIM against AIM on wide tables, where AIM's graphical model is what limits it (issue #25).

Tables: ``adult_x3`` -- discretized Adult with two more copies of every column, each under a
fixed random relabelling of its levels (42 columns; every copy is a function of its original,
so the measured marginals chain many columns and AIM's junction tree grows fast), and the shared
benchmark table ``phishing`` (31 columns; skipped with a reason when ``../shared/data`` is absent).

For each table and seed at epsilon 1 (delta 1e-9, degree 2 workload: every pair of columns):

* ``AIM`` with the default model bound (``max_model_cells=2**18``, 2 MB) -- what a user gets;
* ``AIM`` with the paper's 80 MB bound (``max_model_cells=None``), first seed only, with a
  wall-clock cap: a fit that has not finished after ``--aim-cap`` seconds is recorded as not finished;
* ``NeuralAIM`` at its defaults (no model bound: every pair stays selectable);
* ``shuffled``: every column shuffled on its own (the no-dependence baseline).

Scored on the rows fitted: average 1- and 2-way TVD, the largest model AIM built (cells), fit
seconds, peak RSS of the fit's process (each fit runs in its own process). Output
``benchmarks/results/neural_aim_wide.{json,md}``.

Run: python benchmarks/neural_aim_wide.py [--tables adult_x3 phishing] [--seeds 0 1] [--aim-cap 900]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps


def adult_x3() -> tuple[pd.DataFrame, ps.Domain]:
    """Discretized Adult and two relabelled copies of each column (fixed permutations, seed 0)."""
    data, domain = ps.datasets.load_adult_discretized()
    rng = np.random.default_rng(0)
    frames, columns = [data], list(domain.columns)
    for copy in (1, 2):
        extra = {}
        for col in domain.columns:
            codes = ps.core.dataset.encode(data[[col.name]], ps.Domain((col,)))[:, 0]
            size = ps.core.dataset.levels(ps.Domain((col,)))[0]
            perm = rng.permutation(size)
            name = f"{col.name}~{copy}"
            extra[name] = perm[codes]
            columns.append(ps.Categorical(name, tuple(range(size))))
        frames.append(pd.DataFrame(extra, index=data.index))
    return pd.concat(frames, axis=1), ps.Domain(tuple(columns))


def load(table: str) -> tuple[pd.DataFrame, ps.Domain]:
    if table == "adult_x3":
        return adult_x3()
    t = ps.datasets.load(table)
    return t.train, t.domain


def make(kind: str, seed: int):
    common = {"epsilon": 1.0, "delta": 1e-9, "degree": 2, "random_state": seed, "progress": False}
    if kind == "aim":
        return ps.synthesizers.AIM(**common)
    if kind == "aim-80MB":
        return ps.synthesizers.AIM(max_model_cells=None, **common)
    return ps.synthesizers.NeuralAIM(device="cpu", **common)


def fit_one(table: str, kind: str, seed: int, queue) -> None:
    data, domain = load(table)
    row = {"table": table, "synthesizer": kind, "seed": seed, "rows": len(data), "columns": len(domain), "finished": True}
    if kind == "shuffled":  # the baseline: every column shuffled on its own (exact 1-way marginals, no dependence)
        rng = np.random.default_rng(seed)
        out = data.apply(lambda s: pd.Series(rng.permutation(s.to_numpy()), index=s.index, name=s.name))
        row.update(fit_s=0.0, selected=0, verified=True)
    else:
        t0 = time.perf_counter()
        syn = make(kind, seed).fit(data, domain)
        row.update(fit_s=time.perf_counter() - t0, selected=len(syn.selected_), verified=ps.verify(syn.certificate_).ok)
        out = syn.sample(len(data), random_state=seed)
        if hasattr(syn, "model_"):
            row["model_cells"] = int(syn.model_.tree.size)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row.update({f"tvd_{k}": ps.evaluation.marginal_tvd(data, out, domain, order=k).average for k in (1, 2)})
    queue.put(row)


def run(table: str, kind: str, seed: int, cap: float | None) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=fit_one, args=(table, kind, seed, queue))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"table": table, "synthesizer": kind, "seed": seed, "finished": False, "fit_s": cap}
    return queue.get(timeout=60)


def markdown(df: pd.DataFrame) -> str:
    """A pipe table (no tabulate needed)."""
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) and abs(v) < 1 else f"{v:,.1f}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    return head + "".join("\n| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["adult_x3", "phishing"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--synthesizers", nargs="+", default=["shuffled", "aim", "neuralaim", "aim-80MB"])
    parser.add_argument("--aim-cap", type=float, default=900.0, help="seconds before an aim-80MB fit is recorded as unfinished")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown from neural_aim_wide.json")
    parser.add_argument("--append", action="store_true", help="keep the runs already in neural_aim_wide.json (table and "
                        "synthesizer pairs run again are replaced)")
    args = parser.parse_args()
    out = Path(args.out)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows, skipped = [], {}
    if args.append and (out / "neural_aim_wide.json").exists():
        again = {(t, k) for t in args.tables for k in args.synthesizers}
        rows = [r for r in json.loads((out / "neural_aim_wide.json").read_text())["runs"] if (r["table"], r["synthesizer"]) not in again]
    if args.report:
        rows, args.tables = json.loads((out / "neural_aim_wide.json").read_text())["runs"], []
    for table in args.tables:
        try:
            load(table)
        except FileNotFoundError as exc:
            skipped[table] = str(exc)
            print(f"skipping {table}: {exc}", flush=True)
            continue
        for kind in args.synthesizers:
            for seed in args.seeds[:1] if kind == "aim-80MB" else args.seeds:  # the uncapped model: one seed
                row = run(table, kind, seed, args.aim_cap if kind == "aim-80MB" else None)
                row["commit"] = commit
                rows.append(row)
                print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
                (out / "neural_aim_wide.json").write_text(json.dumps({"runs": rows}, indent=1))  # partial results survive
    meta = {"machine": platform.machine(), "python": platform.python_version(), "privsynth": ps.__version__, "commit": commit,
            "cores": mp.cpu_count(), "skipped": skipped}
    (out / "neural_aim_wide.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=1))
    df = pd.DataFrame(rows)
    done = df[df["finished"]]
    agg = done.groupby(["table", "synthesizer"]).agg(
        runs=("seed", "count"), tvd_1=("tvd_1", "mean"), tvd_2=("tvd_2", "mean"), tvd_2_sd=("tvd_2", "std"),
        fit_s=("fit_s", "mean"), peak_rss_mb=("peak_rss_mb", "max"), selected=("selected", "mean"),
        model_cells=("model_cells", "max") if "model_cells" in done else ("seed", "count"),
        commits=("commit", lambda c: " ".join(sorted(set(c)))))
    unfinished = df[~df["finished"]].groupby(["table", "synthesizer"]).size().rename("unfinished")
    agg = agg.join(unfinished, how="outer").fillna({"unfinished": 0}).reset_index()
    agg["unfinished"] = agg["unfinished"].astype(int)
    lines = ["# NeuralAIM vs AIM on wide tables (benchmarks/neural_aim_wide.py)", "",
             f"Machine: {meta['machine']}, {meta['cores']} cores, Python {meta['python']}; the commit of each row's runs in "
             "`commits` (73558d9's runs: the working tree that became it). Epsilon 1, delta 1e-9, workload every pair of "
             "columns (degree 2); each fit in its own process (peak RSS = that process). "
             f"Seeds {sorted(set(df['seed']))}; aim-80MB fits capped at {args.aim_cap:.0f} s. Skipped: {skipped or 'none'}.", "",
             markdown(agg)]
    (out / "neural_aim_wide.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
