"""The pytest plugin hands out whole synthetic databases from a database model file."""

from pathlib import Path

import pytest

from privsynth.pytest_plugin import SyntheticDataCache

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "database2"


def test_a_database_model_gives_tables_that_join_and_are_cached_as_copies():
    cache = SyntheticDataCache(trusted_keys=[], max_epsilon=1.0, require_valid=True, model_dir=FIXTURE)
    db = cache.sample("bank.privsynth", n=30, seed=0)
    assert set(db) == {"customers", "accounts", "transactions", "merchants"} and len(db["customers"]) == 30
    assert db["accounts"]["customer_id"].isin(db["customers"]["customer_id"]).all()
    db["accounts"].drop(db["accounts"].index, inplace=True)
    assert len(cache.sample("bank.privsynth", n=30, seed=0)["accounts"]) > 0  # a test cannot change another's data
    with pytest.raises(pytest.UsageError, match="conditions"):
        cache.sample("bank.privsynth", n=5, conditions="segment == 'mass'")


def test_the_trust_policy_applies_to_database_models():
    strict = SyntheticDataCache(trusted_keys=[], max_epsilon=0.5, require_valid=True, model_dir=FIXTURE)
    with pytest.raises(Exception, match="epsilon"):
        strict.sample("bank.privsynth", n=5)
