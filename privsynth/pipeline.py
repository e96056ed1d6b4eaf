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

import json
import logging
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.domain import Domain
from privsynth.core.errors import PrivsynthError
from privsynth.core.io import file_sha256
from privsynth.core.signing import KeyLike
from privsynth.datasets.spec import DatasetSpec
from privsynth.privacy.certificate import Certificate, verify
from privsynth.synthesizers.base import Synthesizer
from privsynth.tracking import MLflowTracking, quiet, resolve_tracking

__all__ = ["RunReport", "ConfigError", "Evaluation", "Hardware", "run", "run_config", "validate_config", "load_dataset", "MARKER",
           "RELEASE", "RELEASE_FILES"]

log = logging.getLogger(__name__)
MARKER = "run.json"
#: The folder of a run that holds the release, and its files.
RELEASE = "release"
RELEASE_FILES = {"synthetic": "synthetic.parquet", "certificate": "certificate.json", "domain": "domain.yaml",
                 "model": "model.privsynth"}


class ConfigError(PrivsynthError, ValueError):
    """A run configuration is invalid; the message names the offending key."""


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


# -- data ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """What to measure about a release (the ``evaluation`` config group's ``_target_``).

    Args:
        tvd_orders: Orders of the marginal total-variation distances.
        utility: Train-on-synthetic/test-on-real AUC for the dataset's target.
        anonymity: k, l, t of the release on the dataset's quasi-identifiers / sensitive column.
        membership: Distance-to-closest-record and density-ratio membership inference.
        mia_n_eval, mia_bootstrap: Records scored and bootstrap rounds of the attacks.
        audit_trials: An empirical epsilon lower bound over that many fits (0: no audit).
        audit_rows, audit_jobs: Rows the audit fits on, and parallel fits.
    """

    tvd_orders: tuple = (1, 2, 3)
    utility: bool = True
    anonymity: bool = True
    membership: bool = True
    mia_n_eval: int = 1000
    mia_bootstrap: int = 100
    audit_trials: int = 0
    audit_rows: int = 500
    audit_jobs: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "tvd_orders", tuple(int(o) for o in self.tvd_orders))

    @classmethod
    def from_mapping(cls, spec: "Mapping[str, Any] | Evaluation | None") -> "Evaluation":
        if isinstance(spec, Evaluation):
            return spec
        values = {k: v for k, v in dict(spec or {}).items() if k != "_target_"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"evaluation.{unknown[0]}: unknown key; the evaluation takes {sorted(known)}.")
        return cls(**values)


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


# -- evaluation ------------------------------------------------------------------------------
def _evaluate(members: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, domain: Domain, spec: Evaluation,
              dataset: DatasetSpec | None, factory: Callable[[int], Synthesizer], seed: int) -> dict[str, Any]:
    from privsynth import evaluation as ev

    metrics: dict[str, Any] = {}
    for order in spec.tvd_orders:
        if order <= len(domain):
            metrics[f"tvd_{order}"] = ev.marginal_tvd(members, synthetic, domain, order=order).average
    if spec.utility and dataset is not None and dataset.target:
        tstr = ev.train_synthetic_test_real(members, holdout, synthetic, domain, target=dataset.target, positive=dataset.positive)
        metrics.update(tstr_auc=tstr.auc_synthetic, trtr_auc=tstr.auc_real)
    qis = list((dataset.quasi_identifiers if dataset else None) or domain.with_role("quasi_identifier"))
    sensitive = (dataset.sensitive if dataset else None) or next(iter(domain.with_role("sensitive")), None)
    if spec.anonymity and qis:
        metrics["k_anonymity"] = ev.k_anonymity(synthetic, qis).k
        if sensitive and not synthetic[sensitive].isna().any():
            metrics["l_diversity"] = ev.l_diversity(synthetic, qis, sensitive).l
            metrics["t_closeness"] = ev.t_closeness(synthetic, qis, sensitive, domain=domain).t
    if domain.rules:
        table = ev.rule_violations(domain, real=members, synthetic=synthetic)
        metrics["rule_violations"] = {row["rule"]: {"real": int(row["real"]), "synthetic": int(row["synthetic"])}
                                      for row in table.to_dict("records")}
    if spec.membership:
        mia = ev.membership_inference(synthetic, members, holdout, domain, n_eval=spec.mia_n_eval, n_bootstrap=spec.mia_bootstrap,
                                      random_state=seed)
        for name, attack in mia.attacks.items():
            metrics[f"mia_{name}_auc"] = attack.auc
            metrics[f"mia_{name}_advantage"] = attack.advantage
    if spec.audit_trials:
        audited = ev.audit(factory, members.iloc[: spec.audit_rows], domain, n_trials=spec.audit_trials, n_jobs=spec.audit_jobs,
                           random_state=seed, progress=False)
        metrics.update(audit_epsilon_lower_bound=audited.epsilon_lower_bound, audit_exceeds_claim=audited.exceeds_claim)
    return metrics


# -- the run ---------------------------------------------------------------------------------
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
) -> RunReport:
    """Fit, release and evaluate one synthesizer; see the module docstring for the files.

    Args:
        data, domain: The private table and its public domain.
        synthesizer_factory: ``seed -> unfitted synthesizer`` (``seed`` is ``None`` unless
            ``reproducible``; the audit calls it with integer seeds).
        output_dir: The run's folder.
        seed: Seeds the split and the evaluation (and, with ``reproducible``, the fit).
        reproducible: Also seed the synthesizer's private randomness and the release's sampling
            from ``seed`` (research only: the certificate then says the guarantee rests on the
            seed staying secret, and small seeds are guessable). Default: fresh OS entropy.
        holdout_fraction: Share of records held out (non-members for MIA, test set for TSTR).
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
                from privsynth.synthesizers.base import load

                model = load(model_file)
                spec_ = None if dataset is None else _dataset(dataset)
                summary = _track(tracker, out, summary, metrics, model, model.domain_, spec_, sweep)
            else:
                log.warning("finished run %s has no model file, so it cannot be logged to %s now", out, tracker.uri)
        return RunReport(output_dir=str(out), summary=summary, metrics=metrics, skipped=True, files=summary.get("files", {}))
    if out.exists():  # unfinished (or to be overwritten): start clean
        for child in out.iterdir():
            if child.name not in (".hydra",) and not child.name.endswith(".log"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    release = out / RELEASE
    release.mkdir(parents=True, exist_ok=True)
    spec = Evaluation.from_mapping(evaluation)
    data_spec = None if dataset is None else _dataset(dataset)

    split, sampling = np.random.SeedSequence(seed).spawn(2)
    order = np.random.default_rng(split).permutation(len(data))
    n_hold = max(1, int(round(holdout_fraction * len(data))))
    holdout, members = data.iloc[order[:n_hold]].reset_index(drop=True), data.iloc[order[n_hold:]].reset_index(drop=True)

    synth = synthesizer_factory(seed if reproducible else None)
    t0 = time.perf_counter()
    synth.fit(members, domain)
    fit_s = time.perf_counter() - t0
    size = max(1, int(synth.n_hat_)) if n_synthetic is None else int(n_synthetic)
    t0 = time.perf_counter()
    synthetic = synth.sample(size, random_state=np.random.default_rng(sampling) if reproducible else None)
    sample_s = time.perf_counter() - t0

    files = {name: f"{RELEASE}/{file}" for name, file in RELEASE_FILES.items() if save_model or name != "model"}
    synthetic.to_parquet(out / files["synthetic"], index=False)
    release_block = {"file": RELEASE_FILES["synthetic"], "sha256": file_sha256(out / files["synthetic"]), "rows": size}
    synth.certificate_.to_file(out / files["certificate"], release=release_block, sign_key=sign_key)
    domain.to_file(out / files["domain"])
    if save_model:
        synth.save(out / files["model"], sign_key=sign_key)

    metrics = _evaluate(members, holdout, synthetic, domain, spec, data_spec, synthesizer_factory, seed)
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
        "n_members": len(members),
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
    )
