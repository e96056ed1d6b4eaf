"""The paper metrics against golden values computed by the papers' own code.

The numbers below come from ``benchmarks/paper_metrics_oracle.py score``: tab_bench's
``tvd_main`` / ``query_succeed`` (KaiChen9909/margnet 8b75032) and SynMeter's ``cal_fidelity`` /
``cal_query`` (zealscott/SynMeter d2a9ba2), run with POT 0.9.7 on ``tests/fixtures/paper_metrics``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from paper_case import CASES, case_domain, case_frames

from privsynth.core.errors import DomainError
from privsynth.evaluation.ml_efficiency import available_models, ml_affinity, ml_efficiency, tune
from privsynth.evaluation.synmeter import earth_movers_distance, synmeter_fidelity, synmeter_query_error
from privsynth.evaluation.tab_bench import tab_bench_query_error, tab_bench_tvd

GOLDEN = {
    "tvd_classification": (0.3314814814814814, 0.6214814814814805),
    "tvd_regression": (0.2888888888888888, 0.5399999999999994),
    "tab_bench_query": 0.07583333333333334,
    "synmeter_fidelity": {"cat_error": 0.22592592592592595, "cont_error": 0.061210050989101095,
                          "cont_cont_error": 0.13685043060962213, "cat_cont_error": 0.2943514762427376,
                          "cat_cat_error": 0.3259259259259259},
    "synmeter_query": {1: 0.14333333333333334, 2: 0.0475, 3: 0.027500000000000004},
}


def _queries(key: str) -> list:
    raw = json.loads((CASES / "queries.json").read_text())[key]
    fix = lambda q: [(c, tuple(v) if isinstance(v, list) else v) for c, v in q]  # noqa: E731
    return [fix(q) for q in raw] if isinstance(raw, list) else {int(w): [fix(q) for q in qs] for w, qs in raw.items()}


@pytest.mark.parametrize("case,target,task", [("tvd_classification", "label", "binary_classification"),
                                              ("tvd_regression", "y", "regression")])
def test_tab_bench_tvd_equals_its_code(case: str, target: str, task: str) -> None:
    real, synth = case_frames()
    got = tab_bench_tvd(real, synth, case_domain(), target=target, task=task)
    assert (got.one_way, got.two_way) == pytest.approx(GOLDEN[case], abs=1e-12)


def test_tab_bench_query_error_equals_its_code_on_the_same_queries() -> None:
    real, synth = case_frames()
    got = tab_bench_query_error(real, synth, case_domain(), queries=_queries("tab_bench"))
    assert got == pytest.approx(GOLDEN["tab_bench_query"], abs=1e-12)


def test_tab_bench_queries_are_drawn_reproducibly_from_real_values() -> None:
    real, synth = case_frames()
    kwargs = dict(n_queries=40, attrs=3, seed=5, target="label", task="binary_classification")
    a = tab_bench_query_error(real, synth, case_domain(), **kwargs)
    assert a == tab_bench_query_error(real, synth, case_domain(), **kwargs)
    assert a == pytest.approx(GOLDEN["tab_bench_query"], abs=1e-12)  # the stored queries were drawn with these arguments
    assert tab_bench_query_error(real, real, case_domain(), n_queries=30) == 0.0


def test_synmeter_fidelity_equals_its_code() -> None:
    real, synth = case_frames()
    got = synmeter_fidelity(real, synth, case_domain())
    assert got == pytest.approx(GOLDEN["synmeter_fidelity"], abs=1e-9)
    assert set(synmeter_fidelity(real, synth, case_domain(), pairs=False)) == {"cat_error", "cont_error"}


@pytest.mark.parametrize("n_way", [1, 2, 3])
def test_synmeter_query_error_equals_its_code_on_the_same_queries(n_way: int) -> None:
    real, synth = case_frames()
    got = synmeter_query_error(real, synth, case_domain(), queries=_queries("synmeter")[n_way])
    assert got == pytest.approx(GOLDEN["synmeter_query"][n_way], abs=1e-12)
    drawn = synmeter_query_error(real, synth, case_domain(), n_way=n_way, n_queries=40, seed=n_way)
    assert drawn == pytest.approx(got, abs=1e-12)


def test_earth_movers_distance_is_the_optimal_transport_between_equal_samples() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(7), rng.random(7)
    cost = np.abs(a[:, None] - b[None, :])
    # In one dimension the optimum matches sorted values.
    assert earth_movers_distance(cost) == pytest.approx(np.abs(np.sort(a) - np.sort(b)).mean(), abs=1e-12)
    with pytest.raises(ValueError, match="square"):
        earth_movers_distance(np.zeros((2, 3)))


def test_synmeter_fidelity_subsamples_large_tables_and_refuses_short_synthetic_data() -> None:
    real, synth = case_frames()
    with pytest.raises(DomainError, match="fewer than"):
        synmeter_fidelity(real, synth.iloc[:10], case_domain())
    big = pd.concat([real] * 60, ignore_index=True)  # 5,400 rows: cut to 3,000 as SynMeter does
    got = synmeter_fidelity(big, big, case_domain(), pairs=False)
    assert got["cat_error"] < 0.05 and got["cont_error"] < 0.05


def test_paper_metrics_name_a_missing_column() -> None:
    real, synth = case_frames()
    with pytest.raises(DomainError, match="'c'"):
        tab_bench_tvd(real, synth.drop(columns="c"), case_domain())


def test_ml_efficiency_scores_and_affinity() -> None:
    real, synth = case_frames()
    domain = case_domain()
    real_scores = ml_efficiency(real, real, domain, target="label", task="binary_classification", models=("rf",))
    assert real_scores["rf"]["accuracy"] > 0.9  # a forest recalls its own training rows
    one_class = synth.assign(label="1")
    const = ml_efficiency(one_class, real, domain, target="label", task="binary_classification", models=("rf",))
    assert const["rf"]["accuracy"] == pytest.approx((real["label"] == "1").mean())
    assert ml_affinity(const, real_scores) > 0
    reg = ml_efficiency(synth, real, domain, target="y", task="regression", models=("rf",))
    assert set(reg["rf"]) == {"r2", "rmse"} and reg["rf"]["rmse"] > 0
    with pytest.raises(DomainError, match="task"):
        ml_efficiency(real, real, domain, target="label", task="clustering")


def test_tune_starts_from_the_defaults_and_returns_params_per_model() -> None:
    real, synth = case_frames()
    params = tune(real, synth, case_domain(), target="label", task="binary_classification", models=("rf",), trials=3)
    assert set(params) == {"rf"} and isinstance(params["rf"], dict)


@pytest.mark.skipif(not {"xgboost", "catboost"} <= set(available_models()), reason="xgboost/catboost not installed")
def test_boosted_models_score_multiclass_with_a_class_missing_from_training() -> None:
    real, synth = case_frames()
    domain = case_domain()
    synth = synth[synth.c != "c"]  # predict c from the rest; the training data never shows class "c"
    got = ml_efficiency(synth, real, domain, target="c", task="multiclass_classification")
    for model in ("xgboost", "catboost", "rf"):
        assert 0 <= got[model]["f1_macro"] <= 1 and 0 <= got[model]["auc"] <= 1
