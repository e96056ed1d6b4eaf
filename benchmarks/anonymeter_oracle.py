"""Golden values for privsynth's anonymisation risks, computed by anonymeter 1.1 itself.

anonymeter pins numpy < 1.27, so it runs in its own venv (``python -m venv /tmp/oracle-venv &&
/tmp/oracle-venv/bin/pip install anonymeter==1.1.0``), never as a dependency of privsynth.

1. ``python benchmarks/anonymeter_oracle.py make`` (privsynth's environment) writes the shared
   case to ``tests/fixtures/anonymeter/``: original, synthetic (a noisy copy) and control
   records, and privsynth's multivariate singling-out predicates for them (``predicates.json``).
2. ``/tmp/oracle-venv/bin/python benchmarks/anonymeter_oracle.py score`` runs anonymeter's
   evaluators on that case where they are deterministic (every record attacked, continuous
   auxiliary columns so that nearest neighbours have no ties; univariate singling out with more
   attacks than candidate predicates), evaluates privsynth's predicates with anonymeter's query
   evaluation, and its confidence arithmetic on fixed counts; it prints the numbers that
   ``tests/evaluation/test_anonymisation.py`` stores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CASE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "anonymeter"


def make() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluation"))
    from anonymeter_case import case_domain

    from privsynth.evaluation._singling_out import multivariate_queries

    rng = np.random.default_rng(7)

    def table(n: int) -> pd.DataFrame:
        a = np.round(rng.normal(50, 10, n), 3)
        b = np.round(a * 0.5 + rng.normal(0, 5, n), 3)
        c = np.round(rng.gamma(2.0, 10.0, n), 3)
        g = np.where(a + rng.normal(0, 8, n) > 50, np.where(c > 20, "w", "x"), np.where(b > 25, "y", "z"))
        h = rng.choice(["p", "q", "r"], n)
        return pd.DataFrame({"a": a, "b": b, "c": c, "g": g, "h": h})

    ori, control = table(300), table(240)
    syn = ori.copy()
    for col in ("a", "b", "c"):
        syn[col] = np.round(syn[col] + rng.normal(0, 1.0, len(syn)), 3)
    flip = rng.random(len(syn)) < 0.2
    syn.loc[flip, "g"] = rng.choice(["w", "x", "y", "z"], int(flip.sum()))
    syn = syn.sample(frac=1.0, random_state=3).reset_index(drop=True)
    CASE.mkdir(parents=True, exist_ok=True)
    for name, frame in (("ori", ori), ("syn", syn), ("control", control)):
        frame.to_csv(CASE / f"{name}.csv", index=False)
    predicates = multivariate_queries(syn, case_domain(), 150, 3, 20_000, np.random.default_rng(11))
    (CASE / "predicates.json").write_text(json.dumps(predicates) + "\n")
    print(f"wrote {CASE}")


def _as_expr(predicate: list):  # noqa: ANN202 (a polars expression, as anonymeter 1.1 builds its queries)
    import operator
    from functools import reduce

    import polars as pl

    ops = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
    terms = [pl.col(c).is_null() if op == "isna" else ~pl.col(c).is_null() if op == "notna" else ops[op](pl.col(c), v)
             for c, op, v in predicate]
    return reduce(operator.and_, terms)


def score() -> None:
    from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries
    from anonymeter.stats.confidence import EvaluationResults

    ori, syn, control = (pd.read_csv(CASE / f"{n}.csv") for n in ("ori", "syn", "control"))
    n = len(control)  # attack every control record; as many original records
    out: dict = {}
    link = LinkabilityEvaluator(ori=ori, syn=syn, control=control, aux_cols=(["a", "g"], ["b", "c"]), n_attacks=n,
                                n_neighbors=3).evaluate(n_jobs=1)
    out["linkability_ori_full"] = int(LinkabilityEvaluator(ori=ori, syn=syn, aux_cols=(["a", "g"], ["b", "c"]), n_attacks=len(ori),
                                                           n_neighbors=3).evaluate(n_jobs=1).results().n_success)
    out["linkability_control"] = int(link.results().n_control)
    for secret, aux in (("g", ["a", "b", "c"]), ("c", ["a", "b", "g"])):
        numeric = secret == "c"  # anonymeter 1.1 compares exactly unless told the secret is numeric
        full = InferenceEvaluator(ori=ori, syn=syn, aux_cols=aux, secret=secret, n_attacks=len(ori),
                                  regression=numeric).evaluate(n_jobs=1)
        ctrl = InferenceEvaluator(ori=control, syn=syn, aux_cols=aux, secret=secret, n_attacks=len(control),
                                  regression=numeric).evaluate(n_jobs=1)
        out[f"inference_{secret}"] = [int(full.results().n_success), int(ctrl.results().n_success)]
    uni = SinglingOutEvaluator(ori=ori, syn=syn, n_attacks=5000).evaluate(mode="univariate")
    out["singling_out_univariate"] = int(uni.results().n_success)
    predicates = json.loads((CASE / "predicates.json").read_text())
    import polars as pl

    queries = [_as_expr(p) for p in predicates]
    for name, frame in (("syn", syn), ("ori", ori), ("control", control)):
        counts = _evaluate_queries(pl.DataFrame(frame).unique(maintain_order=True), queries)
        out[f"predicates_unique_in_{name}"] = int(sum(c == 1 for c in counts))
    res = EvaluationResults(n_attacks=500, n_success=60, n_baseline=5, n_control=25.5, confidence_level=0.9)
    out["confidence"] = {"risk": list(res.risk()), "attack": list(res.attack_rate), "control": list(res.control_rate),
                         "baseline": list(res.risk(baseline=True))}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    make() if sys.argv[1:] == ["make"] else score() if sys.argv[1:] == ["score"] else sys.exit(__doc__)
