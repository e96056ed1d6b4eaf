import json

import pandas as pd
import pytest

import privsynth as ps
from privsynth.pipeline import MARKER, ConfigError, load_dataset, run, run_config, validate_config
from privsynth.report import collect_runs, write_report
from privsynth.synthesizers import IndependentMarginals

FAST = {"tvd_orders": [1, 2], "utility": True, "anonymity": True, "membership": True, "mia_n_eval": 200, "mia_bootstrap": 10}
DATASET = {"name": "census", "loader": "census", "rows": 600, "target": "sex", "positive": "Male", "sensitive": "diagnosis"}


def factory(eps=1.0):
    return lambda seed: IndependentMarginals(epsilon=eps, random_state=seed)


def test_run_writes_release_and_metrics_and_skips_when_done(tmp_path):
    data, domain = load_dataset(DATASET)
    report = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET)
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"synthetic.parquet", "certificate.json", "domain.yaml", "model.privsynth", "metrics.json", MARKER} <= files
    assert report.summary["verified"] and not report.skipped
    for key in ("tvd_1", "tvd_2", "tstr_auc", "trtr_auc", "k_anonymity", "l_diversity", "t_closeness", "mia_dcr_auc", "mia_density_auc"):
        assert key in report.metrics, key
    assert len(pd.read_parquet(tmp_path / "r" / "synthetic.parquet")) == report.summary["n_members"] == 480
    assert ps.load(tmp_path / "r" / "model.privsynth").certificate_ == ps.Certificate.from_file(tmp_path / "r" / "certificate.json")
    again = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET)
    assert again.skipped and again.metrics == json.loads(json.dumps(report.metrics))
    redo = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET,
               overwrite=True)
    assert not redo.skipped


def test_unfinished_run_is_redone_from_scratch(tmp_path):
    data, domain = load_dataset(DATASET)
    out = tmp_path / "r"
    out.mkdir()
    (out / "synthetic.parquet").write_text("half-written")
    (out / "stale.tmp").write_text("x")
    report = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=out, evaluation={"membership": False}, dataset=DATASET)
    assert not report.skipped and not (out / "stale.tmp").exists()
    assert len(pd.read_parquet(out / "synthetic.parquet")) == 480


def test_report_flags_a_forged_certificate_and_lists_unfinished_runs(tmp_path):
    data, domain = load_dataset(DATASET)
    for eps in (1.0, 3.0):
        for seed in (0, 1):
            run(data=data, domain=domain, synthesizer_factory=factory(eps), output_dir=tmp_path / f"eps={eps}" / f"seed={seed}",
                seed=seed, evaluation={"tvd_orders": [1, 2], "membership": False, "anonymity": False}, dataset=DATASET)
    forged = tmp_path / "eps=3.0" / "seed=1" / "certificate.json"
    doc = json.loads(forged.read_text())
    doc["entries"] = doc["entries"][:1]  # claims the full spend with fewer mechanism calls
    forged.write_text(json.dumps(doc))
    (tmp_path / "eps=9.0" / "seed=0").mkdir(parents=True)
    (tmp_path / "eps=9.0" / "seed=0" / "synthetic.parquet").write_text("killed mid-write")
    table, unfinished = collect_runs(tmp_path)
    assert len(table) == 4 and table["verified"].sum() == 3 and unfinished == ["eps=9.0/seed=0"]
    result = write_report(tmp_path)
    assert result.flagged == ("eps=3.0/seed=1",) and result.csv.exists()
    assert any(p.name == "tvd_2.png" for p in result.plots)
    text = result.markdown.read_text()
    assert "Flagged" in text and "eps=3.0/seed=1" in text and "Unfinished" in text


@pytest.mark.parametrize("cfg, key", [
    ({"privacy": {"epsilon": -1}, "dataset": DATASET}, "privacy.epsilon"),
    ({"privacy": {"epsilon": 1, "delta": 2}, "dataset": DATASET}, "privacy.delta"),
    ({"privacy": {"epsilon": 1, "accountant": "x"}, "dataset": DATASET}, "privacy.accountant"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "file", "path": "/nope.csv", "domain": "/nope.yaml"}}, "dataset.path"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "adult", "data_dir": "/nope"}}, "dataset.data_dir"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "magic"}}, "dataset.loader"),
    ({"privacy": {"epsilon": 1}, "dataset": DATASET, "holdout_fraction": 1.5}, "holdout_fraction"),
])
def test_bad_configs_name_the_key(cfg, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(cfg)


def test_run_config_with_a_file_dataset(tmp_path):
    df, domain = ps.datasets.make_census(300, random_state=0)
    df.to_csv(tmp_path / "d.csv", index=False)
    domain.to_file(tmp_path / "d.yaml")
    cfg = {"privacy": {"epsilon": 1.0}, "seed": 3, "evaluation": {"membership": False, "anonymity": False, "utility": False},
           "dataset": {"name": "mine", "loader": "file", "path": str(tmp_path / "d.csv"), "domain": str(tmp_path / "d.yaml")}}
    report = run_config(cfg, make_synthesizer=factory(), output_dir=tmp_path / "out")
    assert report.summary["dataset"] == "mine" and report.summary["seed"] == 3 and report.summary["config"]["seed"] == 3
