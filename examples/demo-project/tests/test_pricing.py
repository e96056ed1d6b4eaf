"""Tests that need realistic customers but may not see real ones: the rows come from a certified
DP model (models/census.privsynth, signed by keys/demo-release.pub, epsilon 1). The privsynth
pytest plugin refuses the model before any test runs if its signature, certificate or epsilon do
not meet pyproject.toml's policy."""

import pytest

from demo_pricing import monthly_premium


@pytest.mark.privsynth(model="census.privsynth", n=2000, seed=0)
def test_premiums_stay_within_the_floor_and_the_income_cap(synthetic_data):
    premium = monthly_premium(synthetic_data)
    assert len(premium) == 2000 and premium.notna().all()
    assert (premium >= 20).all()
    assert (premium <= (0.05 * synthetic_data["income"] / 12).clip(lower=20) + 1e-9).all()


@pytest.mark.privsynth(model="census.privsynth", n=500, seed=0, conditions="age >= 65")
def test_retirees_pay_more_than_the_base_rate(synthetic_data):
    assert (synthetic_data["age"] >= 65).all()
    uncapped = synthetic_data["income"] / 12 * 0.05 > 200
    assert (monthly_premium(synthetic_data)[uncapped] > 40).all()


def test_long_hours_lower_the_premium_for_the_same_customer(privsynth_sample):
    base = privsynth_sample("census.privsynth", n=300, conditions=["`hours-per-week` <= 40", "age >= 30"])
    longer = base.assign(**{"hours-per-week": base["hours-per-week"] + 20})
    before, after = monthly_premium(base), monthly_premium(longer)
    assert (after <= before).all()
    assert (after < before).any()


def test_each_test_gets_its_own_copy(privsynth_sample):
    first = privsynth_sample("census.privsynth", n=50)
    first["age"] = -1
    assert (privsynth_sample("census.privsynth", n=50)["age"] >= 0).all()
