"""``privsynth bench``: benchmark tables x synthesizers x epsilons x seeds in one command.

Every run fits on the table's published training split under its declared domain, releases as
many rows as the training split has (a published size), verifies the certificate with a fresh
accountant, and scores the release: 1-/2-/3-way marginal TVD against the training split on the
domain's cells, and, for binary tasks, train-on-synthetic / test-on-real ROC AUC on the
published test split (beside train-on-real). Runs are written one JSON file each as they finish,
so an interrupted bench resumes where it stopped; the summary (mean and standard deviation over
seeds, CSV and markdown) and the plots (metric vs epsilon per table, fidelity vs fit time) are
rebuilt from those files, with the machine, the library versions and the git commit recorded.

Scores read the real records (train and test splits): the results are the researcher's, not a
DP release. Beside privsynth's TVD they include the metrics of the field's two benchmark papers,
tab_bench (SIGMOD 2025) and SynMeter (CCS 2025), named after them (see :mod:`privsynth.bench_scores`).

Example:
    >>> import tempfile
    >>> result = run_bench(tables=["census"], synthesizers=["independent"], epsilons=[1.0], seeds=[0],
    ...                    out_dir=tempfile.mkdtemp(), progress=False)
    >>> row = result.runs.iloc[0]
    >>> row["table"], row["synthesizer"], bool(row["verified"]), bool(0 < row["tvd_2"] < 1)
    ('census', 'independent', True, True)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from privsynth.bench_scores import score_release, table_floor, table_reference
from privsynth.datasets.benchmark import SHARED_TABLES, TABLES, load, shared_tables_available
from privsynth.evaluation.ml_efficiency import available_models
from privsynth.privacy.certificate import library_versions, verify
from privsynth.synthesizers.names import ALL_NAMES, BASIC_NAMES, synthesizer_class

__all__ = ["BenchResult", "run_bench", "default_tables", "default_synthesizers", "METRICS"]

#: The scores of every run (columns of the results table).
METRICS = ("tvd_1", "tvd_2", "tvd_3", "tab_bench_tvd_1", "tab_bench_tvd_2", "tab_bench_query", "synmeter_cat_error",
           "synmeter_cont_error", "synmeter_cat_cat_error", "synmeter_cont_cont_error", "synmeter_cat_cont_error",
           "synmeter_query_3", "ml_accuracy", "ml_f1_macro", "ml_auc", "ml_r2", "ml_rmse", "ml_affinity", "tstr_auc",
           "trtr_auc", "fit_seconds", "sample_seconds", "spent_epsilon")


@dataclass(frozen=True)
class BenchResult:
    """Every run (``runs``), their summary over seeds (``summary``) and where they were written."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    out_dir: Path
    files: tuple


def default_synthesizers() -> list[str]:
    """Every synthesizer when torch and opacus are installed, else the numpy-only ones."""
    import importlib.util

    deep = all(importlib.util.find_spec(m) is not None for m in ("torch", "opacus"))
    return list(ALL_NAMES if deep else BASIC_NAMES)


def default_tables(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Every table that can be read here: Adult and census, and the shared ones when present."""
    return list(TABLES) if shared_tables_available(data_dir) else [t for t in TABLES if t not in SHARED_TABLES]


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


#: The preprocessing variants: DP numeric bins (PrivTree) and DP rare-category merge, on
#: :data:`~privsynth.profiling.dp_preprocess.PREPROCESS_SHARE` of epsilon (the rest fits the synthesizer).
VARIANTS = ("privtree", "merge")


def parse_name(name: str) -> tuple[str, frozenset[str]]:
    """``"mst+privtree+merge"`` -> ``("mst", {"privtree", "merge"})``: the synthesizer and its DP preprocessing."""
    base, *variants = name.split("+")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or len(set(variants)) != len(variants):
        raise ValueError(f"Unknown or repeated variant {(unknown or variants)[0]!r} in {name!r}; the variants are "
                         f"NAME+privtree (DP numeric bins), NAME+merge (DP rare-category merge) and NAME+privtree+merge.")
    synthesizer_class(base)  # unknown names fail here, naming the choices
    return base, frozenset(variants)


def _preprocessed(table: Any, variants: frozenset[str], epsilon: float, seed: int) -> tuple[Any, float]:
    """The papers' DP preprocessing (:func:`~privsynth.profiling.dp_preprocess.dp_preprocess`; the
    published row count is public): the domain it gives and the epsilon left for the synthesizer."""
    from privsynth.profiling.dp_preprocess import dp_preprocess

    steps = [step for variant, step in (("merge", "merge"), ("privtree", "bins")) if variant in variants]
    if not steps:
        return table.domain, epsilon
    return dp_preprocess(table.train, table.domain, epsilon=epsilon, steps=steps, rows=len(table.train), random_state=int(seed))


def _one(table: Any, synthesizer: str, epsilon: float, seed: int, reference: dict[str, Any], pairs: bool) -> dict[str, Any]:
    base, variants = parse_name(synthesizer)
    t0 = time.perf_counter()
    domain, eps = _preprocessed(table, variants, float(epsilon), seed)
    synth = synthesizer_class(base)(epsilon=eps, random_state=int(seed))
    if "progress" in synth.get_params():
        synth.set_params(progress=False)
    synth.fit(table.train, domain)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = synth.sample(len(table.train), random_state=int(seed))  # the published training size: public
    sample_s = time.perf_counter() - t0
    check = verify(synth.certificate_)
    row: dict[str, Any] = {"verified": bool(check.ok), "spent_epsilon": check.recomputed_epsilon, "fit_seconds": fit_s,
                           "sample_seconds": sample_s}
    row.update(score_release(table, out, reference, seed=int(seed), pairs=pairs))
    return row


def run_bench(*, tables: Sequence[str] | None = None, synthesizers: Sequence[str] | None = None,
              epsilons: Sequence[float] = (1.0,), seeds: Sequence[int] = (0,), out_dir: str | os.PathLike,
              data_dir: str | os.PathLike | None = None, ml_models: Sequence[str] | None = None, pairs: bool = False,
              progress: bool = True) -> BenchResult:
    """Run (or resume) a benchmark grid and write its results.

    Args:
        tables: Benchmark table names (default: every one readable here, see :func:`default_tables`).
        synthesizers: Short names (``privsynth.synthesizers.ALL_NAMES``); default all of them when
            the deep extra is installed, else the numpy-only ones. ``NAME+privtree`` runs the
            synthesizer on numeric bins chosen by PrivTree with 10% of epsilon (the papers'
            preprocessing; :func:`privsynth.profiling.dp_bins`), the rest fitting the model;
            ``NAME+merge`` on rare categories merged with DP
            (:func:`privsynth.profiling.dp_merge_rare`), ``NAME+privtree+merge`` on both (10% in all).
        epsilons, seeds: The grid; a seed makes a fit reproducible (research only: it is a secret key).
        out_dir: Where ``runs/``, ``results.csv``, ``summary.csv``, ``summary.md``, ``meta.json`` and
            the plots go. Finished runs found there are not run again.
        data_dir: The shared data folder (default ``$PRIVSYNTH_DATA`` or ``../shared/data``).
        ml_models: Models of the ML efficiency (default: those of ``rf``, ``xgboost``, ``catboost``
            installed here); ``()`` skips it.
        pairs: Also compute SynMeter's 2-way Wasserstein errors (seconds per pair of columns).
        progress: Print a line per run.

    Raises:
        ValueError: an unknown table or synthesizer name (before anything runs).
    """
    names = list(tables) if tables else default_tables(data_dir)
    synthesizers = list(synthesizers) if synthesizers else default_synthesizers()
    models = list(available_models() if ml_models is None else ml_models)
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise ValueError(f"Unknown benchmark table {unknown[0]!r}; choose from {list(TABLES)}.")
    for name in synthesizers:
        parse_name(name)  # unknown names fail now, naming the choices
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    grid = [(t, s, float(e), int(k)) for t in names for s in synthesizers for e in epsilons for k in seeds]
    loaded: dict[str, tuple[Any, dict[str, Any]]] = {}
    for i, (t, s, e, k) in enumerate(grid):
        path = out / "runs" / f"{t}__{s}__eps{e:g}__seed{k}.json"
        if path.is_file():
            continue
        if t not in loaded:
            table = load(t, data_dir=data_dir)
            loaded = {t: (table, table_reference(table, out, models))}  # one table in memory at a time
            table_floor(table, out, loaded[t][1])
        table, reference = loaded[t]
        row = {"table": t, "synthesizer": s, "epsilon": e, "seed": k, **_one(table, s, e, k, reference, pairs)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1))
        os.replace(tmp, path)
        if progress:
            print(f"[{i + 1}/{len(grid)}] {t} {s} epsilon={e:g} seed={k}: 2-way TVD {row.get('tvd_2', float('nan')):.4f}, "
                  f"fit {row['fit_seconds']:.1f} s, certificate {'verified' if row['verified'] else 'NOT VERIFIED'}", flush=True)
    return _write(out, grid)


def _write(out: Path, grid: list) -> BenchResult:
    wanted = {f"{t}__{s}__eps{e:g}__seed{k}.json" for t, s, e, k in grid}
    runs = pd.DataFrame([json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json")) if p.name in wanted])
    metrics = [m for m in METRICS if m in runs.columns]
    grouped = runs.groupby(["table", "synthesizer", "epsilon"], sort=True)
    summary = grouped[metrics].agg(["mean", "std"])
    summary.columns = [f"{m}_{stat}" for m, stat in summary.columns]
    summary = summary.reset_index().assign(seeds=grouped.size().to_numpy(), all_verified=grouped["verified"].all().to_numpy())
    runs.to_csv(out / "results.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    meta = {"machine": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(), "versions": library_versions(),
            "commit": _commit(), "grid": [list(g) for g in grid]}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    lines = ["# privsynth bench", "", f"{len(runs)} runs; commit {meta['commit']}; {meta['machine']}.", "",
             "Mean (sd over seeds). tvd_k: privsynth's average k-way marginal TVD against the training split on the "
             "domain's cells. tab_bench_tvd_2 / tab_bench_query: tab_bench's 2-way TVD (numeric columns in 100 equal-width "
             "bins) and 3-way query error; synmeter_cont_error: SynMeter's 1-D Wasserstein error on min-max scaled numeric "
             "columns; both against the test split (the training split where a table has none). ml_f1_macro: macro-F1 on "
             "the real test split of models tuned on real data and trained on the release (mean over models); ml_affinity: "
             "SynMeter's relative gap to the same models trained on real data (lower is better). (training split): the "
             "scores of the real training split itself, the floor a perfect release of that size would reach.", ""]
    shown = [c for c in ("tvd_1", "tvd_2", "tvd_3", "tab_bench_tvd_2", "tab_bench_query", "synmeter_cont_error", "ml_f1_macro", "ml_r2",
                         "ml_affinity", "fit_seconds") if f"{c}_mean" in summary.columns]
    lines += ["| table | synthesizer | epsilon | " + " | ".join(shown) + " | verified |", "|---|---|---|" + "---|" * (len(shown) + 1)]
    done: set = set()
    floors = {p.name[: -len("_floor.json")]: json.loads(p.read_text()) for p in sorted((out / "reference").glob("*_floor.json"))}
    for row in summary.itertuples(index=False):
        if row.table in floors and (row.table, "floor") not in done:
            done.add((row.table, "floor"))
            floor = floors[row.table]
            lines.append(f"| {row.table} | (training split) | | " + " | ".join(
                "" if c in ("fit_seconds",) or floor.get(c) is None else f"{floor[c]:.4f}" for c in shown) + " | |")
        cells = []
        for c in shown:
            mean, sd = getattr(row, f"{c}_mean"), getattr(row, f"{c}_std")
            cells.append("" if pd.isna(mean) else f"{mean:.4f}" + ("" if pd.isna(sd) else f" ({sd:.4f})"))
        verified = "yes" if row.all_verified else "NO"
        lines.append(f"| {row.table} | {row.synthesizer} | {row.epsilon:g} | " + " | ".join(cells) + f" | {verified} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    files = ["results.csv", "summary.csv", "summary.md", "meta.json", *_plots(out, runs)]
    return BenchResult(runs=runs, summary=summary, out_dir=out, files=tuple(files))


def _plots(out: Path, runs: pd.DataFrame) -> list[str]:
    from privsynth.evaluation.plots import figure

    written = []
    for table, part in runs.groupby("table"):
        if "tvd_2" not in part or part["epsilon"].nunique() < 2:
            continue
        fig, ax = figure(6, 4)
        for synth, rows in part.groupby("synthesizer"):
            mean = rows.groupby("epsilon")["tvd_2"].mean()
            ax.plot(mean.index, mean.to_numpy(), marker="o", label=synth)
        ax.set_xscale("log")
        ax.set_xlabel("epsilon")
        ax.set_ylabel("average 2-way marginal TVD")
        ax.set_title(str(table))
        ax.legend()
        name = f"tvd_2_vs_epsilon_{table}.png"
        fig.savefig(out / name, dpi=90, bbox_inches="tight")
        written.append(name)
    if "tvd_2" in runs:
        fig, ax = figure(6, 4)
        for synth, rows in runs.groupby("synthesizer"):
            ax.scatter(rows["fit_seconds"], rows["tvd_2"], label=synth)
        ax.set_xscale("log")
        ax.set_xlabel("fit seconds")
        ax.set_ylabel("average 2-way marginal TVD")
        ax.legend()
        fig.savefig(out / "tvd_2_vs_fit_time.png", dpi=90, bbox_inches="tight")
        written.append("tvd_2_vs_fit_time.png")
    import matplotlib.pyplot as plt

    plt.close("all")
    return written

