"""The scores of one ``privsynth bench`` run: privsynth's own, and the benchmark papers' metrics.

Every score reads real records (it is the researcher's measurement, not a release):

* ``tvd_1``/``tvd_2``/``tvd_3``: privsynth's marginal TVD against the training split on the
  domain's cells (:func:`privsynth.evaluation.marginal_tvd`).
* ``tab_bench_tvd_1``/``tab_bench_tvd_2``/``tab_bench_query``: tab_bench's TVD (numeric columns
  in 100 equal-width bins) and 3-way query error, against the test split as in the paper.
* ``synmeter_*``: SynMeter's fidelity errors (``cat_error``, ``cont_error``, and with
  ``pairs=True`` the 2-way ones) and its 3-way query error ``synmeter_query_3``, against the test split.
* ``ml_*``: ML efficiency (models tuned on the real train -> val split, trained on the synthetic
  records, tested on the real test split), averaged over the models; ``ml_affinity`` is SynMeter's
  relative gap to the same models trained on the real training split.

A table without a test split (Adult as shipped) is scored against its training split and gets no
ML efficiency. The tuned hyperparameters and the real-data scores are computed once per table and
kept in ``reference/TABLE.json`` under the bench folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["score_release", "table_reference", "table_floor"]


def table_reference(table: Any, out: Path, models: Sequence[str]) -> dict[str, Any]:
    """Tuned hyperparameters and real-data ML scores of a table (computed once, then read back)."""
    from privsynth.evaluation.ml_efficiency import ml_efficiency, tune

    path = out / "reference" / f"{table.name}.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("models") == list(models):
            return dict(cached)
    reference: dict[str, Any] = {"models": list(models), "params": {}, "real": {}}
    if len(table.test) and models:
        val = table.val if len(table.val) else table.test
        reference["params"] = tune(table.train, val, table.domain, target=table.target, task=table.task, models=models)
        reference["real"] = ml_efficiency(table.train, table.test, table.domain, target=table.target, task=table.task,
                                          models=models, params=reference["params"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(reference, indent=1))
    os.replace(tmp, path)
    return reference


def table_floor(table: Any, out: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """The scores of the real training split itself: what a perfect synthesizer's release of that size would get.

    The test-split metrics of a perfect release are not 0 (train and test are different samples),
    so the results table shows this floor beside the synthesizers. Computed once per table.
    """
    path = out / "reference" / f"{table.name}_floor.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("models") == reference.get("models"):  # the ML floor follows the models asked for
            return dict(cached)
    floor: dict[str, Any] = {"models": reference.get("models"), **score_release(table, table.train, {}, seed=0)}
    for metric in ("accuracy", "f1_macro", "auc", "r2", "rmse"):
        value = _mean(reference.get("real", {}), metric)
        if value is not None:
            floor[f"ml_{metric}"] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(floor, indent=1))
    return floor


def _mean(scores: dict[str, dict[str, Any]], metric: str) -> float | None:
    values = [s[metric] for s in scores.values() if metric in s]
    return float(np.mean(values)) if values else None


def score_release(table: Any, release: pd.DataFrame, reference: dict[str, Any], *, seed: int, pairs: bool = False) -> dict[str, Any]:
    """Every score of one release (see the module docstring)."""
    from privsynth import evaluation as ev

    domain = table.domain
    row: dict[str, Any] = {}
    for order in (1, 2, 3):
        if order <= len(domain):
            row[f"tvd_{order}"] = ev.marginal_tvd(table.train, release, domain, order=order).average
    real = table.test if len(table.test) else table.train
    tvd = ev.tab_bench_tvd(real, release, domain, target=table.target, task=table.task)
    row.update(tab_bench_tvd_1=tvd.one_way, tab_bench_tvd_2=tvd.two_way,
               tab_bench_query=ev.tab_bench_query_error(real, release, domain, target=table.target, task=table.task, seed=seed))
    if len(release) >= len(real):
        fidelity = ev.synmeter_fidelity(real, release, domain, seed=seed, pairs=pairs)
        row.update({f"synmeter_{k}": v for k, v in fidelity.items()})
    row["synmeter_query_3"] = ev.synmeter_query_error(real, release, domain, n_way=min(3, len(domain)), seed=seed)
    if reference.get("real"):
        scores = ev.ml_efficiency(release, table.test, domain, target=table.target, task=table.task,
                                  models=reference["models"], params=reference["params"], seed=seed)
        for metric in ("accuracy", "f1_macro", "auc", "r2", "rmse"):
            value = _mean(scores, metric)
            if value is not None:
                row[f"ml_{metric}"] = value
        row["ml_affinity"] = ev.ml_affinity(scores, reference["real"])
        row["ml_models"] = "+".join(m for m, s in scores.items() if "unavailable" not in s)
    if table.task == "binary_classification" and len(table.test):
        tstr = ev.train_synthetic_test_real(table.train, table.test, release, domain, target=table.target)
        row.update(tstr_auc=tstr.auc_synthetic, trtr_auc=tstr.auc_real)
    return row
