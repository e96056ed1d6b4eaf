"""Golden values for the paper metrics, computed by the papers' own code (tab_bench, SynMeter).

Two steps, in two environments:

1. ``python benchmarks/paper_metrics_oracle.py make`` (privsynth's environment) writes the
   small shared cases to ``tests/fixtures/paper_metrics/``: real and synthetic records
   (``case.csv``) and the queries privsynth draws for them (``queries.json``).
2. ``/tmp/oracle-venv/bin/python benchmarks/paper_metrics_oracle.py score --tab-bench MIRROR
   --synmeter MIRROR`` (a venv with numpy, pandas, scipy, scikit-learn and POT) runs the
   papers' functions, read at run time from fetched snapshots of KaiChen9909/margnet (which
   ships tab_bench's evaluator) and zealscott/SynMeter, on those cases and prints the values
   that ``tests/evaluation/test_paper_metrics.py`` stores as numbers. Only the named functions
   are taken out of each file (with ``ast``), so their heavy imports (torch, the datasets) are
   not needed; nothing of their code is kept in this repository.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CASES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "paper_metrics"


def make() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluation"))
    from paper_case import case_domain

    from privsynth.evaluation.synmeter import synmeter_queries
    from privsynth.evaluation.tab_bench import tab_bench_queries

    rng = np.random.default_rng(2026)
    frames = []
    for part, n, shift in (("real", 90, 0.0), ("synth", 90, 1.5)):
        x = np.round(np.clip(rng.normal(4 + shift, 2, n), 0, 10), 3)
        k = rng.integers(0, 21, n)
        c = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if part == "real" else [0.3, 0.3, 0.4])
        d = np.where(rng.random(n) < 0.6, np.where(c == "a", "u", "v"), rng.choice(["u", "v"], n))
        label = np.where(x + rng.normal(0, 2, n) > 5, "1", "0")
        y = np.round(k * 0.7 + rng.normal(0, 1.5, n) + 3, 2)
        frames.append(pd.DataFrame({"part": part, "x": x, "k": k, "c": c, "d": d, "label": label, "y": y}))
    CASES.mkdir(parents=True, exist_ok=True)
    case = pd.concat(frames, ignore_index=True)
    case.to_csv(CASES / "case.csv", index=False)
    real = case[case.part == "real"]
    domain = case_domain()
    queries = {
        "tab_bench": tab_bench_queries(real, domain, n_queries=40, attrs=3, seed=5, target="label",
                                       task="binary_classification"),
        "synmeter": {str(w): synmeter_queries(domain, n_way=w, n_queries=40, seed=w) for w in (1, 2, 3)},
    }
    (CASES / "queries.json").write_text(json.dumps(queries, indent=1) + "\n")
    print(f"wrote {CASES}")


def _functions(repo: Path, path: str, names: list[str], namespace: dict) -> None:
    source = subprocess.run(["git", "--git-dir", str(repo), "show", f"HEAD:{path}"], check=True, capture_output=True,
                            text=True).stdout
    tree = ast.parse(source)
    body = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    missing = set(names) - {node.name for node in body}
    if missing:
        raise SystemExit(f"{path}: functions {sorted(missing)} not found")
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)


def score(tab_bench: Path, synmeter: Path) -> None:
    import itertools  # noqa: F401  (used by the papers' functions)
    from collections import Counter  # noqa: F401

    import ot  # noqa: F401
    import sklearn.preprocessing  # noqa: F401
    from scipy.stats import wasserstein_distance  # noqa: F401

    ns: dict = {"np": np, "pd": pd, "itertools": itertools, "Counter": Counter, "ot": ot, "sklearn": sklearn,
                "wasserstein_distance": wasserstein_distance, "product": itertools.product}
    _functions(tab_bench, "evaluator/eval_tvd.py", ["num_divide", "marginal_TVD", "tvd_main"], ns)
    _functions(tab_bench, "evaluator/eval_query.py", ["query_succeed"], ns)
    _functions(synmeter, "lib/commons.py", ["normalize"], ns)
    _functions(synmeter, "evaluator/utility/query.py", ["cal_cond_prob", "cal_query", "construct_cond", "cal_all_cond_prob"], ns)
    _functions(synmeter, "evaluator/fidelity/wasserstein.py",
               ["cal_fidelity", "cat_num_error", "num_num_error", "cat_cat_error", "num_error", "cat_error", "marginal_query"], ns)
    case = pd.read_csv(CASES / "case.csv", dtype={"label": str})
    queries = json.loads((CASES / "queries.json").read_text())
    real, synth = (case[case.part == p].drop(columns="part").reset_index(drop=True) for p in ("real", "synth"))
    out: dict = {}
    # tab_bench TVD: classification (numeric x, k; categorical c, d; y = label) and regression (y = numeric target).
    for name, num, cat, target in (("tvd_classification", ["x", "k", "y"], ["c", "d"], "label"),
                                   ("tvd_regression", ["x", "k"], ["c", "d", "label"], "y")):
        def parts(f: pd.DataFrame) -> tuple:
            y = f[target].astype(float).to_numpy()
            return f[num].to_numpy(dtype=float).copy(), f[cat].to_numpy(dtype=str), y
        res = ns["tvd_main"](*parts(real), *parts(synth))
        out[name] = [float(res["1way margin"]), float(res["2way margin"])]
    # tab_bench query error on the drawn queries, every prefix scored as its code does.
    cols = ["x", "k", "y", "c", "d", "label"]
    kinds = {"x": "num", "k": "num", "y": "num", "c": "cat", "d": "cat", "label": "cat"}
    arr_r, arr_s = real[cols].to_numpy(dtype=object), synth[cols].to_numpy(dtype=object)
    for a in (arr_r, arr_s):
        for j, c in enumerate(cols):
            if kinds[c] == "cat":
                a[:, j] = a[:, j].astype(str)
    errors = []
    for query in queries["tab_bench"]:
        attrs, conds, types = [], [], []
        for col, cond in query:
            attrs.append(cols.index(col))
            conds.append(list(cond) if kinds[col] == "num" else [cond])
            types.append(kinds[col])
            errors.append(abs(ns["query_succeed"](arr_r, attrs, conds, types) / len(arr_r)
                              - ns["query_succeed"](arr_s, attrs, conds, types) / len(arr_s)))
    out["tab_bench_query"] = float(np.mean(errors))
    # SynMeter fidelity and queries (categorical values as text, numeric as numbers).
    r, s = real.copy(), synth.copy()
    cat_values = {"c": ["a", "b", "c"], "d": ["u", "v"], "label": ["0", "1"]}
    for f in (r, s):
        for c in cat_values:
            f[c] = f[c].astype(str).astype(object)  # the numpy strings of the pandas SynMeter ran on
    fid = ns["cal_fidelity"](r, s, cat_values)
    out["synmeter_fidelity"] = {k: float(v) for k, v in fid.items()}
    out["synmeter_query"] = {}
    for w, qs in queries["synmeter"].items():
        errs = [abs(ns["cal_query"](r, {c: list(v) if isinstance(v, list) else v for c, v in q})
                    - ns["cal_query"](s, {c: list(v) if isinstance(v, list) else v for c, v in q})) for q in qs]
        out["synmeter_query"][w] = float(np.mean(errs))
    print(json.dumps(out, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("make")
    p = sub.add_parser("score")
    p.add_argument("--tab-bench", type=Path, required=True, help="git dir of a KaiChen9909/margnet snapshot")
    p.add_argument("--synmeter", type=Path, required=True, help="git dir of a zealscott/SynMeter snapshot")
    args = parser.parse_args()
    make() if args.step == "make" else score(args.tab_bench, args.synmeter)


if __name__ == "__main__":
    main()
