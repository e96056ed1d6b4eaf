"""Collect a sweep's runs (from its folder, or from an MLflow store) into one tidy table and draw
the privacy/utility/risk frontiers.

Every finished run (a folder with ``run.json``, see :mod:`privsynth.pipeline`) becomes one row:
its configuration, its metrics, and whether its certificate *verifies now* (recomputed from
``certificate.json`` with a fresh accountant, not read from the run's own summary). Runs that fail
verification are flagged and never plotted; unfinished runs are listed and ignored.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from privsynth.core.errors import IntegrityError
from privsynth.pipeline import MARKER, RELEASE, RELEASE_FILES
from privsynth.privacy.certificate import Certificate, verify

__all__ = ["SweepReport", "collect_runs", "collect_tracked_runs", "write_report", "PLOTTED_METRICS"]

#: metric -> axis label, plotted against epsilon when present.
PLOTTED_METRICS = {
    "tvd_2": "average 2-way marginal TVD",
    "tvd_3": "average 3-way marginal TVD",
    "tstr_auc": "train-on-synthetic/test-on-real AUC",
    "mia_dcr_auc": "membership-inference AUC (closest record)",
    "mia_density_auc": "membership-inference AUC (density ratio)",
    "audit_epsilon_lower_bound": "audited epsilon lower bound",
}
_RUN_FILES = (RELEASE, "synthetic.parquet", "certificate.json", "metrics.json", "model.privsynth")


@dataclass(frozen=True)
class SweepReport:
    """Where the table and plots were written, and which runs were flagged or unfinished."""

    table: pd.DataFrame
    csv: Path
    markdown: Path
    plots: tuple = ()
    flagged: tuple = ()
    unfinished: tuple = field(default_factory=tuple)


def collect_runs(sweep_dir: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per finished run under ``sweep_dir``; also the unfinished run folders."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"Sweep folder {str(root)!r} does not exist.")
    rows = []
    for marker in sorted(root.rglob(MARKER)):
        run_dir = marker.parent
        summary = json.loads(marker.read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        problems: list[str] = []
        try:
            cert = Certificate.from_file(_certificate_path(run_dir))
            check = verify(cert)
            problems += list(check.problems)
            if abs(cert.spent.epsilon - float(summary.get("spent_epsilon", cert.spent.epsilon))) > 1e-9:
                problems.append("run.json and certificate.json disagree on the spend")
        except (IntegrityError, FileNotFoundError, OSError) as exc:
            problems.append(f"certificate unreadable: {exc}")
        row = {k: v for k, v in summary.items() if k not in ("files", "config")}
        row.update(_overrides(run_dir))
        row.update(metrics)
        row["verified"] = not problems
        row["problems"] = "; ".join(problems)
        row["run_dir"] = str(run_dir.relative_to(root))
        rows.append(row)
    finished = {Path(r["run_dir"]) for r in rows}
    unfinished = sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_dir() and p.name != RELEASE and p.relative_to(root) not in finished
        and not any(parent in finished for parent in p.relative_to(root).parents)
        and any((p / f).exists() for f in _RUN_FILES)
    )
    return pd.DataFrame(rows), unfinished


def _overrides(run_dir: Path) -> dict[str, Any]:
    """The run's Hydra overrides (``.hydra/overrides.yaml``), one column each, and together --
    seed and experiment preset aside -- as ``overrides``: the configuration a run tries."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    import yaml

    split = [str(o).lstrip("+").split("=", 1) for o in (yaml.safe_load(path.read_text()) or [])]
    pairs = [(p[0], p[1]) for p in split if len(p) == 2 and not p[0].startswith("hydra")]
    out: dict[str, Any] = {f"override.{k}": yaml.safe_load(v) if v else v for k, v in pairs}
    out["overrides"] = " ".join(f"{k}={v}" for k, v in sorted(pairs) if k not in ("seed", "experiment"))  # the configuration
    return out


def _configuration(overrides: str) -> str:
    """The overrides a run tries, sorted, without the seed and the experiment preset (as for run folders)."""
    pairs = sorted(tuple(o.lstrip("+").split("=", 1)) for o in overrides.split() if "=" in o)
    return " ".join(f"{k}={v}" for k, v in pairs if k not in ("seed", "experiment") and not k.startswith("hydra"))


def _frontier(table: pd.DataFrame, x: str, y: str, path: Path) -> Path:
    """Every run as a point of (cost ``x``, error ``y``), colored by synthesizer, with the Pareto
    front (no run is both cheaper and better) drawn and labelled by the runs' overrides."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for synth, group in table.groupby("synthesizer", sort=True):
        ax.scatter(group[x], group[y], label=synth, alpha=0.7)
    ordered = table.sort_values([x, y])
    front = ordered[ordered[y] <= ordered[y].cummin()]
    ax.plot(front[x], front[y], color="black", lw=1, label="Pareto front")
    for _, row in front.iterrows():
        varying = " ".join(part.split(".")[-1] for part in str(row.get("overrides", "")).split() if "synthesizer." in part)
        ax.annotate(varying or row["synthesizer"], (row[x], row[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(f"{x} (log scale)")
    ax.set_ylabel(PLOTTED_METRICS.get(y, y))
    ax.set_title(f"{PLOTTED_METRICS.get(y, y)} against {x}: every run, and the front", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def _certificate_path(run_dir: Path) -> Path:
    """``release/certificate.json`` (runs written before the release folder: ``certificate.json``)."""
    path = run_dir / RELEASE / RELEASE_FILES["certificate"]
    return path if path.exists() else run_dir / RELEASE_FILES["certificate"]


def _plot(table: pd.DataFrame, metric: str, label: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    several = table["dataset"].nunique() > 1
    for (dataset, synth), group in table.groupby(["dataset", "synthesizer"], sort=True):
        stats = group.groupby("epsilon")[metric].agg(["mean", "std", "count"]).reset_index()
        ax.errorbar(stats["epsilon"], stats["mean"], yerr=stats["std"].fillna(0.0), marker="o", capsize=3,
                    label=f"{dataset} / {synth}" if several else synth)
    ax.set_xscale("log")
    ax.set_xlabel("epsilon (log scale)")
    ax.set_ylabel(label)
    ax.set_title(f"{label} vs epsilon (mean ± std over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def collect_tracked_runs(uri: str, *, experiment: str = "privsynth", sweep: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One row per finished run logged to an MLflow store (:mod:`privsynth.tracking`), of one
    sweep if named: its params, metrics and lineage tags, and whether its ``release/certificate.json``
    artifact *verifies now* and is the file the run logged (its sha256 tag). Also the runs that
    did not finish (status other than FINISHED)."""
    from privsynth.core.io import file_sha256
    from privsynth.tracking import TAG, MLflowTracking, quiet

    tracker = MLflowTracking(uri=uri, experiment=experiment)
    client = tracker.client()
    rows, unfinished = [], []
    with tempfile.TemporaryDirectory() as tmp, quiet():
        for run in tracker.runs(sweep=sweep):
            run_id, tags = run.info.run_id, run.data.tags
            if run.info.status != "FINISHED":
                unfinished.append(f"{run_id} ({run.info.status})")
                continue
            problems: list[str] = []
            try:
                local = Path(client.download_artifacts(run_id, f"{RELEASE}/{RELEASE_FILES['certificate']}", tmp))
                if file_sha256(local) != tags.get(f"{TAG}.release.certificate.sha256"):
                    problems.append("the certificate artifact is not the file the run logged (sha256 differs)")
                check = verify(Certificate.from_file(local))
                problems += list(check.problems)
            except Exception as exc:  # noqa: BLE001 - any store or certificate error flags the run
                problems.append(f"certificate unreadable: {exc}")
            params = run.data.params
            row: dict[str, Any] = {"dataset": params.get("dataset"), "synthesizer": params.get("synthesizer"),
                                   "epsilon": float(params["epsilon"]), "delta": float(params.get("delta", 0.0)),
                                   "seed": int(params["seed"]) if "seed" in params else None,
                                   "overrides": _configuration(params.get("overrides", ""))}
            row.update(run.data.metrics)
            row.update({k[len(TAG) + 1:]: v for k, v in tags.items() if k.startswith(f"{TAG}.") and k.split(".")[1] in ("dataset", "domain",
                                                                                                                       "code", "sweep")})
            row["parent_run_id"] = tags.get("mlflow.parentRunId")
            row["verified"] = not problems
            row["problems"] = "; ".join(problems)
            row["run_dir"] = run_id
            rows.append(row)
    return pd.DataFrame(rows), unfinished


def write_report(sweep_dir: str | Path | None = None, out_dir: str | Path | None = None, *, tracking_uri: str | None = None,
                 experiment: str = "privsynth", sweep: str | None = None) -> SweepReport:
    """Write ``runs.csv``, ``runs.md`` and one PNG per metric into ``out_dir`` (default
    ``<sweep_dir>/report``), from a sweep folder or, with ``tracking_uri``, from the runs of an
    MLflow store (``experiment``, and one ``sweep`` if named; ``out_dir`` is then required)."""
    if tracking_uri is not None:
        if out_dir is None:
            raise ValueError("Reading runs from a tracking store needs an output folder (--out).")
        table, unfinished = collect_tracked_runs(tracking_uri, experiment=experiment, sweep=sweep)
        root: Any = f"{tracking_uri} (experiment {experiment!r}{f', sweep {sweep!r}' if sweep else ''})"
        missing = f"No finished privsynth runs in the tracking store {root}."
    elif sweep_dir is not None:
        root = Path(sweep_dir)
        table, unfinished = collect_runs(root)
        missing = f"No finished runs (folders with {MARKER}) under {str(root)!r}."
    else:
        raise ValueError("Give a sweep folder or a tracking URI.")
    out = Path(out_dir) if out_dir is not None else Path(root) / "report"
    out.mkdir(parents=True, exist_ok=True)
    if table.empty:
        raise FileNotFoundError(missing)
    table = table.sort_values(["dataset", "synthesizer", "epsilon", "seed"]).reset_index(drop=True)
    csv = out / "runs.csv"
    table.to_csv(csv, index=False)
    good = table[table["verified"]]
    flagged = tuple(table.loc[~table["verified"], "run_dir"])
    plots = tuple(_plot(good, m, label, out / f"{m}.png") for m, label in PLOTTED_METRICS.items()
                  if m in good.columns and good[m].notna().any() and not good.empty and good["epsilon"].nunique() > 1)
    if {"fit_seconds", "tvd_2"} <= set(good.columns) and len(good) > 1:
        plots += (_frontier(good, "fit_seconds", "tvd_2", out / "frontier.png"),)
    metrics = [m for m in ("tvd_1", "tvd_2", "tvd_3", "tstr_auc", "trtr_auc", "mia_dcr_auc", "mia_density_auc",
                           "k_anonymity", "audit_epsilon_lower_bound", "fit_seconds") if m in table.columns]
    summary = good.groupby(["dataset", "synthesizer", "epsilon"])[metrics].agg(["mean", "std"]) if not good.empty else pd.DataFrame()
    lines = [f"# Sweep report: {root}", "", f"{len(table)} finished runs, {len(flagged)} flagged, {len(unfinished)} unfinished.", ""]
    if flagged:
        lines += ["## Flagged (certificate does not verify; not plotted)", ""]
        lines += [f"- {r}: {p}" for r, p in zip(table.loc[~table['verified'], 'run_dir'], table.loc[~table['verified'], 'problems'])] + [""]
    if unfinished:
        lines += ["## Unfinished (no run.json; ignored)", ""] + [f"- {u}" for u in unfinished] + [""]
    if not summary.empty:
        flat = summary.copy()
        flat.columns = [f"{a} {b}" for a, b in flat.columns]
        lines += ["## Mean and std over seeds", "", flat.round(4).reset_index().to_string(index=False), ""]
    if "overrides" in good.columns and good["overrides"].nunique() > 1:
        keys = ["synthesizer", "epsilon", "overrides"]
        by_config = good.groupby(keys)[[m for m in metrics if m in good.columns]].mean().reset_index()
        ranked = by_config.sort_values("tvd_2" if "tvd_2" in by_config.columns else metrics[0])
        lines += ["## Configurations, best first (mean over seeds)", "", ranked.round(4).to_string(index=False), ""]
    lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    markdown = out / "runs.md"
    markdown.write_text("\n".join(lines) + "\n")
    return SweepReport(table=table, csv=csv, markdown=markdown, plots=plots, flagged=flagged, unfinished=tuple(unfinished))
