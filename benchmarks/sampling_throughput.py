"""Sampling throughput (rows/s) of every synthesizer, in a process where torch cannot be imported.

Fits each synthesizer once on UCI Adult (epsilon 1, its default architecture; DPVAE/DPGAN train
for one epoch only -- the network's size, not its training, sets the sampling cost) and saves it.
A second Python process then blocks ``import torch``/``opacus`` (as on a machine with
``pip install privsynth`` alone), loads every model file, and times ``sample(rows)`` three times
(best and median). The child also checks that torch never entered ``sys.modules``. Run alone:
other load on the machine lowers the figures.

Targets (issue #13): >= 1M rows/s for PrivBayes/AIM-type models, >= 500k rows/s for DPVAE/DPGAN.

Output: ``benchmarks/results/sampling_throughput.json`` and ``.md``. A run measures the synthesizers it
is given and keeps the other entries of an existing JSON (each entry records its rows, dataset and
commit), so one synthesizer can be re-measured without re-running the rest.

Run: python benchmarks/sampling_throughput.py [--dataset adult|adult_discretized] [--synthesizers dpvae dpgan ...]
[--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import privsynth as ps
from privsynth.synthesizers import ALL_NAMES, synthesizer_class
from privsynth.testing import BLOCK_TORCH

#: Run in the child: block torch, load each model, time sampling, print JSON.
CHILD = BLOCK_TORCH + r"""
import json, statistics, sys, time

import privsynth as ps

rows, paths = int(sys.argv[1]), sys.argv[2:]
out = {}
for path in paths:
    model = ps.load(path)
    model.sample(1000, random_state=0)  # warm-up
    times = []
    for k in range(3):
        t0 = time.perf_counter()
        frame = model.sample(rows, random_state=k + 1)
        times.append(time.perf_counter() - t0)
    assert len(frame) == rows
    out[type(model).__name__] = {"best_rows_per_s": rows / min(times), "median_rows_per_s": rows / statistics.median(times)}
    print(type(model).__name__, f"{out[type(model).__name__]['best_rows_per_s']:,.0f} rows/s", file=sys.stderr, flush=True)
assert not any(m.split(".")[0] in ("torch", "opacus") for m in sys.modules), "torch was imported"
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult", choices=["adult", "adult_discretized"])
    parser.add_argument("--synthesizers", nargs="+", default=list(ALL_NAMES), choices=list(ALL_NAMES))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    data, domain = ps.datasets.load_adult() if args.dataset == "adult" else ps.datasets.load_adult_discretized()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name in args.synthesizers:
            cls = synthesizer_class(name)
            params: dict = {"epsilon": 1.0, "random_state": 0}
            for key, value in (("progress", False), ("device", "cpu"), ("epochs", 1)):
                if key in cls._param_names():
                    params[key] = value
            print("fitting", name, flush=True)
            paths.append(str(cls(**params).fit(data, domain).save(Path(tmp) / f"{name}.privsynth")))
        child = subprocess.run([sys.executable, "-c", CHILD, str(args.rows), *paths], check=True, capture_output=True, text=True)
        sys.stderr.write(child.stderr)
        results = json.loads(child.stdout.strip().splitlines()[-1])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
            "privsynth": ps.__version__, "torch_blocked": True}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    path = out / "sampling_throughput.json"
    kept = json.loads(path.read_text())["results"] if path.exists() else {}
    for entry in kept.values():  # entries written before entries recorded their own settings
        entry.setdefault("rows", 1_000_000)
        entry.setdefault("dataset", "adult")
    kept.update({n: {**r, "rows": args.rows, "dataset": args.dataset, "commit": commit} for n, r in results.items()})
    path.write_text(json.dumps({"meta": meta, "results": dict(sorted(kept.items()))}, indent=1))
    lines = ["# Sampling throughput without torch (benchmarks/sampling_throughput.py)", "",
             f"Machine: {meta['machine']}, Python {meta['python']}; epsilon 1, default architectures (the DP-SGD models "
             "trained one epoch); 3 calls of the rows shown, in a process where importing torch raises. Targets: >= 1M "
             "rows/s PrivBayes/AIM-type, >= 500k rows/s DPVAE/DPGAN, >= 200k rows/s the generators of issue #25.", "",
             "| synthesizer | best rows/s | median rows/s | rows per call | dataset | commit |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {r['best_rows_per_s']:,.0f} | {r['median_rows_per_s']:,.0f} | {r['rows']:,} | {r['dataset']} | "
              f"{r.get('commit', '-')} |" for n, r in sorted(kept.items())]
    (out / "sampling_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
