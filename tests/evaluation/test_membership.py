import pytest

import privsynth as ps
from privsynth.evaluation.membership import membership_inference
from privsynth.synthesizers import IndependentMarginals


def test_copy_of_the_data_is_caught_and_a_dp_release_is_not(census):
    data, domain = census
    members, holdout = data.iloc[:750], data.iloc[750:]
    copy = membership_inference(members, members, holdout, domain, n_bootstrap=50)
    assert copy.attacks["dcr"].auc > 0.95 and copy.attacks["dcr"].tpr_at_1pct_fpr > 0.5
    assert copy.median_dcr_members == 0.0 < copy.median_dcr_non_members
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(members, domain).sample(750)
    dp = membership_inference(syn, members, holdout, domain, n_bootstrap=50)
    for result in dp.attacks.values():
        assert abs(result.auc - 0.5) < 0.08
        lo, hi = result.ci["auc"]
        assert lo <= result.auc <= hi
    assert set(dp.to_dict()["attacks"]) == {"dcr", "density"}


def test_shadow_model_attack_on_outlier_targets(census):
    data, domain = census
    members, holdout = data.iloc[:500], data.iloc[500:]
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(members, domain).sample(500)
    result = membership_inference(
        syn, members, holdout, domain, attacks=["dcr"], n_bootstrap=0,
        synthesizer_factory=lambda s: IndependentMarginals(epsilon=1.0, random_state=s), n_targets=2, n_shadow=16, shadow_size=200,
    )
    assert len(result.targets) == 2 and all(0 <= t.auc <= 1 for t in result.targets)
    assert all(0 <= t.target < len(members) for t in result.targets)


def test_bad_input(census):
    data, domain = census
    with pytest.raises(ValueError, match="Unknown attacks"):
        membership_inference(data, data, data, domain, attacks=["magic"])
    with pytest.raises(ps.DomainError, match="non-empty"):
        membership_inference(data.iloc[:0], data, data, domain)


@pytest.mark.slow
def test_adult_dp_release_vs_copy():
    data, domain = ps.datasets.load_adult()
    members = data.sample(5000, random_state=0)
    holdout = data.drop(members.index).sample(5000, random_state=1)
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(members, domain).sample(5000)
    dp = membership_inference(syn, members, holdout, domain, n_eval=2000)
    copy = membership_inference(members, members, holdout, domain, n_eval=2000)
    assert abs(dp.attacks["dcr"].auc - 0.5) < 0.05 and copy.attacks["dcr"].auc > 0.95
