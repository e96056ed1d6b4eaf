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
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import PrivsynthError
from privsynth.core.io import file_sha256
from privsynth.core.signing import KeyLike
from privsynth.privacy.certificate import Certificate, verify
from privsynth.synthesizers.base import Synthesizer

__all__ = ["RunReport", "ConfigError", "run", "run_config", "validate_config", "load_dataset", "MARKER", "RELEASE", "RELEASE_FILES"]

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
        return {"output_dir": self.output_dir, "summary": self.summary, "metrics": self.metrics, "skipped": self.skipped, "files": self.files}


# -- data ------------------------------------------------------------------------------------
def load_dataset(spec: Mapping[str, Any]) -> tuple[pd.DataFrame, Domain]:
    """Load ``(data, domain)`` from a dataset spec (the ``dataset`` config group).

    ``loader`` is one of ``census`` (built-in; ``rows``, ``seed``), ``adult``,
    ``adult_discretized``, ``arx_adult`` (shared data; ``data_dir`` optional) or ``file``
    (``path`` to CSV/Parquet, ``domain`` file, optional ``read`` options for pandas).
    """
    from privsynth import datasets

    loader = spec.get("loader")
    folder = spec.get("data_dir")
    if loader == "census":
        return datasets.make_census(int(spec.get("rows", 5000)), random_state=int(spec.get("seed", 0)))
    if loader == "adult":
        path = Path(folder) / "adult.csv" if folder else None
        return datasets.load_adult(path=path)
    if loader == "adult_discretized":
        return datasets.load_adult_discretized(folder=folder)
    if loader == "arx_adult":
        return datasets.load_arx_adult(folder=folder)
    if loader == "file":
        domain = Domain.from_file(spec["domain"])
        return datasets.read_table(spec["path"], domain, **dict(spec.get("read") or {})), domain
    raise ConfigError(f"dataset.loader: unknown loader {loader!r}; use census, adult, adult_discretized, arx_adult or file.")


def validate_config(cfg: Mapping[str, Any]) -> None:
    """Check a run config before any work; raises :class:`ConfigError` naming the key."""
    privacy = cfg.get("privacy") or {}
    eps, delta = privacy.get("epsilon"), privacy.get("delta", 0.0)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise ConfigError(f"privacy.epsilon: must be a finite number > 0, got {eps!r}.")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta < 1:
        raise ConfigError(f"privacy.delta: must be in [0, 1), got {delta!r}.")
    if privacy.get("accountant", "rdp") not in ("rdp", "pld"):
        raise ConfigError(f"privacy.accountant: must be 'rdp' or 'pld', got {privacy.get('accountant')!r}.")
    dataset = cfg.get("dataset") or {}
    if dataset.get("loader") == "file":
        for key in ("path", "domain"):
            if not dataset.get(key) or not Path(dataset[key]).is_file():
                raise ConfigError(f"dataset.{key}: file {dataset.get(key)!r} does not exist.")
    elif dataset.get("loader") in ("adult", "adult_discretized", "arx_adult"):
        from privsynth.datasets import data_dir

        try:
            data_dir(dataset.get("data_dir"))
        except FileNotFoundError as exc:
            raise ConfigError(f"dataset.data_dir: {exc}") from None
    elif dataset.get("loader") != "census":
        raise ConfigError(f"dataset.loader: unknown loader {dataset.get('loader')!r}.")
    split = cfg.get("holdout_fraction", 0.2)
    if not isinstance(split, (int, float)) or not 0 < split < 1:
        raise ConfigError(f"holdout_fraction: must be in (0, 1), got {split!r}.")
    size = cfg.get("n_synthetic")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(f"n_synthetic: must be a positive integer or null (the model's DP record count), got {size!r}.")
    key = cfg.get("sign_key")
    if key is not None and not Path(key).is_file():
        raise ConfigError(f"sign_key: file {key!r} does not exist; create a key pair with `privsynth keygen`.")


# -- evaluation ------------------------------------------------------------------------------
def _evaluate(members: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, domain: Domain, spec: Mapping[str, Any],
              dataset: Mapping[str, Any], factory: Callable[[int], Synthesizer], seed: int) -> dict[str, Any]:
    from privsynth import evaluation as ev

    metrics: dict[str, Any] = {}
    for order in spec.get("tvd_orders", (1, 2, 3)):
        if order <= len(domain):
            metrics[f"tvd_{order}"] = ev.marginal_tvd(members, synthetic, domain, order=order).average
    target = dataset.get("target")
    if spec.get("utility", True) and target:
        res = ev.train_synthetic_test_real(members, holdout, synthetic, domain, target=target, positive=dataset.get("positive"))
        metrics.update(tstr_auc=res.auc_synthetic, trtr_auc=res.auc_real)
    qis = list(dataset.get("quasi_identifiers") or domain.with_role("quasi_identifier"))
    sensitive = dataset.get("sensitive") or next(iter(domain.with_role("sensitive")), None)
    if spec.get("anonymity", True) and qis:
        metrics["k_anonymity"] = ev.k_anonymity(synthetic, qis).k
        if sensitive and not synthetic[sensitive].isna().any():
            metrics["l_diversity"] = ev.l_diversity(synthetic, qis, sensitive).l
            metrics["t_closeness"] = ev.t_closeness(synthetic, qis, sensitive).t
    if spec.get("membership", True):
        mia = ev.membership_inference(synthetic, members, holdout, domain, n_eval=int(spec.get("mia_n_eval", 1000)),
                                      n_bootstrap=int(spec.get("mia_bootstrap", 100)), random_state=seed)
        for name, res in mia.attacks.items():
            metrics[f"mia_{name}_auc"] = res.auc
            metrics[f"mia_{name}_advantage"] = res.advantage
    audit_trials = int(spec.get("audit_trials", 0) or 0)
    if audit_trials:
        res = ev.audit(factory, members.iloc[: int(spec.get("audit_rows", 500))], domain, n_trials=audit_trials,
                       n_jobs=int(spec.get("audit_jobs", 1)), random_state=seed, progress=False)
        metrics.update(audit_epsilon_lower_bound=res.epsilon_lower_bound, audit_exceeds_claim=res.exceeds_claim)
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
    evaluation: Mapping[str, Any] | None = None,
    dataset: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    save_model: bool = True,
    sign_key: KeyLike | None = None,
    extra: Mapping[str, Any] | None = None,
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
        evaluation: Options: ``tvd_orders``, ``utility``, ``anonymity``, ``membership``,
            ``mia_n_eval``, ``mia_bootstrap``, ``audit_trials`` (0 = no audit), ``audit_rows``.
        dataset: The dataset spec (``name``, ``target``, ``positive``, ``quasi_identifiers``,
            ``sensitive``), recorded and used by the evaluators.
        overwrite: Redo a finished run.
        save_model: Also release the model file.
        sign_key: Ed25519 private key signing the model file and the release's certificate.
        extra: More fields for ``run.json`` (e.g. the composed config).

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
    if marker.is_file() and not overwrite:
        summary = json.loads(marker.read_text())
        metrics = json.loads((out / "metrics.json").read_text())
        log.info("skipping finished run %s", out)
        return RunReport(output_dir=str(out), summary=summary, metrics=metrics, skipped=True, files=summary.get("files", {}))
    if out.exists():  # unfinished (or to be overwritten): start clean
        for child in out.iterdir():
            if child.name not in (".hydra",) and not child.name.endswith(".log"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    release = out / RELEASE
    release.mkdir(parents=True, exist_ok=True)
    evaluation = dict(evaluation or {})
    dataset = dict(dataset or {})

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

    metrics = _evaluate(members, holdout, synthetic, domain, evaluation, dataset, synthesizer_factory, seed)
    metrics.update(fit_seconds=fit_s, sample_seconds=sample_s)
    _write_json(out / "metrics.json", metrics)
    cert: Certificate = synth.certificate_
    summary = {
        "dataset": dataset.get("name"),
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
    return RunReport(output_dir=str(out), summary=summary, metrics=metrics, files=files)


def run_config(cfg: Mapping[str, Any], *, make_synthesizer: Callable[[int | None], Synthesizer],
               output_dir: str | os.PathLike) -> RunReport:
    """Run from a plain config dict (``dataset``, ``privacy``, ``evaluation``, ``hardware``,
    ``seed``, ``reproducible``, ``holdout_fraction``, ``n_synthetic``, ``sign_key``,
    ``overwrite``); ``make_synthesizer`` builds the synthesizer for a seed (Hydra's
    ``instantiate`` in ``experiments/run.py``)."""
    validate_config(cfg)
    data, domain = load_dataset(cfg["dataset"])
    return run(
        data=data,
        domain=domain,
        synthesizer_factory=make_synthesizer,
        output_dir=output_dir,
        seed=int(cfg.get("seed", 0)),
        reproducible=bool(cfg.get("reproducible", False)),
        holdout_fraction=float(cfg.get("holdout_fraction", 0.2)),
        n_synthetic=cfg.get("n_synthetic"),
        evaluation=cfg.get("evaluation") or {},
        dataset=cfg["dataset"],
        overwrite=bool(cfg.get("overwrite", False)),
        sign_key=cfg.get("sign_key"),
        extra={"config": dict(cfg)},
    )
