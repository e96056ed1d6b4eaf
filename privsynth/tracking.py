"""Experiment tracking with lineage: each pipeline run logged to an MLflow tracking store.

``pipeline.run(..., tracking="mlflow")`` (or ``tracking={"backend": "mlflow", "uri": ...,
"experiment": ...}``, or the Hydra option ``tracking=mlflow``) logs, per run:

* **params** -- dataset name, synthesizer, epsilon, delta, accountant, seed, the release size and
  every public parameter of the synthesizer (``synthesizer.<name>``; never the fit's secret
  ``random_state``);
* **metrics** -- the certificate's spent epsilon/delta (``certificate.epsilon``, recomputed by
  :func:`privsynth.privacy.certificate.verify`: ``certificate.recomputed_epsilon``) and every
  number in ``metrics.json`` (nested keys joined with ``.``), fit and sample seconds;
* **artifacts** -- ``release/`` (synthetic.parquet, certificate.json, domain.yaml,
  model.privsynth: publishable) and ``private/`` (metrics.json, run.json: as private as the
  data -- they hold exact statistics of it);
* **lineage tags** -- ``privsynth.dataset.name`` and ``privsynth.dataset.uri`` (where the data
  was read from: a locator, not its content), ``privsynth.domain.fingerprint`` (a hash of the
  *public* domain), ``privsynth.synthesizer``, ``privsynth.code.version`` and
  ``privsynth.code.git_commit`` (with ``-dirty`` for uncommitted changes), the certificate's
  validity and the sha256 of the released files, ``privsynth.sweep`` and, inside a sweep,
  ``mlflow.parentRunId``: every run of a Hydra multirun is a child of one parent run per sweep.

For a ``reproducible`` run the seed also seeded the fit and is the secret the guarantee rests
on: it is left out of the params, the run name and the ``run_dir`` tag (Hydra's folder names
hold it); only the private ``run.json`` artifact keeps it.

**No hash of the private data is ever logged**: a hash of the data lets anyone holding the store
test a guessed dataset (add or remove one person, hash, compare) -- a membership oracle with
certainty. The store still holds the evaluation on real data (``metrics.json``), so keep it as
private as the data; publish only the ``release/`` artifacts.

Local stores: ``uri="sqlite:///path/mlflow.db"`` (the default is ``sqlite:///mlflow.db`` in the
working directory) keeps runs in SQLite and artifacts in files beside it (``mlartifacts/``).
``privsynth report --mlflow URI`` reads runs back into the sweep report.

Needs the ``tracking`` extra: ``pip install 'privsynth[tracking]'`` (mlflow-skinny, SQLAlchemy).

Example:
    >>> tracker = MLflowTracking.from_spec({"backend": "mlflow", "uri": "sqlite:///runs.db", "experiment": "adult"})
    >>> tracker.experiment
    'adult'
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

if TYPE_CHECKING:
    from privsynth.core.domain import Domain
    from privsynth.datasets.spec import DatasetSpec
    from privsynth.synthesizers.base import Synthesizer

__all__ = ["MLflowTracking", "quiet", "resolve_tracking", "dataset_uri", "code_version", "flatten_metrics", "TAG"]

#: Prefix of privsynth's tags.
TAG = "privsynth"
_DEFAULT_URI = "sqlite:///mlflow.db"


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError("Tracking needs the 'tracking' extra: pip install 'privsynth[tracking]' (mlflow-skinny, SQLAlchemy).") from exc
    return mlflow


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's store without its noise: no download progress bars, no deprecation warnings
    that MLflow raises inside SQLAlchemy (not ours to fix)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def dataset_uri(spec: DatasetSpec | None) -> str | None:
    """Where a dataset was read from (a locator, never a digest of the content).

    Example:
        >>> from privsynth.datasets import DatasetSpec
        >>> dataset_uri(DatasetSpec(name="census", loader="census", rows=500, seed=1))
        'privsynth:census?rows=500&seed=1'
    """
    if spec is None:
        return None
    if spec.loader == "file":
        return Path(str(spec.path)).resolve().as_uri() if spec.path else None
    if spec.loader == "census":
        return f"privsynth:census?rows={spec.rows}&seed={spec.seed}"
    if spec.loader == "adult" and not spec.path:
        return "privsynth:adult (packaged UCI Adult)"
    where = spec.path or spec.data_dir or os.environ.get("PRIVSYNTH_DATA") or "../shared/data"
    return f"privsynth:{spec.loader}?from={where}"


def code_version() -> dict[str, str]:
    """privsynth's version and, from a git checkout, its commit (``-dirty`` with local changes)."""
    from privsynth import __version__

    out = {"version": __version__}
    root = Path(__file__).resolve().parents[1]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
            return out  # installed, not a checkout (a repository around site-packages is someone else's)
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode == 0 and commit.stdout.strip():
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                   text=True, timeout=10)
            out["git_commit"] = commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    return out


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numbers of a nested mapping, keys joined with ``.`` (booleans as 0/1).

    Example:
        >>> flatten_metrics({"tvd_2": 0.05, "audit": {"epsilon_lower_bound": 0.4, "ok": True}, "name": "x", "bad": float("nan")})
        {'tvd_2': 0.05, 'audit.epsilon_lower_bound': 0.4, 'audit.ok': 1.0}
    """
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, prefix=f"{name}."))
        elif isinstance(value, (bool, int, float)) and math.isfinite(float(value)):
            out[name] = float(value)
    return out


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]  # MLflow's limit on a param value


@dataclass
class MLflowTracking:
    """Logs pipeline runs to an MLflow tracking store (see the module docstring).

    Args:
        uri: Tracking URI; ``sqlite:///path.db`` for a local store (default ``sqlite:///mlflow.db``).
        experiment: Experiment name (created on first use).
        artifact_root: Where a *new* experiment keeps artifacts (default: ``mlartifacts/`` beside
            a SQLite file, else the server's default).
    """

    uri: str = _DEFAULT_URI
    experiment: str = "privsynth"
    artifact_root: str | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> "MLflowTracking":
        """From ``"mlflow"``, a mapping ``{backend: mlflow, uri, experiment, artifact_root}``, or an instance."""
        if isinstance(spec, MLflowTracking):
            return spec
        if spec == "mlflow":
            return cls()
        if isinstance(spec, Mapping) and spec.get("backend") == "mlflow":
            unknown = sorted(set(spec) - {"backend", "uri", "experiment", "artifact_root"})
            if unknown:
                raise ValueError(f"tracking: unknown key(s) {unknown}; it takes backend, uri, experiment, artifact_root.")
            return cls(uri=str(spec.get("uri") or _DEFAULT_URI), experiment=str(spec.get("experiment") or "privsynth"),
                       artifact_root=spec.get("artifact_root"))
        raise ValueError(f"tracking must be None, 'mlflow' or a mapping with backend: mlflow (or none), got {spec!r}.")

    # -- store ------------------------------------------------------------------------------------
    def client(self) -> Any:
        return _mlflow().MlflowClient(tracking_uri=self.uri)

    def experiment_id(self, create: bool = True) -> str | None:
        client = self.client()
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        if not create:
            return None
        root = self.artifact_root
        if root is None and self.uri.startswith("sqlite:///"):
            root = (Path(self.uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
        try:
            return str(client.create_experiment(self.experiment, artifact_location=root))
        except Exception:  # created meanwhile by a parallel job of the same sweep
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)

    def sweep_parent(self, sweep: str, sweep_dir: str | os.PathLike) -> str:
        """The parent run of a sweep: created once, its id kept in ``<sweep_dir>/mlflow_parent.json``
        (under a file lock, so parallel jobs of one sweep share it)."""
        folder = Path(sweep_dir)
        folder.mkdir(parents=True, exist_ok=True)
        record = folder / "mlflow_parent.json"
        with _locked(folder / ".mlflow_parent.lock"):
            if record.is_file():
                known = json.loads(record.read_text())
                if known.get("uri") == self.uri and known.get("experiment") == self.experiment:
                    return str(known["run_id"])
            client = self.client()
            run = client.create_run(self.experiment_id(), run_name=f"sweep {sweep}",
                                    tags={f"{TAG}.kind": "sweep", f"{TAG}.sweep": sweep, f"{TAG}.sweep_dir": str(folder.resolve())})
            client.set_terminated(run.info.run_id)
            record.write_text(json.dumps({"uri": self.uri, "experiment": self.experiment, "run_id": run.info.run_id}))
            return str(run.info.run_id)

    # -- one run ----------------------------------------------------------------------------------
    def log_run(self, run_dir: str | os.PathLike, *, summary: Mapping[str, Any], metrics: Mapping[str, Any], synthesizer: Synthesizer,
                domain: Domain, dataset: DatasetSpec | None = None, sweep: Mapping[str, Any] | None = None) -> str:
        """Log one finished run (its folder written by :func:`privsynth.pipeline.run`); returns the MLflow run id."""
        from privsynth.core.io import file_sha256
        from privsynth.pipeline import RELEASE
        from privsynth.privacy.certificate import verify

        out = Path(run_dir)
        secret_seed = bool(summary.get("reproducible"))  # then `seed` also seeded the fit: the secret of the guarantee
        client = self.client()
        experiment_id = self.experiment_id()
        cert = synthesizer.certificate_
        check = verify(cert)
        tags = {f"{TAG}.kind": "run", f"{TAG}.synthesizer": type(synthesizer).__name__,
                f"{TAG}.domain.fingerprint": domain.fingerprint(), f"{TAG}.domain.provenance": domain.provenance,
                f"{TAG}.certificate.valid": str(cert.valid).lower(), f"{TAG}.certificate.verified": str(check.ok).lower(),
                f"{TAG}.reproducible": str(bool(secret_seed)).lower()}
        if not secret_seed:  # a reproducible run's folder name holds the seed the guarantee rests on
            tags[f"{TAG}.run_dir"] = str(out.resolve())
        tags.update({f"{TAG}.code.{k}": v for k, v in code_version().items()})
        if dataset is not None:
            tags[f"{TAG}.dataset.name"] = dataset.name
            uri = dataset_uri(dataset)
            if uri:
                tags[f"{TAG}.dataset.uri"] = uri
        for name, rel in dict(summary.get("files") or {}).items():
            if (out / rel).is_file():
                tags[f"{TAG}.release.{name}.sha256"] = file_sha256(out / rel)
        if getattr(synthesizer, "signed_by_", None):
            tags[f"{TAG}.model.signed_by"] = str(synthesizer.signed_by_)
        if sweep:
            if sweep.get("name"):
                tags[f"{TAG}.sweep"] = str(sweep["name"])
            if sweep.get("parent_run_id"):
                tags["mlflow.parentRunId"] = str(sweep["parent_run_id"])
        run_name = f"{type(synthesizer).__name__} eps={cert.limit.epsilon:g}" + ("" if secret_seed else f" seed={summary.get('seed')}")
        run = client.create_run(experiment_id, run_name=run_name, tags=tags)
        run_id = run.info.run_id
        try:
            accountant = cert.accountant.get("name") if isinstance(cert.accountant, Mapping) else cert.accountant
            params = {"dataset": summary.get("dataset"), "synthesizer": type(synthesizer).__name__, "epsilon": cert.limit.epsilon,
                      "delta": cert.limit.delta, "accountant": accountant,
                      "seed": None if secret_seed else summary.get("seed"), "reproducible": summary.get("reproducible"),
                      "n_synthetic": summary.get("n_synthetic")}
            params.update({f"synthesizer.{k}": v for k, v in synthesizer.public_params().items() if k != "random_state"})
            if sweep and sweep.get("overrides"):
                overrides = [str(o) for o in sweep["overrides"] if not (secret_seed and str(o).lstrip("+").startswith("seed="))]
                params["overrides"] = " ".join(overrides)
            values = {"certificate.epsilon": cert.spent.epsilon, "certificate.delta": cert.spent.delta,
                      "certificate.recomputed_epsilon": check.recomputed_epsilon}
            values.update({k: v for k, v in flatten_metrics(metrics).items() if not k.split(".")[-1].startswith("n_")})
            _mlflow()
            from mlflow.entities import Metric, Param

            client.log_batch(run_id, params=[Param(k, _param_value(v)) for k, v in params.items() if v is not None],
                             metrics=[Metric(k, v, int(time.time() * 1000), 0) for k, v in values.items()])
            release = out / RELEASE
            if release.is_dir():
                client.log_artifacts(run_id, str(release), artifact_path="release")
            with tempfile.TemporaryDirectory() as tmp:
                for name in ("metrics.json", "run.json"):
                    if (out / name).is_file():
                        (Path(tmp) / name).write_bytes((out / name).read_bytes())
                client.log_artifacts(run_id, tmp, artifact_path="private")
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
        return str(run_id)

    # -- reading back ----------------------------------------------------------------------------
    def runs(self, sweep: str | None = None) -> list[Any]:
        """The finished privsynth runs of the experiment (of one sweep if named), oldest first."""
        experiment_id = self.experiment_id(create=False)
        if experiment_id is None:
            raise FileNotFoundError(f"No experiment {self.experiment!r} in the tracking store {self.uri!r}.")
        query = f"tags.`{TAG}.kind` = 'run'" + (f" and tags.`{TAG}.sweep` = '{sweep}'" if sweep else "")
        found = self.client().search_runs([experiment_id], filter_string=query, max_results=50_000, order_by=["attributes.start_time ASC"])
        return list(found)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (POSIX ``flock``; no locking where it is missing)."""
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve_tracking(spec: Any) -> MLflowTracking | None:
    """``None``/``"none"``/``{backend: none}`` -> no tracking; else an :class:`MLflowTracking`."""
    if spec is None or spec == "none" or (isinstance(spec, Mapping) and spec.get("backend") in (None, "none")):
        return None
    return MLflowTracking.from_spec(spec)
