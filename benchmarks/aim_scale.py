"""AIM's fit time on 1M rows against its time on Adult (issue #11: at most 2x).

Adult discretized (48,842 rows) and the same records replicated to 1,000,000 rows (a public
test-only construction: replication changes the counts, so AIM's noise is relatively smaller
and it may run more rounds). Same parameters, epsilon 1, delta 1e-9, seeds 0-2. Marginal
counting is one ``bincount`` per measured marginal; the graphical model's size is bounded by
``max_model_size``, not by the rows.

Output: ``benchmarks/results/aim_scale.json`` and ``aim_scale.md``.

Run: python benchmarks/aim_scale.py [--seeds 0 1 2] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps
from privsynth.synthesizers import AIM


def fit_seconds(data: pd.DataFrame, domain: ps.Domain, seed: int) -> dict:
    tracemalloc.start()
    t0 = time.perf_counter()
    syn = AIM(epsilon=1.0, delta=1e-9, random_state=seed, progress=False).fit(data, domain)
    fit_s = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"rows": len(data), "seed": seed, "fit_s": fit_s, "rounds": len(syn.selected_), "peak_mb": peak,
            "model_cells": syn.model_.tree.size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    data, domain = ps.datasets.load_adult_discretized()
    big = data.iloc[np.arange(args.rows) % len(data)].reset_index(drop=True)
    rows = []
    for seed in args.seeds:
        for table in (data, big):
            rows.append(fit_seconds(table, domain, seed))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    summary = df.groupby("rows")[["fit_s", "rounds", "peak_mb", "model_cells"]].mean()
    ratio = summary["fit_s"].iloc[-1] / summary["fit_s"].iloc[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "python": platform.python_version(), "privsynth": ps.__version__}
    (out / "aim_scale.json").write_text(json.dumps({"meta": meta, "runs": rows, "ratio": ratio}, indent=1))
    lines = ["# AIM on Adult vs 1M rows (benchmarks/aim_scale.py)", "",
             f"Machine: {meta['machine']}, Python {meta['python']}; mean over seeds {args.seeds}; epsilon 1, delta 1e-9.", "",
             summary.to_string(), "", f"1M-row fit time / Adult fit time: {ratio:.2f} (target <= 2)."]
    (out / "aim_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
