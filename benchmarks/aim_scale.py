"""AIM's fit time on 1M rows against its time on Adult (issue #11: at most 2x).

Adult discretized (48,842 rows) and the same records replicated to 1,000,000 rows (a public
test-only construction: replication changes the counts, so AIM's noise is relatively smaller
and it may run more rounds). Same parameters, epsilon 1, delta 1e-9, seeds 0-2. Marginal
counting is one ``bincount`` per measured marginal; the graphical model's size is bounded by
``max_model_size``, not by the rows.

With the default ``max_model_size`` (80 MB) AIM answers the larger table's smaller relative noise
with much larger marginals, so the fit time grows with the model rather than with the rows;
``--max-model-size`` bounds the model on both tables alike and isolates what the rows cost
(``--name`` keeps that run's results apart). ``--backend`` picks the engine's backend.

Output: ``benchmarks/results/<name>.json`` and ``<name>.md`` (default name ``aim_scale``).

Run: python benchmarks/aim_scale.py [--seeds 0 1 2] [--rows 1000000] [--max-model-size MB] [--max-model-cells N|none]
     [--backend numpy|torch] [--name N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps
from privsynth.synthesizers import AIM


def fit_seconds(rows: int, seed: int, params: dict) -> dict:
    """One fit in a fresh process (its peak RSS is the fit's; no tracing slows the fit down)."""
    data, domain = ps.datasets.load_adult_discretized()
    if rows != len(data):
        data = data.iloc[np.arange(rows) % len(data)].reset_index(drop=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    syn = AIM(epsilon=1.0, delta=1e-9, random_state=seed, progress=False, **params).fit(data, domain)
    fit_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    adult = data.iloc[:48842]  # the original records (the replicated table repeats them)
    out = syn.sample(len(adult), random_state=seed)
    tvd = {f"tvd_{k}": ps.evaluation.marginal_tvd(adult, out, domain, order=k).average for k in (2, 3)}
    return {"rows": len(data), "seed": seed, "fit_s": fit_s, "rounds": len(syn.selected_), "peak_rss_mb": peak,
            "rss_before_fit_mb": before, "model_cells": syn.model_.tree.size, **tvd}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--max-model-size", type=float, default=None, help="AIM's max_model_size in MB (default: AIM's)")
    parser.add_argument("--max-model-cells", default=None, help="AIM's max_model_cells ('none': no cell bound; default: AIM's)")
    parser.add_argument("--backend", default="auto", help="the engine's backend (default: auto)")
    parser.add_argument("--name", default="aim_scale")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    params = {"backend": args.backend}
    if args.max_model_size is not None:
        params["max_model_size"] = args.max_model_size
    if args.max_model_cells is not None:
        params["max_model_cells"] = None if args.max_model_cells.lower() == "none" else int(args.max_model_cells)
    adult_rows = len(ps.datasets.load_adult_discretized()[0])
    rows = []
    for seed in args.seeds:
        for n in (adult_rows, args.rows):
            with ProcessPoolExecutor(max_workers=1) as pool:
                rows.append(pool.submit(fit_seconds, n, seed, params).result())
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    summary = df.groupby("rows")[["fit_s", "rounds", "peak_rss_mb", "model_cells", "tvd_2", "tvd_3"]].mean()
    ratio = summary["fit_s"].iloc[-1] / summary["fit_s"].iloc[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "python": platform.python_version(), "privsynth": ps.__version__}
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "params": params, "runs": rows, "ratio": ratio}, indent=1))
    lines = ["# AIM on Adult vs 1M rows (benchmarks/aim_scale.py)", "",
             f"Machine: {meta['machine']}, Python {meta['python']}; mean over seeds {args.seeds}; epsilon 1, delta 1e-9; "
             f"AIM parameters {params or 'default'}. Each fit in a fresh process; peak RSS is that process's (data and "
             "imports included).", "",
             summary.to_string(), "", f"1M-row fit time / Adult fit time: {ratio:.2f} (issue #23's target: <= 5 at the "
             "default bound). TVD: of a 48,842-row release against the original Adult records."]
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
