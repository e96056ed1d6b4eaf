"""One experiment run as a plain function: data -> fit under a budget -> release -> evaluate.

The CLI, the Hydra entry point (``experiments/run.py``) and the notebooks all call :func:`run`.
A run writes into its output folder:

* ``release/`` -- the DP release and nothing else: ``synthetic.parquet``, ``certificate.json``
  (with a ``release`` block: the data file's sha256 and row count; signed with ``sign_key``),
  ``domain.yaml`` and ``model.privsynth``. Its size is the model's DP record count ``n_hat_``
  (or a public ``n_synthetic``), never the number of real records, and no seed is in it;
* ``metrics.json`` -- fidelity, utility, anonymity of the release, membership-inference risk and
  (optionally) an audit;
* ``run.json`` -- written *last*, atomically: a folder without it is an unfinished run. Rerunning
  skips finished runs (unless ``overwrite``) and redoes unfinished ones from scratch, so a
  killed sweep can simply be started again and no half-written release is ever reported.

Only ``release/`` may be published. ``metrics.json``, ``run.json``, the logs and Hydra's
``.hydra/`` folder are the researcher's: they hold exact statistics of the real data (utility on
real records, attack results, split sizes) and, for a reproducible run, the seed -- keep them
as private as the data.

Nothing here imports Hydra: :func:`run_config` takes a plain dict (what Hydra composes).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.domain import Domain
from privsynth.core.errors import ConfigError
from privsynth.core.io import file_sha256
from privsynth.core.rng import PrivateRandomness
from privsynth.core.signing import KeyLike
from privsynth.data.table import FrameTable, Table
from privsynth.datasets.spec import DatasetSpec
from privsynth.evaluation.suite import Evaluation, evaluate_release
from privsynth.mechanisms.sampling import holdout_mask
from privsynth.privacy.budget import check_delta
from privsynth.privacy.certificate import Certificate, verify
from privsynth.synthesizers.base import Synthesizer
from privsynth.tracking import MLflowTracking, quiet, resolve_tracking

__all__ = ["RunReport", "ConfigError", "Evaluation", "Hardware", "run", "run_config", "validate_config", "load_dataset", "MARKER",
           "RELEASE", "RELEASE_FILES"]

#: Records of a table in an engine that the pipeline's evaluation reads (a uniform sample).
ENGINE_EVALUATION_ROWS = 200_000
log = logging.getLogger(__name__)
MARKER = "run.json"
#: The folder of a run that holds the release, and its files.
RELEASE = "release"
RELEASE_FILES = {"synthetic": "synthetic.parquet", "certificate": "certificate.json", "domain": "domain.yaml",
                 "model": "model.privsynth"}


@dataclass(frozen=True)
class RunReport:
    """What one run produced (read back from ``run.json`` when the run was skipped)."""

    output_dir: str
    summary: dict
    metrics: dict
    skipped: bool = False
    files: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"output_dir": self.output_dir, "summary": self.summary, "metrics": self.metrics, "skipped": self.skipped,
                "files": self.files}


@dataclass(frozen=True)
class Hardware:
    """Where DP-SGD synthesizers train (the ``hardware`` config group's ``_target_``): a
    ``device`` and the number of data-parallel ``devices``; synthesizers without those
    parameters ignore them."""

    device: str = "cpu"
    devices: int = 1

    def apply(self, synth: Synthesizer) -> Synthesizer:
        names = synth._param_names()
        return synth.set_params(**{k: v for k, v in (("device", self.device), ("devices", self.devices)) if k in names})


def load_dataset(spec: "Mapping[str, Any] | DatasetSpec") -> tuple[pd.DataFrame, Domain]:
    """Load ``(data, domain)`` from a dataset spec (the ``dataset`` config group); see
    :class:`privsynth.datasets.DatasetSpec`."""
    return _dataset(spec).load()


def _dataset(spec: "Mapping[str, Any] | DatasetSpec") -> DatasetSpec:
    try:
        return DatasetSpec.from_mapping(spec)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"dataset: {exc}") from None


def validate_config(cfg: Mapping[str, Any]) -> None:
    """Check a run config before any work; raises :class:`ConfigError` naming the key."""
    privacy = cfg.get("privacy") or {}
    try:
        checks.number(privacy.get("epsilon"), "privacy.epsilon", low=0, low_open=True)
        checks.number(privacy.get("delta", 0.0), "privacy.delta", low=0, high=1, high_open=True)
        checks.choice(privacy.get("accountant", "rdp"), "privacy.accountant", ("rdp", "pld"))
        checks.number(cfg.get("holdout_fraction", 0.2), "holdout_fraction", low=0, high=1, low_open=True, high_open=True)
        checks.integer(cfg.get("n_synthetic"), "n_synthetic (null: the model's DP record count)", none=True)
    except ValueError as exc:
        key, _, rest = str(exc).partition(" must be ")
        raise ConfigError(f"{key.split(' ')[0]}: must be {rest}") from None
    try:
        check_delta(float(privacy.get("delta") or 0.0), allow_large_delta=bool(privacy.get("allow_large_delta", False)),
                    what="privacy.delta")
    except ValueError as exc:
        raise ConfigError(f"{exc} (config: privacy.allow_large_delta=true)") from None
    for key, problem in _dataset(cfg.get("dataset") or {}).problems():
        raise ConfigError(f"dataset.{key}: {problem}")
    Evaluation.from_mapping(cfg.get("evaluation"))
    try:
        resolve_tracking(cfg.get("tracking"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    sign_key = cfg.get("sign_key")
    if sign_key is not None and not Path(sign_key).is_file():
        raise ConfigError(f"sign_key: file {sign_key!r} does not exist; create a key pair with `privsynth keygen`.")


# -- the run ---------------------------------------------------------------------------------
#: What the certificate of a pipeline run adds to its synthesizer's assumptions.
SPLIT_ASSUMPTION = (
    "fitted on the members of a holdout split of the table handed in: each record held out independently with "
    "probability holdout_fraction, drawn from the fit's private randomness (never from the public run seed), so under a "
    "coupling the members of D + t are those of D plus at most t, and the guarantee holds for the table handed in")


def _check_roles(spec: DatasetSpec | None, domain: Domain) -> None:
    """The dataset's target, quasi-identifiers and sensitive column must be columns of the domain."""
    if spec is None:
        return
    named = {"target": [spec.target], "quasi_identifiers": list(spec.quasi_identifiers or ()), "sensitive": [spec.sensitive]}
    for key, columns in named.items():
        unknown = [c for c in columns if c is not None and c not in domain]
        if unknown:
            raise ConfigError(f"dataset.{key}: {unknown[0]!r} is not a column of the domain (columns: {list(domain.names)}).")


def split_holdout(data: pd.DataFrame, holdout_fraction: float, synth: Synthesizer, *,
                  seed: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(members, holdout)`` of ``data``: each record held out independently (see
    :func:`privsynth.mechanisms.sampling.holdout_mask`), with the private randomness the
    synthesizer's fit uses -- fresh OS entropy, the CSPRNG with ``secure``, or the *secret*
    ``seed`` of a reproducible run."""
    secure = bool(synth.get_params().get("secure", False))
    held = holdout_mask(len(data), holdout_fraction, PrivateRandomness(seed, secure=secure))
    return data.loc[~held].reset_index(drop=True), data.loc[held].reset_index(drop=True)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def run(
    *,
    data: pd.DataFrame,
    domain: Domain,
    synthesizer_factory: Callable[[int | None], Synthesizer],
    output_dir: str | os.PathLike,
    seed: int = 0,
    reproducible: bool = False,
    holdout_fraction: float = 0.2,
    n_synthetic: int | None = None,
    evaluation: "Evaluation | Mapping[str, Any] | None" = None,
    dataset: "DatasetSpec | Mapping[str, Any] | None" = None,
    overwrite: bool = False,
    save_model: bool = True,
    sign_key: KeyLike | None = None,
    extra: Mapping[str, Any] | None = None,
    tracking: Any = None,
    sweep: Mapping[str, Any] | None = None,
    allow_large_delta: bool = False,
) -> RunReport:
    """Fit, release and evaluate one synthesizer; see the module docstring for the files.

    Args:
        data, domain: The private table and its public domain. ``data`` may be a
            :class:`privsynth.data.Table` in an engine (DuckDB, Spark): the fit then reads every
            record there, and the evaluation uses a uniform sample of up to
            :data:`ENGINE_EVALUATION_ROWS` records with no holdout (no TSTR, no membership
            attacks; ``holdout_fraction`` is ignored).
        synthesizer_factory: ``seed -> unfitted synthesizer`` (``seed`` is ``None`` unless
            ``reproducible``; the audit calls it with integer seeds).
        output_dir: The run's folder.
        seed: Seeds the evaluation (public randomness) and, with ``reproducible``, the fit.
        reproducible: Also derive the private randomness -- the holdout split and the fit -- and
            the release's sampling from ``seed`` (research only: the certificate then says the
            guarantee rests on the seed staying secret, and small seeds are guessable). Default:
            fresh OS entropy, so the split differs from run to run.
        holdout_fraction: Expected share of records held out (non-members for MIA, test set for
            TSTR): each record independently, so the holdout's size varies from run to run.
        n_synthetic: Records to release; default: the model's DP record count ``n_hat_`` (at
            least 1) -- never the exact number of training records.
        evaluation: What to measure (:class:`Evaluation`, or its fields as a mapping).
        dataset: The :class:`~privsynth.datasets.DatasetSpec` (or a mapping): its name is recorded,
            its roles used by the evaluators.
        overwrite: Redo a finished run.
        save_model: Also release the model file.
        sign_key: Ed25519 private key signing the model file and the release's certificate.
        extra: More fields for ``run.json`` (e.g. the composed config).
        tracking: ``None``, ``"mlflow"`` or ``{"backend": "mlflow", "uri": ..., "experiment": ...}``:
            also log the run (params, certificate, metrics, release files, lineage tags) to an
            MLflow store (:mod:`privsynth.tracking`). A finished run that was not logged to that
            store yet is logged when the run is skipped. A store that fails warns and leaves the
            run finished (its files are all there); ``run.json`` records the MLflow run id.
        sweep: ``{"name", "dir", "overrides"}`` of the Hydra sweep this run belongs to: tracked runs
            of one sweep share a parent run.
        allow_large_delta: Let the fit use a delta above 1e-4 (config: ``privacy.allow_large_delta``).

    Example:
        >>> import tempfile, privsynth as ps
        >>> df, domain = ps.datasets.make_census(800, random_state=0)
        >>> out = tempfile.mkdtemp()
        >>> report = run(data=df, domain=domain, output_dir=out, evaluation={"membership": False, "utility": False},
        ...              synthesizer_factory=lambda s: ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=s))
        >>> report.summary["verified"], sorted(report.files)
        (True, ['certificate', 'domain', 'model', 'synthetic'])
    """
    out = Path(output_dir)
    marker = out / MARKER
    tracker = resolve_tracking(tracking)
    if marker.is_file() and not overwrite:
        summary = json.loads(marker.read_text())
        metrics = json.loads((out / "metrics.json").read_text())
        log.info("skipping finished run %s", out)
        if tracker is not None and not _tracked_in(summary, tracker):
            model_file = out / summary.get("files", {}).get("model", f"{RELEASE}/{RELEASE_FILES['model']}")
            if model_file.is_file():
                from privsynth.synthesizers.model_file import load

                model = load(model_file)
                spec_ = None if dataset is None else _dataset(dataset)
                summary = _track(tracker, out, summary, metrics, model, model.domain_, spec_, sweep)
            else:
                log.warning("finished run %s has no model file, so it cannot be logged to %s now", out, tracker.uri)
        return RunReport(output_dir=str(out), summary=summary, metrics=metrics, skipped=True, files=summary.get("files", {}))
    data_spec = None if dataset is None else _dataset(dataset)
    _check_roles(data_spec, domain)  # before anything is written: a wrong target must not leave a release behind
    if out.exists():  # unfinished (or to be overwritten): start clean
        for child in out.iterdir():
            if child.name not in (".hydra",) and not child.name.endswith(".log"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    release = out / RELEASE
    release.mkdir(parents=True, exist_ok=True)
    spec = Evaluation.from_mapping(evaluation)

    synth = synthesizer_factory(seed if reproducible else None)
    if isinstance(data, FrameTable):
        data = data.to_frame()
    if isinstance(data, Table):  # in an engine: fit on every record; evaluate on a sample, without a holdout
        fitted_on: Any = data
        t0 = time.perf_counter()
        synth.fit(data, domain, allow_large_delta=allow_large_delta)
        fit_s = time.perf_counter() - t0
        members, holdout = data.sample_frame(ENGINE_EVALUATION_ROWS, seed=seed), data.sample_frame(0)
        log.info("records read by %s: fitted on all of them, evaluated on a sample of up to %d without a holdout",
                 data.engine, ENGINE_EVALUATION_ROWS)
    else:
        members, holdout = split_holdout(data, holdout_fraction, synth, seed=seed if reproducible else None)
        fitted_on = members
        t0 = time.perf_counter()
        synth.fit(members, domain, allow_large_delta=allow_large_delta)
        fit_s = time.perf_counter() - t0
        synth.certificate_ = dataclasses.replace(synth.certificate_, assumptions=(*synth.certificate_.assumptions, SPLIT_ASSUMPTION))
    size = max(1, int(synth.n_hat_)) if n_synthetic is None else int(n_synthetic)
    t0 = time.perf_counter()
    sampling = np.random.SeedSequence(seed).spawn(2)[1]  # public randomness: rows drawn from the fitted model
    synthetic = synth.sample(size, random_state=np.random.default_rng(sampling) if reproducible else None)
    sample_s = time.perf_counter() - t0

    files = {name: f"{RELEASE}/{file}" for name, file in RELEASE_FILES.items() if save_model or name != "model"}
    synthetic.to_parquet(out / files["synthetic"], index=False)
    release_block = {"file": RELEASE_FILES["synthetic"], "sha256": file_sha256(out / files["synthetic"]), "rows": size}
    if save_model:
        synth.save(out / files["model"], sign_key=sign_key)
        release_block.update(model=RELEASE_FILES["model"], model_sha256=file_sha256(out / files["model"]))
    synth.certificate_.to_file(out / files["certificate"], release=release_block, sign_key=sign_key)
    domain.to_file(out / files["domain"])

    metrics = evaluate_release(members, holdout, synthetic, domain, spec, data_spec, synthesizer_factory, seed)
    metrics.update(fit_seconds=fit_s, sample_seconds=sample_s)
    _write_json(out / "metrics.json", metrics)
    cert: Certificate = synth.certificate_
    summary = {
        "dataset": data_spec.name if data_spec else None,
        "synthesizer": type(synth).__name__,
        "epsilon": cert.limit.epsilon,
        "delta": cert.limit.delta,
        "spent_epsilon": cert.spent.epsilon,
        "seed": seed,
        "reproducible": bool(reproducible),
        "verified": verify(cert).ok,
        "signed": sign_key is not None,
        "n_members": len(fitted_on),
        "n_holdout": len(holdout),
        "n_synthetic": size,
        "files": files,
        **dict(extra or {}),
    }
    _write_json(marker, summary)
    if tracker is not None:
        summary = _track(tracker, out, summary, metrics, synth, domain, data_spec, sweep)
    return RunReport(output_dir=str(out), summary=summary, metrics=metrics, files=files)


def _tracked_in(summary: Mapping[str, Any], tracker: MLflowTracking) -> bool:
    done = summary.get("tracking") or {}
    return bool(done.get("run_id")) and done.get("uri") == tracker.uri and done.get("experiment") == tracker.experiment


def _track(tracker: MLflowTracking, out: Path, summary: dict[str, Any], metrics: Mapping[str, Any], synth: Synthesizer,
           domain: Domain, data_spec: DatasetSpec | None, sweep: Mapping[str, Any] | None) -> dict[str, Any]:
    """Log a finished run to the tracking store, then record the MLflow run id in ``run.json``.
    A failing store warns: the run's files are complete and a rerun logs it."""
    try:
        sweep_info = dict(sweep or {})
        if sweep_info.get("dir"):
            with quiet():
                sweep_info["parent_run_id"] = tracker.sweep_parent(str(sweep_info.get("name") or "sweep"), sweep_info["dir"])
        with quiet():
            run_id = tracker.log_run(out, summary=summary, metrics=metrics, synthesizer=synth, domain=domain, dataset=data_spec,
                                     sweep=sweep_info or None)
    except ImportError:
        raise
    except Exception as exc:  # the store, not the run, failed
        warnings.warn(f"The run in {str(out)!r} finished, but logging it to the tracking store {tracker.uri!r} failed ({exc}); "
                      "run it again to log it (finished runs are skipped, and logged).", RuntimeWarning, stacklevel=3)
        return summary
    summary = {**summary, "tracking": {"backend": "mlflow", "uri": tracker.uri, "experiment": tracker.experiment, "run_id": run_id,
                                       "parent_run_id": sweep_info.get("parent_run_id")}}
    _write_json(out / MARKER, summary)
    return summary


def run_config(cfg: Mapping[str, Any], *, make_synthesizer: Callable[[int | None], Synthesizer],
               output_dir: str | os.PathLike, sweep: Mapping[str, Any] | None = None) -> RunReport:
    """Run from a plain config dict (``dataset``, ``privacy``, ``evaluation``, ``hardware``,
    ``seed``, ``reproducible``, ``holdout_fraction``, ``n_synthetic``, ``sign_key``,
    ``overwrite``, ``tracking``); ``make_synthesizer`` builds the synthesizer for a seed (Hydra's
    ``instantiate`` in ``experiments/run.py``), and the ``hardware`` is applied to it. ``sweep``:
    the Hydra sweep the run belongs to (see :func:`run`)."""
    validate_config(cfg)
    dataset = _dataset(cfg["dataset"])
    hardware = Hardware(**{k: v for k, v in dict(cfg.get("hardware") or {}).items() if k != "_target_"})
    data, domain = dataset.load()
    return run(
        data=data,
        domain=domain,
        synthesizer_factory=lambda seed: hardware.apply(make_synthesizer(seed)),
        output_dir=output_dir,
        seed=int(cfg.get("seed", 0)),
        reproducible=bool(cfg.get("reproducible", False)),
        holdout_fraction=float(cfg.get("holdout_fraction", 0.2)),
        n_synthetic=cfg.get("n_synthetic"),
        evaluation=Evaluation.from_mapping(cfg.get("evaluation")),
        dataset=dataset,
        overwrite=bool(cfg.get("overwrite", False)),
        sign_key=cfg.get("sign_key"),
        extra={"config": dict(cfg)},
        tracking=cfg.get("tracking"),
        sweep=sweep,
        allow_large_delta=bool((cfg.get("privacy") or {}).get("allow_large_delta", False)),
    )
