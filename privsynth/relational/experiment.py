"""One database run as a plain function -- fit, sample, certify, evaluate, write -- that the Hydra
entry ``experiments/relational.py`` (and a notebook) calls with a plain config dict.

Config (``configs/relational.yaml``): ``database`` (``{"loader": "bank", "customers", "seed",
"max_accounts", "max_transactions", "max_transactions_per_person"}`` or ``{"loader": "files", "path": folder, "schema": file}``),
``synthesizer`` (:class:`RelationalSynthesizer` parameters), ``privacy`` (``epsilon``, ``delta``),
``seed``, ``reproducible``, ``task`` (``{"table", "target", "positive"}`` of a person column, or
null). Writes ``release/<table>.csv``, ``release/certificate.json``, ``model.privsynth`` and
``metrics.json`` into ``output_dir``; a finished run (its ``metrics.json`` exists) is skipped.
``metrics.json`` is the evaluation *against the real tables* (not a DP release: keep it with the
data); ``release/`` and ``model.privsynth`` are what may be published.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from privsynth.datasets.bank import make_bank
from privsynth.evaluation.relational import database_report, join_task_auc
from privsynth.relational.model_file import verify_database
from privsynth.relational.schema import Schema
from privsynth.relational.synthesizer import RelationalSynthesizer

__all__ = ["run_database", "load_database"]


def load_database(spec: Mapping[str, Any]) -> tuple[dict[str, Any], Schema, dict[str, Any] | None]:
    """``(tables, schema, holdout)`` of a ``database`` config (``holdout``: a second real database
    for the task, where the loader can make one)."""
    loader = spec.get("loader")
    if loader == "bank":
        size = {k: int(spec[k]) for k in ("max_accounts", "max_transactions", "max_transactions_per_person") if spec.get(k) is not None}
        tables, schema = make_bank(int(spec.get("customers", 10_000)), random_state=int(spec.get("seed", 0)), **size)
        holdout, _ = make_bank(int(spec.get("customers", 10_000)), random_state=int(spec.get("seed", 0)) + 99, **size)
        return tables, schema, holdout
    if loader == "files":
        if not spec.get("path") or not spec.get("schema"):
            raise ValueError("database=files needs database.path (a folder of <table>.csv/.parquet) and database.schema (YAML).")
        from privsynth.data.relational import frames_by_name, read_related

        schema = Schema.from_file(spec["schema"])

        def reader(name: str, source: Any) -> pd.DataFrame:
            table = schema[name]
            keys = (table.primary_key, *((table.parent.column,) if table.parent else ()))
            return read_related(source, table.domain, keys, table=name)

        return frames_by_name(spec["path"], schema.names, reader), schema, None
    raise ValueError(f"database.loader must be 'bank' or 'files', got {loader!r}.")


def run_database(cfg: Mapping[str, Any], *, output_dir: str | Path) -> dict[str, Any]:
    """Fit, sample, verify and evaluate one database run; returns its metrics."""
    out = Path(output_dir)
    if (out / "metrics.json").is_file() and not cfg.get("overwrite", False):
        return {"skipped": True, **json.loads((out / "metrics.json").read_text())}
    tables, schema, holdout = load_database(cfg["database"])
    seed = int(cfg.get("seed", 0))
    params = {**dict(cfg.get("synthesizer") or {}), **dict(cfg.get("privacy") or {})}
    model = RelationalSynthesizer(**params, random_state=seed if cfg.get("reproducible", False) else None)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(tables, schema)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    db = model.sample(random_state=seed)
    sample_s = time.perf_counter() - start
    (out / "release").mkdir(parents=True, exist_ok=True)
    for name, frame in db.items():
        frame.to_csv(out / "release" / f"{name}.csv", index=False)
    model.certificate_.to_file(out / "release" / "certificate.json")
    model.save(out / "model.privsynth")
    metrics: dict[str, Any] = {"epsilon": model.certificate_.spent.epsilon, "seed": seed, "fit_s": fit_s, "sample_s": sample_s,
                               "verified": verify_database(model.certificate_).ok,
                               "warnings": sorted({str(w.message)[:200] for w in caught}), **database_report(tables, db, schema)}
    task = cfg.get("task")
    if task and holdout is not None:
        metrics["join_auc"] = join_task_auc(db, holdout, schema, target=task["target"], positive=task["positive"])
        metrics["join_auc_real"] = join_task_auc(tables, holdout, schema, target=task["target"], positive=task["positive"])
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics
