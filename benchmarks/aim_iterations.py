"""privsynth AIM with more mirror-descent steps per round (a lead for the gap to mbi 2.0's AIM, aim_vs_mbi.md).

Discretized Adult, epsilon 1, delta 1e-9, seeds 0-2, ``iterations`` steps per round (default 100).
Prints one JSON line per seed; ``benchmarks/results/aim_iters.md`` holds the 1000-step run.

Run: python benchmarks/aim_iterations.py 1000
"""

from __future__ import annotations

import json
import sys
import time

import privsynth as ps


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    df, domain = ps.datasets.load_adult_discretized()
    for seed in (0, 1, 2):
        t0 = time.perf_counter()
        syn = ps.synthesizers.AIM(epsilon=1.0, delta=1e-9, random_state=seed, progress=False, iterations=iterations).fit(df, domain)
        fit_s = time.perf_counter() - t0
        out = syn.sample(len(df), random_state=seed)
        print(json.dumps({"iterations": iterations, "seed": seed, "fit_s": fit_s, "rounds": len(syn.selected_),
                          "tvd_2": ps.evaluation.marginal_tvd(df, out, domain, order=2).average,
                          "tvd_3": ps.evaluation.marginal_tvd(df, out, domain, order=3).average}), flush=True)


if __name__ == "__main__":
    main()
