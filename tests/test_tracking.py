"""Experiment tracking against a real local MLflow store (SQLite + file artifacts): what a run
logs, the lineage tags, no digest of the private data anywhere, backfill of finished runs, a
failing store, reading runs back with ``privsynth report --mlflow``, and a Hydra sweep."""

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import privsynth as ps
from privsynth.pipeline import run
from privsynth.synthesizers import IndependentMarginals
from privsynth.tracking import MLflowTracking, dataset_uri, flatten_metrics, resolve_tracking

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")

SPEC = ps.datasets.DatasetSpec(name="census", loader="census", rows=600, seed=0)
FAST = {"membership": False, "utility": False}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its tables takes seconds); each test uses its own experiment."""
    root = tmp_path_factory.mktemp("mlflow")
    return root, f"sqlite:///{root / 'mlflow.db'}"


@pytest.fixture(scope="module")
def sweep(store, census, tmp_path_factory):
    """Two tracked runs of one sweep (epsilon 0.5 and 2)."""
    _, uri = store
    data, domain = census
    out = tmp_path_factory.mktemp("sweep")
    tracking = {"backend": "mlflow", "uri": uri, "experiment": "sweep-test"}
    reports = [run(data=data, domain=domain, output_dir=out / f"eps={eps}", evaluation=FAST, dataset=SPEC, tracking=tracking,
                   synthesizer_factory=lambda s, eps=eps: IndependentMarginals(epsilon=eps, random_state=s),
                   sweep={"name": "grid", "dir": out, "overrides": [f"privacy.epsilon={eps}"]})
               for eps in (0.5, 2.0)]
    return MLflowTracking(uri=uri, experiment="sweep-test"), reports, data, domain


def test_each_run_logs_params_certificate_metrics_and_release_files(sweep):
    tracker, reports, _, _ = sweep
    runs = {r.info.run_id: r for r in tracker.runs()}
    assert set(runs) == {rep.summary["tracking"]["run_id"] for rep in reports}
    for rep in reports:
        logged = runs[rep.summary["tracking"]["run_id"]]
        cert = ps.Certificate.from_file(Path(rep.output_dir) / "release" / "certificate.json")
        assert logged.info.status == "FINISHED"
        assert float(logged.data.params["epsilon"]) == cert.limit.epsilon
        assert logged.data.params["synthesizer"] == "IndependentMarginals" and "synthesizer.bins" in logged.data.params
        assert "synthesizer.random_state" not in logged.data.params
        assert logged.data.metrics["certificate.epsilon"] == pytest.approx(cert.spent.epsilon)
        assert logged.data.metrics["tvd_2"] == pytest.approx(rep.metrics["tvd_2"])
        client = tracker.client()
        assert {a.path for a in client.list_artifacts(logged.info.run_id, "release")} == {
            "release/synthetic.parquet", "release/certificate.json", "release/domain.yaml", "release/model.privsynth"}
        assert {a.path for a in client.list_artifacts(logged.info.run_id, "private")} == {"private/metrics.json", "private/run.json"}
        assert json.loads((Path(rep.output_dir) / "run.json").read_text())["tracking"]["run_id"] == logged.info.run_id


def test_lineage_tags_and_one_parent_run_per_sweep(sweep):
    tracker, reports, _, domain = sweep
    runs = tracker.runs()
    parents = {r.data.tags["mlflow.parentRunId"] for r in runs}
    assert len(parents) == 1
    parent = tracker.client().get_run(parents.pop())
    assert parent.data.tags["privsynth.kind"] == "sweep" and parent.data.tags["privsynth.sweep"] == "grid"
    for r in runs:
        tags = r.data.tags
        assert tags["privsynth.dataset.name"] == "census" and tags["privsynth.dataset.uri"] == "privsynth:census?rows=600&seed=0"
        assert tags["privsynth.domain.fingerprint"] == domain.fingerprint()
        assert tags["privsynth.synthesizer"] == "IndependentMarginals" and tags["privsynth.code.version"] == ps.__version__
        assert tags["privsynth.sweep"] == "grid" and tags["privsynth.certificate.verified"] == "true"
        assert r.data.params["overrides"].startswith("privacy.epsilon=")


def test_no_digest_of_the_private_data_is_logged(sweep):
    """Someone holding the store must not be able to test a guessed dataset by hashing it."""
    tracker, reports, data, _ = sweep
    digests = set()
    for frame in (data, *(data.sample(frac=0.8, random_state=s) for s in range(3))):
        for blob in (frame.to_csv(index=False).encode(), frame.to_json().encode()):
            digests |= {hashlib.sha256(blob).hexdigest(), hashlib.md5(blob).hexdigest()}  # noqa: S324 - looking for any digest
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        digests.add(hashlib.sha256(buffer.getvalue()).hexdigest())
        digests.add(str(int(pd.util.hash_pandas_object(frame, index=False).sum())))
    for r in tracker.runs():
        logged = " ".join([*r.data.tags.values(), *r.data.params.values(), *r.data.tags, *r.data.params])
        assert not any(d in logged for d in digests)
        assert not any(k.split(".")[-1] in ("n_members", "n_holdout") for k in [*r.data.params, *r.data.metrics])
        assert "data_sha256" not in logged and "data.sha256" not in logged


def test_a_finished_untracked_run_is_logged_when_rerun_with_tracking_and_only_once(store, census, tmp_path):
    _, uri = store
    data, domain = census
    tracking = {"backend": "mlflow", "uri": uri, "experiment": "backfill"}
    factory = lambda s: IndependentMarginals(epsilon=1.0, random_state=s)  # noqa: E731
    first = run(data=data, domain=domain, output_dir=tmp_path / "r", evaluation=FAST, synthesizer_factory=factory)
    assert "tracking" not in first.summary
    again = run(data=data, domain=domain, output_dir=tmp_path / "r", evaluation=FAST, synthesizer_factory=factory, tracking=tracking)
    assert again.skipped and again.summary["tracking"]["run_id"]
    third = run(data=data, domain=domain, output_dir=tmp_path / "r", evaluation=FAST, synthesizer_factory=factory, tracking=tracking)
    assert third.summary["tracking"]["run_id"] == again.summary["tracking"]["run_id"]
    assert len(MLflowTracking(uri=uri, experiment="backfill").runs()) == 1


def test_a_failing_store_warns_and_the_run_still_finishes(census, tmp_path):
    data, domain = census
    (tmp_path / "blocker").write_text("a file where the store's folder should be")
    bad = {"backend": "mlflow", "uri": f"sqlite:///{tmp_path / 'blocker' / 'x.db'}"}
    with pytest.warns(RuntimeWarning, match="logging it to the tracking store .* failed"):
        report = run(data=data, domain=domain, output_dir=tmp_path / "r", evaluation=FAST, tracking=bad,
                     synthesizer_factory=lambda s: IndependentMarginals(epsilon=1.0, random_state=s))
    assert (tmp_path / "r" / "run.json").is_file() and "tracking" not in report.summary


def test_report_reads_runs_back_and_flags_a_tampered_certificate(sweep, store, tmp_path):
    tracker, reports, _, domain = sweep
    _, uri = store
    done = subprocess.run([sys.executable, "-m", "privsynth", "report", "--mlflow", uri, "--experiment", "sweep-test", "--sweep", "grid",
                           "--out", str(tmp_path / "rep")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "rep" / "runs.csv")
    assert len(table) == 2 and table["verified"].all() and sorted(table["epsilon"]) == [0.5, 2.0]
    assert (table["domain.fingerprint"] == domain.fingerprint()).all() and (table["dataset.name"] == "census").all()
    # tamper with one run's certificate artifact in the store: the report flags it
    run_id = reports[0].summary["tracking"]["run_id"]
    artifact = Path(tracker.client().get_run(run_id).info.artifact_uri.removeprefix("file://")) / "release" / "certificate.json"
    doc = json.loads(artifact.read_text())
    doc["spent"]["epsilon"] = 0.01
    artifact.write_text(json.dumps(doc))
    from privsynth.report import write_report

    result = write_report(None, tmp_path / "rep2", tracking_uri=uri, experiment="sweep-test")
    assert result.flagged == (run_id,)


def test_tracking_specs():
    assert resolve_tracking(None) is None and resolve_tracking({"backend": "none"}) is None
    assert resolve_tracking("mlflow").uri == "sqlite:///mlflow.db"
    with pytest.raises(ValueError, match="unknown key"):
        resolve_tracking({"backend": "mlflow", "url": "x"})
    with pytest.raises(ValueError, match="tracking must be"):
        resolve_tracking("wandb")
    assert dataset_uri(ps.datasets.DatasetSpec(name="x", loader="file", path="/data/x.csv")) == "file:///data/x.csv"
    assert flatten_metrics({"a": {"b": 1}, "n": None}) == {"a.b": 1.0}


def test_a_hydra_sweep_logs_its_runs_under_one_parent(tmp_path):
    pytest.importorskip("hydra")
    run_py = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    cmd = [sys.executable, str(run_py), "-m", "dataset=census", "dataset.rows=500", "synthesizer=independent", "privacy.epsilon=0.5,2",
           "evaluation=fast", "tracking=mlflow", "sweep_name=tracked"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    tracker = MLflowTracking(uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = tracker.runs(sweep="tracked")
    assert len(runs) == 2 and len({r.data.tags["mlflow.parentRunId"] for r in runs}) == 1
    assert sorted(float(r.data.params["epsilon"]) for r in runs) == [0.5, 2.0]


def test_a_reproducible_runs_seed_stays_out_of_params_name_and_tags(store, census, tmp_path):
    """With reproducible=True the seed seeded the fit: it is the secret, so only the private run.json keeps it."""
    _, uri = store
    data, domain = census
    report = run(data=data, domain=domain, output_dir=tmp_path / "seed=7731", evaluation=FAST, seed=7731, reproducible=True,
                 tracking={"backend": "mlflow", "uri": uri, "experiment": "secret-seed"},
                 sweep={"name": "s", "overrides": ["seed=7731", "privacy.epsilon=1"]},
                 synthesizer_factory=lambda s: IndependentMarginals(epsilon=1.0, random_state=s))
    (logged,) = MLflowTracking(uri=uri, experiment="secret-seed").runs()
    visible = " ".join([logged.info.run_name, *logged.data.tags.values(), *logged.data.params.values()])
    assert "7731" not in visible and "seed" not in logged.data.params
    assert logged.data.tags["privsynth.reproducible"] == "true" and report.summary["seed"] == 7731
