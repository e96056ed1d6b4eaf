"""AIM on Adult after a DP rare-category merge of only its many-category columns, 3 seeds (issue #24).

``privsynth bench``'s ``aim+merge`` merged every column of 8 or more categories; this re-runs Adult's
``aim+merge`` with ``min_categories`` given (32: only native-country, 41 categories), the same split
of epsilon (10% on the merge, the published row count as the public threshold base) and the same
seeds, and prints privsynth's 2-way TVD on the declared domain against the training split -- the
``tvd_2`` column of ``results/bench_merge/`` -- so the rows compare with its ``aim`` and ``aim+merge``.

Run: python benchmarks/merge_min_categories.py 32 > benchmarks/results/merge_min_categories.jsonl
"""

from __future__ import annotations

import json
import sys

import privsynth as ps
import privsynth.bench as bench
from privsynth.profiling.dp_merge import dp_merge_rare


def main() -> None:
    table = bench.load("adult")
    min_categories = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    for eps in (0.3, 1.0):
        for seed in (0, 1, 2):
            domain = dp_merge_rare(table.train, table.domain, epsilon=0.1 * eps, rows=len(table.train),
                                   min_categories=min_categories, random_state=seed)
            model = ps.synthesizers.AIM(epsilon=0.9 * eps, random_state=seed).fit(table.train, domain)
            out = model.sample(len(table.train), random_state=seed)
            merged = {c.name: len(c.merged) for c in domain.columns if getattr(c, "merged", ())}
            print(json.dumps({"min_categories": min_categories, "epsilon": eps, "seed": seed, "merged": merged,
                              "tvd_2": ps.evaluation.marginal_tvd(table.train, out, table.domain, order=2).average}), flush=True)


if __name__ == "__main__":
    main()
