"""Mirror-descent speed of the graphical-model engine on numpy vs torch (CPU, or CUDA when present).

A synthetic AIM-like model (10 attributes, 4-way cliques of 16 levels: ~1.6M cells, or ``--small``:
3-way cliques, ~170k cells) fitted to random measurements for ``--iterations`` steps, each backend
timed twice (the first torch call pays its warm-up); the losses must agree.

Run: python benchmarks/engine_backend.py [--small] [--iterations 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from privsynth.graphical import JunctionTree, Measurement, estimate
from privsynth.graphical.backend import get_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sizes = (16, 16, 16, 16, 16, 16, 16, 8, 8, 8)
    if args.small:
        sets = [(0, 1, 2), (1, 2, 3), (2, 3, 4), (4, 5, 6), (5, 6, 7), (7, 8, 9), (0, 9)]
    else:
        sets = [(0, 1, 2, 3), (1, 2, 3, 4), (3, 4, 5, 6), (4, 5, 6, 7), (7, 8, 9), (0, 9)]
    measurements = [Measurement(s, rng.uniform(0, 10, size=[sizes[a] for a in s]), 5.0) for s in sets]
    print(f"model cells: {JunctionTree.build(sizes, sets).size:,}")
    for name in ("numpy", "torch", "numpy", "torch"):
        backend = get_backend(name)
        t0 = time.perf_counter()
        fit = estimate(sizes, measurements, iterations=args.iterations, backend=backend)
        print(f"{backend!r}: {time.perf_counter() - t0:.2f} s, loss {fit.loss:.6f}", flush=True)


if __name__ == "__main__":
    main()
