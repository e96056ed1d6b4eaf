"""The in-memory path after the data room: Adult fits against a baseline commit, same machine, same run.

For each marginal synthesizer, fits on Adult (pandas DataFrame, epsilon 1, seed 0) with this
checkout and with a baseline commit (a ``git worktree``), alternating, ``--repeats`` times each in
fresh processes (each timing the second fit of its process: the first pays lazy imports); reports
the median fit time ratio and the 2-way TVD of 20,000 sampled rows (same secret seed: the counts
are exact either way, so the fidelity should be the same).
Target (issue #23): same fidelity, time within 1.2x.

Output: ``benchmarks/results/inmemory_regression.json`` / ``.md``.

Run: python benchmarks/inmemory_regression.py --baseline fe2f10c [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SYNTHESIZERS = {"independent": ("IndependentMarginals", {}), "privbayes": ("PrivBayes", {}),
                "dpgaussiancopula": ("DPGaussianCopula", {}), "mst": ("MST", {"delta": 1e-9}),
                "aim": ("AIM", {"delta": 1e-9})}
CHILD = """
import json, sys, time
import privsynth as ps
cls_name, params = sys.argv[1], json.loads(sys.argv[2])
df, domain = ps.datasets.load_adult()
cls = getattr(ps.synthesizers, cls_name)
if "progress" in cls._param_names():
    params["progress"] = False
cls(epsilon=1.0, random_state=0, **params).fit(df, domain)  # warm-up: lazy imports, caches
t0 = time.perf_counter()
syn = cls(epsilon=1.0, random_state=0, **params).fit(df, domain)
fit_s = time.perf_counter() - t0
out = syn.sample(20000, random_state=0)
tvd = ps.evaluation.marginal_tvd(df, out, domain, order=2)
print(json.dumps({"fit_s": fit_s, "tvd2": float(tvd.average)}))
"""


def run(root: Path, cls: str, params: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", CHILD, cls, json.dumps(params)], capture_output=True, text=True, check=True,
                         env=env, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthesizers", nargs="+", default=list(SYNTHESIZERS), choices=list(SYNTHESIZERS))
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(base), args.baseline], check=True,
                       capture_output=True)
        try:
            rows = []
            for name in args.synthesizers:
                cls, params = SYNTHESIZERS[name]
                now, then = [], []
                for _ in range(args.repeats):
                    then.append(run(base, cls, params))
                    now.append(run(here, cls, params))
                row = {"synthesizer": name, "baseline_fit_s": statistics.median(r["fit_s"] for r in then),
                       "fit_s": statistics.median(r["fit_s"] for r in now), "baseline_tvd2": then[0]["tvd2"], "tvd2": now[0]["tvd2"]}
                row["ratio"] = row["fit_s"] / row["baseline_fit_s"]
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(base)], check=False)
    Path(args.out, "inmemory_regression.json").write_text(json.dumps({"baseline": args.baseline, "results": rows}, indent=2))
    lines = [f"# In-memory fits on Adult: this checkout vs {args.baseline} (`python benchmarks/inmemory_regression.py "
             f"--baseline {args.baseline}`)", "", f"Median of {args.repeats} fresh-process fits each, alternating; epsilon 1, "
             "secret seed 0; each the second fit of its process; 2-way TVD of 20,000 sampled rows.", "",
             "| synthesizer | baseline fit s | fit s | ratio | baseline 2-way TVD | 2-way TVD |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['synthesizer']} | {r['baseline_fit_s']:.2f} | {r['fit_s']:.2f} | {r['ratio']:.2f} | "
                     f"{r['baseline_tvd2']:.4f} | {r['tvd2']:.4f} |")
    Path(args.out, "inmemory_regression.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
