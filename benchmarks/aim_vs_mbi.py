"""privsynth's AIM against AIM on Private-PGM's own estimator (mbi 2.0), same data, same machine, same run.

Discretized Adult (48,842 rows, 14 attributes) at epsilon 1, delta 1e-9, for each seed: the
reference runner (``benchmarks/mbi_aim_reference.py``, in its own venv: mbi 2.0 pins JAX) and
privsynth's AIM at its defaults, one after the other, each in a fresh process. Each fitted model
gives two releases (as many rows as the data), scored by privsynth's 2- and 3-way marginal TVD
against the data: the reference's default (mbi's randomized rounding of the model's counts) and
i.i.d. rows; privsynth's default (i.i.d. rows) and its ``sampler="stratified"`` (counts within one
of their expectations, as rounding does). Rounding removes much of the Monte Carlo error of an
i.i.d. release, so methods are compared release kind by release kind.
``--max-model-size`` sets the reference's bound in MB (the paper's 80 by default).

Output: ``benchmarks/results/<name>.json`` / ``.md`` (default ``aim_vs_mbi``).

Run: python benchmarks/aim_vs_mbi.py --python /tmp/mbi-venv/bin/python [--seeds 0 1 2] [--iters 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps
from privsynth.core.dataset import decode, encode, levels

CHILD = """
import json, sys, time, resource
import numpy as np
import privsynth as ps
seed, rows, cells = int(sys.argv[1]), int(sys.argv[3]), sys.argv[4]
df, domain = ps.datasets.load_adult_discretized()
data = df.iloc[np.arange(rows) % len(df)].reset_index(drop=True) if rows else df
params = {} if cells == "default" else {"max_model_cells": int(cells)}
t0 = time.perf_counter()
syn = ps.synthesizers.AIM(epsilon=1.0, delta=1e-9, random_state=seed, progress=False, **params).fit(data, domain)
fit_s = time.perf_counter() - t0
syn.sample(len(df), random_state=seed).to_parquet(sys.argv[2] + ".iid.parquet")
syn.set_params(sampler="stratified")
syn.sample(len(df), random_state=seed).to_parquet(sys.argv[2] + ".stratified.parquet")
print(json.dumps({"fit_s": fit_s, "rounds": len(syn.selected_), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "model_cells": int(syn.model_.tree.size)}))
"""


def score(real: pd.DataFrame, synth: pd.DataFrame, domain) -> dict:
    return {f"tvd_{k}": ps.evaluation.marginal_tvd(real, synth, domain, order=k).average for k in (2, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Python of the venv with mbi 2.0")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--max-model-size", type=float, default=80.0)
    parser.add_argument("--rows", type=int, default=0, help="replicate Adult's records to this many rows (0: Adult as is)")
    parser.add_argument("--max-model-cells", default="default",
                        help="privsynth's max_model_cells (default: AIM's); with --rows, match --max-model-size (MB * 131072)")
    parser.add_argument("--name", default="aim_vs_mbi")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    real, domain = ps.datasets.load_adult_discretized()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        codes = encode(real, domain)
        if args.rows:
            codes = codes[np.arange(args.rows) % len(codes)]
        pd.DataFrame(codes, columns=[f"a{j}" for j in range(len(domain))]).to_csv(folder / "codes.csv", index=False)
        (folder / "sizes.json").write_text(json.dumps({f"a{j}": int(s) for j, s in enumerate(levels(domain))}))
        reference = Path(__file__).with_name("mbi_aim_reference.py")
        for seed in args.seeds:
            out = subprocess.run([args.python, str(reference), str(folder / "codes.csv"), str(folder / "sizes.json"), "--seed",
                                  str(seed), "--iters", str(args.iters), "--max-model-size", str(args.max_model_size),
                                  "--rows", str(len(real)), "--out", str(folder / "mbi.csv"), "--out-iid",
                                  str(folder / "mbi_iid.csv")], stdout=subprocess.PIPE, text=True, check=True)  # its rounds on stderr
            got = json.loads(out.stdout.strip().splitlines()[-1])
            for release, file in (("randomized rounding (mbi's default)", "mbi.csv"), ("i.i.d. rows", "mbi_iid.csv")):
                synth = decode(pd.read_csv(folder / file).to_numpy(dtype=np.int64), domain, rng=np.random.default_rng(seed))
                rows.append({"method": "mbi 2.0 AIM (reference runner)", "release": release, "seed": seed, **got,
                             **score(real, synth, domain)})
                print(json.dumps(rows[-1]), flush=True)
            out = subprocess.run([sys.executable, "-c", CHILD, str(seed), str(folder / "ps"), str(args.rows),
                                  str(args.max_model_cells)], capture_output=True, text=True, check=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            for release, file in (("i.i.d. rows (privsynth's default)", "ps.iid.parquet"), ("stratified", "ps.stratified.parquet")):
                rows.append({"method": "privsynth AIM", "release": release, "seed": seed, **got,
                             **score(real, pd.read_parquet(folder / file), domain)})
                print(json.dumps(rows[-1]), flush=True)
    df = pd.DataFrame(rows)
    summary = df.groupby(["method", "release"])[["tvd_2", "tvd_3", "fit_s", "rounds", "peak_rss_mb"]].mean()
    Path(args.out, f"{args.name}.json").write_text(json.dumps({"args": vars(args), "runs": rows}, indent=1, default=str))
    table = f" replicated to {args.rows:,} rows" if args.rows else ""
    lines = [f"# AIM: privsynth vs mbi 2.0 (`python benchmarks/aim_vs_mbi.py --python ... --seeds {' '.join(map(str, args.seeds))}`)",
             "", f"Discretized Adult{table}, epsilon 1, delta 1e-9, mean over seeds {args.seeds}, one after the other on this "
             f"machine; reference: {args.iters} mirror-descent steps per round, max_model_size {args.max_model_size:g} MB; "
             f"privsynth AIM at its defaults (max_model_cells {args.max_model_cells}). TVD of a 48,842-row release against "
             "Adult.", "", summary.to_string(float_format=lambda v: f"{v:.4f}")]
    Path(args.out, f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
