import json

import pandas as pd
import pytest

import privsynth as ps
from privsynth.pipeline import MARKER, RELEASE, RELEASE_FILES, ConfigError, load_dataset, run, run_config, validate_config
from privsynth.report import collect_runs, write_report
from privsynth.synthesizers import IndependentMarginals

FAST = {"tvd_orders": [1, 2], "utility": True, "anonymity": True, "membership": True, "mia_n_eval": 200, "mia_bootstrap": 10}
DATASET = {"name": "census", "loader": "census", "rows": 600, "target": "sex", "positive": "Male", "sensitive": "diagnosis"}


def factory(eps=1.0):
    return lambda seed: IndependentMarginals(epsilon=eps, random_state=seed)


def test_run_writes_release_and_metrics_and_skips_when_done(tmp_path):
    data, domain = load_dataset(DATASET)
    report = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET)
    assert {p.name for p in (tmp_path / "r").iterdir()} == {RELEASE, "metrics.json", MARKER}
    assert {p.name for p in (tmp_path / "r" / RELEASE).iterdir()} == set(RELEASE_FILES.values())
    assert report.summary["verified"] and not report.skipped
    for key in ("tvd_1", "tvd_2", "tstr_auc", "trtr_auc", "k_anonymity", "l_diversity", "t_closeness", "mia_dcr_auc", "mia_density_auc"):
        assert key in report.metrics, key
    released = pd.read_parquet(tmp_path / "r" / RELEASE / "synthetic.parquet")
    assert len(released) == report.summary["n_synthetic"] and report.summary["n_members"] + report.summary["n_holdout"] == 600
    assert 440 <= report.summary["n_members"] <= 520  # Binomial(600, 0.8): mean 480, sd 9.8
    model = ps.load(tmp_path / "r" / RELEASE / "model.privsynth")
    assert len(released) == max(1, model.n_hat_)  # the DP count, not the members'
    cert = json.loads((tmp_path / "r" / RELEASE / "certificate.json").read_text())
    assert cert["release"]["rows"] == len(released) and ps.Certificate.from_dict(cert) == model.certificate_
    again = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET)
    assert again.skipped and again.metrics == json.loads(json.dumps(report.metrics))
    redo = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", evaluation=FAST, dataset=DATASET,
               overwrite=True)
    assert not redo.skipped


def test_release_size_is_never_the_member_count(tmp_path):
    """Issue #9, item 5: the default release size was len(members), an exact count published with
    the release. At a test-only tiny epsilon the DP count is noise-dominated."""
    data, domain = load_dataset(DATASET)
    sizes = [run(data=data, domain=domain, synthesizer_factory=factory(1e-3), output_dir=tmp_path / str(i), seed=i,
                 evaluation={"tvd_orders": [1], "utility": False, "anonymity": False, "membership": False}).summary
             for i in range(3)]
    assert all(s["n_synthetic"] != s["n_members"] for s in sizes)
    run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "fixed", n_synthetic=123,
                evaluation={"tvd_orders": [1], "utility": False, "anonymity": False, "membership": False})
    assert len(pd.read_parquet(tmp_path / "fixed" / RELEASE / "synthetic.parquet")) == 123


def test_unfinished_run_is_redone_from_scratch(tmp_path):
    data, domain = load_dataset(DATASET)
    out = tmp_path / "r"
    out.mkdir()
    (out / "synthetic.parquet").write_text("half-written")
    (out / "stale.tmp").write_text("x")
    report = run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=out, evaluation={"membership": False}, dataset=DATASET)
    assert not report.skipped and not (out / "stale.tmp").exists() and not (out / "synthetic.parquet").exists()
    assert len(pd.read_parquet(out / RELEASE / "synthetic.parquet")) == report.summary["n_synthetic"]


def test_report_flags_a_forged_certificate_and_lists_unfinished_runs(tmp_path):
    data, domain = load_dataset(DATASET)
    for eps in (1.0, 3.0):
        for seed in (0, 1):
            run(data=data, domain=domain, synthesizer_factory=factory(eps), output_dir=tmp_path / f"eps={eps}" / f"seed={seed}",
                seed=seed, evaluation={"tvd_orders": [1, 2], "membership": False, "anonymity": False}, dataset=DATASET)
    forged = tmp_path / "eps=3.0" / "seed=1" / RELEASE / "certificate.json"
    doc = json.loads(forged.read_text())
    doc["entries"] = doc["entries"][:1]  # claims the full spend with fewer mechanism calls
    forged.write_text(json.dumps(doc))
    (tmp_path / "eps=9.0" / "seed=0").mkdir(parents=True)
    (tmp_path / "eps=9.0" / "seed=0" / RELEASE).mkdir()
    (tmp_path / "eps=9.0" / "seed=0" / RELEASE / "synthetic.parquet").write_text("killed mid-write")
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
    ({"privacy": {"epsilon": 1, "delta": 1e-3}, "dataset": DATASET}, "privacy.delta=0.001 is above"),
    ({"privacy": {"epsilon": 1, "accountant": "x"}, "dataset": DATASET}, "privacy.accountant"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "file", "path": "/nope.csv", "domain": "/nope.yaml"}}, "dataset.path"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "adult", "data_dir": "/nope"}}, "dataset.data_dir"),
    ({"privacy": {"epsilon": 1}, "dataset": {"loader": "magic"}}, "dataset.loader"),
    ({"privacy": {"epsilon": 1}, "dataset": DATASET, "holdout_fraction": 1.5}, "holdout_fraction"),
    ({"privacy": {"epsilon": 1}, "dataset": DATASET, "n_synthetic": 0}, "n_synthetic"),
    ({"privacy": {"epsilon": 1}, "dataset": DATASET, "sign_key": "/no/such.key"}, "sign_key"),
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


class _Recording(IndependentMarginals):
    """IndependentMarginals that remembers the records it was fitted on (tests only)."""

    fitted_on: list = []

    def fit(self, data, domain, **kwargs):
        type(self).fitted_on.append(data.copy() if isinstance(data, pd.DataFrame) else data)
        return super().fit(data, domain, **kwargs)


def _members(tmp_path, data, domain, *, name, **kwargs):
    _Recording.fitted_on = []
    run(data=data, domain=domain, synthesizer_factory=lambda s: _Recording(epsilon=1.0, random_state=s), output_dir=tmp_path / name,
        evaluation={"tvd_orders": [1], "utility": False, "anonymity": False, "membership": False}, **kwargs)
    return _Recording.fitted_on[-1]


def test_the_split_is_not_a_function_of_the_public_seed(tmp_path):
    """Issue #21, item 1: on 785087b the members were permutation(seed=0)[n_hold:], so anyone who
    knew the (public, default) seed recomputed them; the members of D and D + t then differed in
    hundreds of records. Now each record is held out independently with private randomness."""
    data, domain = load_dataset(DATASET)
    first = _members(tmp_path, data, domain, name="a", seed=0)
    second = _members(tmp_path, data, domain, name="b", seed=0)
    assert not first.equals(second)  # the same public seed, different members: fresh OS entropy each run


def test_a_reproducible_split_keeps_every_member_when_a_record_is_added(tmp_path):
    """With a (secret) seed, record i keeps its draw when a record t is appended, so members(D + t)
    minus t is members(D): the coupling under which the certificate's guarantee carries over."""
    data, domain = load_dataset(DATASET)
    base, target = data.iloc[:-1].reset_index(drop=True), data.iloc[-1:]
    without = _members(tmp_path, base, domain, name="d", seed=1234, reproducible=True)
    with_t = _members(tmp_path, pd.concat([base, target], ignore_index=True), domain, name="dt", seed=1234, reproducible=True)
    assert len(with_t) - len(without) in (0, 1)
    pd.testing.assert_frame_equal(with_t.iloc[: len(without)], without)


def test_the_certificate_states_how_the_split_was_drawn(tmp_path):
    data, domain = load_dataset(DATASET)
    run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r",
        evaluation={"tvd_orders": [1], "utility": False, "anonymity": False, "membership": False})
    cert = json.loads((tmp_path / "r" / RELEASE / "certificate.json").read_text())
    assert any("holdout split" in a and "never from the public run seed" in a for a in cert["assumptions"])
    assert cert["release"]["model"] == RELEASE_FILES["model"]
    assert ps.Certificate.from_dict(cert) == ps.load(tmp_path / "r" / RELEASE / "model.privsynth").certificate_


def test_a_wrong_target_is_a_config_error_before_anything_is_written(tmp_path):
    data, domain = load_dataset(DATASET)
    with pytest.raises(ConfigError, match="dataset.target: 'nope' is not a column"):
        run(data=data, domain=domain, synthesizer_factory=factory(), output_dir=tmp_path / "r", dataset={**DATASET, "target": "nope"})
    assert not (tmp_path / "r").exists()


def test_a_run_on_a_table_in_duckdb_fits_every_record_and_evaluates_a_sample(tmp_path):
    pytest.importorskip("duckdb")
    df, domain = ps.datasets.make_census(800, random_state=0)
    df.to_parquet(tmp_path / "d.parquet")
    domain.to_file(tmp_path / "d.yaml")
    cfg = {"privacy": {"epsilon": 1.0}, "seed": 3, "evaluation": {"membership": True, "anonymity": False, "utility": True},
           "dataset": {"name": "big", "loader": "file", "path": str(tmp_path / "d.parquet"), "domain": str(tmp_path / "d.yaml"),
                       "engine": "duckdb", "target": "diagnosis", "positive": "Healthy"}}
    _Recording.fitted_on = []
    report = run_config(cfg, make_synthesizer=lambda s: _Recording(epsilon=1.0, random_state=s), output_dir=tmp_path / "out")
    table = _Recording.fitted_on[-1]
    assert isinstance(table, ps.data.Table) and table.engine == "duckdb" and len(table) == 800
    assert report.summary["n_members"] == 800 and report.summary["n_holdout"] == 0
    assert "tvd_2" in report.metrics and "mia_dcr_auc" not in report.metrics and "tstr_auc" not in report.metrics
    assert "no holdout" in report.metrics["skipped"]
    cert = json.loads((tmp_path / "out" / RELEASE / RELEASE_FILES["certificate"]).read_text())
    assert not any("holdout" in a for a in cert["assumptions"])  # no split was drawn


def test_an_engine_is_for_file_datasets():
    assert ("engine", "an engine reads your own files (loader: file); the other loaders are in memory.") in \
        ps.datasets.DatasetSpec(name="c", loader="census", engine="duckdb").problems()
    assert ps.datasets.DatasetSpec(name="c", loader="file", path="x", domain="y", engine="polars").problems()[0][0] == "engine"
