"""DP-SGD (DPVAE) from Parquet: memory bounded by the batch, accounting identical to the in-memory path.

The census Parquet files of ``benchmarks/scale.py`` (1M and 10M rows): DPVAE fits from the path
(DuckDB streams the records once into a private encoded file; each step reads only its Poisson
sample) in a fresh process per fit, and, at 1M rows, from the same records in memory. Each fit
runs the same number of steps (``sampling_rate`` scaled so the expected batch is 1,000 records;
``epochs`` so that there are 300 steps), so the rows change what is scanned, not the training.
Accounting: the certificate's events of the file fit equal those of the in-memory fit at 1M rows
(same parameters), and the plan is the same at 10M.

Output: ``benchmarks/results/dpsgd_from_files.json`` / ``.md``.

Run: python benchmarks/dpsgd_from_files.py [--folder /tmp/privsynth-scale] (after benchmarks/scale.py wrote the files)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

STEPS, BATCH = 300, 1000


def fit_once(source: str, rows: int, engine: str) -> dict:
    from scale import peak_rss_mb  # benchmarks/scale.py

    import privsynth as ps

    domain = ps.datasets.census_domain()
    data = source
    if engine == "pandas":
        import pandas as pd

        data = pd.read_parquet(source)
    q = BATCH / rows
    t0 = time.perf_counter()
    syn = ps.synthesizers.DPVAE(epsilon=1.0, delta=1e-9, sampling_rate=q, epochs=STEPS * q, random_state=0, progress=False,
                                device="cpu").fit(data, domain)
    fit_s = time.perf_counter() - t0
    return {"fit_s": fit_s, "peak_rss_mb": peak_rss_mb(), "steps": syn.steps_,
            "events": [e.to_dict() for e in syn.certificate_.entries], "epsilon": syn.certificate_.spent.epsilon}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(fit_once(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/privsynth-scale")
    parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    results = []
    for rows in map(int, args.rows):
        path = Path(args.folder) / f"census_{rows}.parquet"
        for engine in ["duckdb"] + (["pandas"] if rows == min(map(int, args.rows)) else []):
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
            out = subprocess.run([sys.executable, __file__, "--child", str(path), str(rows), engine], capture_output=True,
                                 text=True, check=True, env=env)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            results.append({"rows": rows, "engine": engine, **got})
            print(json.dumps({k: v for k, v in results[-1].items() if k != "events"}), flush=True)
    small = [r for r in results if r["rows"] == min(r["rows"] for r in results)]
    same_events = len({json.dumps(r["events"]) for r in small}) == 1
    Path(args.out, "dpsgd_from_files.json").write_text(json.dumps({"same_events_at_1m": same_events, "results": results}, indent=2))
    lines = ["# DPVAE from Parquet (`python benchmarks/dpsgd_from_files.py`)", "",
             f"{STEPS} DP-SGD steps, expected batch {BATCH}, epsilon 1, delta 1e-9; one fresh process per fit (peak RSS = VmHWM).",
             f"Certificate events of the DuckDB fit equal to the in-memory fit's at {min(r['rows'] for r in results):,} rows: "
             f"**{same_events}**.", "", "| rows | engine | fit s | peak RSS MB | steps | epsilon |", "|---:|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['engine']} | {r['fit_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['steps']} | {r['epsilon']:.4f} |")
    Path(args.out, "dpsgd_from_files.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
