"""The anonymisation risks against anonymeter 1.1 on a shared case, and their properties.

Golden numbers from ``benchmarks/anonymeter_oracle.py score`` (anonymeter 1.1.0 in its own venv)
on ``tests/fixtures/anonymeter``: every record attacked and continuous auxiliary columns, so
anonymeter's attacks are deterministic there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from anonymeter_case import CASE, case_domain, case_frames

from privsynth.core.errors import DomainError
from privsynth.evaluation._singling_out import count_matches, random_queries, univariate_queries
from privsynth.evaluation.anonymisation import inference_risk, linkability_risk, singling_out_risk, success_rate

ANONYMETER = {
    "linkability_ori_full": 94, "linkability_control": 20,
    "inference_g": (223, 133), "inference_c": (75, 12),
    "singling_out_univariate": 12,
    "predicates_unique_in": {"syn": 150, "ori": 39, "control": 35},
    # EvaluationResults(n_attacks=500, n_success=60, n_baseline=5, n_control=25.5, confidence_level=0.9)
    "risk": (0.07250141650911605, (0.042590766852735204, 0.1024120661654969)),
    "attack": (0.12204514655933996, 0.023927350236925295),
    "control": (0.05341650211879903, 0.01631935012829495),
    "baseline": 0.012637162668622552,
}
AUX = (["a", "g"], ["b", "c"])


def test_linkability_counts_equal_anonymeter() -> None:
    ori, syn, control = case_frames()
    d = case_domain()
    full = linkability_risk(ori, syn, d, aux_cols=AUX, n_attacks=len(ori), n_neighbors=3)
    held_out = linkability_risk(control, syn, d, aux_cols=AUX, n_attacks=len(control), n_neighbors=3)
    assert (full.n_success, held_out.n_success) == (ANONYMETER["linkability_ori_full"], ANONYMETER["linkability_control"])


@pytest.mark.parametrize("secret,aux", [("g", ["a", "b", "c"]), ("c", ["a", "b", "g"])])
def test_inference_counts_equal_anonymeter(secret: str, aux: list) -> None:
    ori, syn, control = case_frames()
    d = case_domain()
    got = (inference_risk(ori, syn, d, aux_cols=aux, secret=secret, n_attacks=len(ori)).n_success,
           inference_risk(control, syn, d, aux_cols=aux, secret=secret, n_attacks=len(control)).n_success)
    assert got == ANONYMETER[f"inference_{secret}"]


def test_univariate_singling_out_equals_anonymeter_when_every_predicate_is_tried() -> None:
    ori, syn, _ = case_frames()
    assert singling_out_risk(ori, syn, case_domain(), mode="univariate", n_attacks=5000).n_success == ANONYMETER["singling_out_univariate"]


def test_predicates_match_the_records_anonymeter_matches() -> None:
    d = case_domain()
    predicates = [[tuple(t) for t in p] for p in json.loads((CASE / "predicates.json").read_text())]
    for name, frame in zip(("ori", "syn", "control"), case_frames()):
        assert int(np.sum(count_matches(frame.drop_duplicates(), d, predicates) == 1)) == ANONYMETER["predicates_unique_in"][name]


def test_confidence_arithmetic_equals_anonymeter() -> None:
    from privsynth.evaluation.anonymisation import _risk

    r = _risk("x", 500, 60, 5, 25.5, 0.9)
    assert r.risk == pytest.approx(ANONYMETER["risk"][0], abs=1e-12)
    assert r.ci == pytest.approx(ANONYMETER["risk"][1], abs=1e-12)
    assert success_rate(500, 60, 0.9) == pytest.approx(ANONYMETER["attack"], abs=1e-12)
    assert success_rate(500, 25.5, 0.9) == pytest.approx(ANONYMETER["control"], abs=1e-12)
    assert r.baseline_rate == pytest.approx(ANONYMETER["baseline"], abs=1e-12)


def test_a_copy_of_the_training_data_is_risky_and_independent_data_is_not() -> None:
    ori, syn, control = case_frames()
    d = case_domain()
    copy = singling_out_risk(ori, ori, d, control=control, n_attacks=100, seed=1)
    assert copy.risk > 0.5 and copy.trustworthy
    fresh = singling_out_risk(ori, control, d, control=control, n_attacks=100, seed=1)
    assert fresh.ci[0] <= 0.1
    assert inference_risk(ori, ori, d, aux_cols=["a", "b", "c"], secret="g", control=control).risk > 0.5
    assert linkability_risk(ori, ori, d, aux_cols=AUX, control=control).risk > 0.9


def test_seeded_and_reproducible() -> None:
    ori, syn, control = case_frames()
    d = case_domain()
    a = singling_out_risk(ori, syn, d, control=control, n_attacks=50, seed=3)
    assert a == singling_out_risk(ori, syn, d, control=control, n_attacks=50, seed=3)
    assert 0 <= a.ci[0] <= a.risk <= a.ci[1] <= 1


def test_query_builders_isolate_one_synthetic_record() -> None:
    _, syn, _ = case_frames()
    d = case_domain()
    rng = np.random.default_rng(0)
    uni = univariate_queries(syn, d, 30, rng)
    assert uni and (count_matches(syn, d, uni) == 1).all()
    baseline = random_queries(syn, d, 40, 2, rng)
    assert len(baseline) == 40 and all(len(q) == 2 for q in baseline)


def test_bad_arguments_are_refused_with_the_reason() -> None:
    ori, syn, control = case_frames()
    d = case_domain()
    with pytest.raises(DomainError, match="secret"):
        inference_risk(ori, syn, d, aux_cols=["a", "g"], secret="g")
    with pytest.raises(DomainError, match="not in the domain"):
        linkability_risk(ori, syn, d, aux_cols=(["a"], ["nope"]))
    with pytest.raises(DomainError, match="mode"):
        singling_out_risk(ori, syn, d, mode="bivariate")
