"""The database run behind ``experiments/relational.py``: its configs compose, a run writes a
verified release and metrics, and a finished run is skipped when the sweep reruns."""

import json

import pytest

from privsynth.relational.experiment import run_database

pytestmark = pytest.mark.filterwarnings("ignore::privsynth.synthesizers.forecast.NoiseDominatedWarning")
hydra = pytest.importorskip("hydra")


def compose(*overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module(config_module="privsynth.configs", version_base="1.3"):
        return OmegaConf.to_container(hydra_compose(config_name="relational", overrides=list(overrides)), resolve=True)


def test_both_database_options_compose():
    assert compose()["database"]["loader"] == "bank"
    files = compose("database=files", "database.path=x", "database.schema=y.yaml", "task=null")
    assert files["database"] == {"loader": "files", "path": "x", "schema": "y.yaml"} and files["task"] is None


def test_a_run_writes_a_verified_release_and_is_skipped_when_finished(tmp_path):
    cfg = compose("database.customers=200", "privacy.epsilon=2")
    metrics = run_database(cfg, output_dir=tmp_path)
    assert metrics["verified"] and metrics["integrity"] == 1.0 and 0 <= metrics["join_auc"] <= 1
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == [
        "accounts.csv", "certificate.json", "customers.csv", "merchants.csv", "transactions.csv"]
    assert json.loads((tmp_path / "metrics.json").read_text())["epsilon"] <= 2.0
    assert run_database(cfg, output_dir=tmp_path)["skipped"] is True


def test_files_need_their_paths(tmp_path):
    with pytest.raises(ValueError, match="database.path"):
        run_database(compose("database=files", "task=null"), output_dir=tmp_path)
