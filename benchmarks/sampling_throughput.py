"""Sampling throughput (rows/s) of every synthesizer fitted with its defaults on Adult discretized.

Fits each synthesizer once (epsilon 1), then times ``sample(1_000_000)`` three times and reports
the best and the median. Run alone: other load on the machine lowers the figures.

Output: ``benchmarks/results/sampling_throughput.json`` and ``.md``.

Run: python benchmarks/sampling_throughput.py [--synthesizers dpvae dpgan ...] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import privsynth as ps
from privsynth.synthesizers import ALL_NAMES, synthesizer_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthesizers", nargs="+", default=list(ALL_NAMES), choices=list(ALL_NAMES))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    data, domain = ps.datasets.load_adult_discretized()
    results = {}
    for name in args.synthesizers:
        cls = synthesizer_class(name)
        params = {"epsilon": 1.0, "random_state": 0}
        if "progress" in cls._param_names():
            params["progress"] = False
        if "device" in cls._param_names():
            params["device"] = "cpu"
        syn = cls(**params).fit(data, domain)
        times = []
        for k in range(3):
            t0 = time.perf_counter()
            syn.sample(args.rows, random_state=k)
            times.append(time.perf_counter() - t0)
        results[name] = {"best_rows_per_s": args.rows / min(times), "median_rows_per_s": args.rows / statistics.median(times)}
        print(name, {k: f"{v:,.0f}" for k, v in results[name].items()}, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "python": platform.python_version(), "privsynth": ps.__version__, "rows": args.rows}
    (out / "sampling_throughput.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = ["# Sampling throughput (benchmarks/sampling_throughput.py)", "",
             f"Machine: {meta['machine']}, Python {meta['python']}; {args.rows:,} rows per call, 3 calls; defaults, epsilon 1.", "",
             "| synthesizer | best rows/s | median rows/s |", "|---|---|---|"]
    lines += [f"| {n} | {r['best_rows_per_s']:,.0f} | {r['median_rows_per_s']:,.0f} |" for n, r in results.items()]
    (out / "sampling_throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
