"""Score the peers' outputs with privsynth's metrics, beside privsynth's own bench runs.

    python benchmarks/peers/score.py --runs /tmp/peers --bench /tmp/bench_default

Writes ``benchmarks/results/peers.csv`` (every peer output's scores) and
``benchmarks/results/peers.md`` (per table: privsynth's best synthesizer and the best peer on
tab_bench's 2-way TVD and on ML efficiency, and every row). Code outputs are decoded as
privsynth's samplers decode (uniform inside a bin); raw outputs are clipped to the published
bounds and categories read as text, as any release would be validated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from privsynth.bench_scores import score_release, table_reference
from privsynth.core.dataset import decode, validate
from privsynth.datasets.benchmark import load
from privsynth.evaluation.ml_efficiency import available_models

RESULTS = Path(__file__).resolve().parents[1] / "results"
SHOWN = ("tvd_2", "tab_bench_tvd_2", "tab_bench_query", "synmeter_cont_error", "ml_f1_macro", "ml_r2", "ml_affinity")


def _release(table, path: Path, info: dict, seed: int) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if info["kind"] == "codes":
        return decode(frame[list(table.domain.names)].to_numpy(), table.domain, rng=np.random.default_rng(seed))
    for col in table.domain.columns:
        if hasattr(col, "categories"):
            frame[col.name] = frame[col.name].astype(str)
    return validate(frame[list(table.domain.names)], table.domain, clip=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--bench", required=True, help="a privsynth bench folder (its reference/ tuned models are reused)")
    parser.add_argument("--out", default=str(RESULTS / "peers"))
    args = parser.parse_args()
    models = list(available_models())
    rows, failed = [], []
    for folder in sorted(p for p in Path(args.runs).iterdir() if p.is_dir()):
        outputs = sorted(folder.glob("*_eps*_seed*.json"))
        if not outputs:
            continue
        table = load(folder.name)
        reference = table_reference(table, Path(args.bench), models)
        for meta_path in outputs:
            info = json.loads(meta_path.read_text())
            if "error" in info:
                failed.append(info)
                continue
            release = _release(table, meta_path.with_suffix(".csv"), info, int(info["seed"]))
            scores = score_release(table, release, reference, seed=int(info["seed"]))
            rows.append({"table": folder.name, "synthesizer": f"{info['peer'].split()[0]}:{info['method']}",
                         "epsilon": info["epsilon"], "seed": info["seed"], "fit_seconds": info["fit_sample_seconds"],
                         "peak_rss_mb": info.get("peak_rss_mb"), **scores})
            print(folder.name, rows[-1]["synthesizer"], round(scores["tab_bench_tvd_2"], 4), flush=True)
    peers = pd.DataFrame(rows)
    out = Path(args.out)
    peers.to_csv(out.with_suffix(".csv"), index=False)
    ours = pd.read_csv(Path(args.bench) / "results.csv")
    write_report(ours, peers, failed, out.with_suffix(".md"))


def write_report(ours: pd.DataFrame, peers: pd.DataFrame, failed: list, path: Path) -> None:
    both = pd.concat([ours.assign(source="privsynth"), peers.assign(source="peer")], ignore_index=True)
    lines = ["# privsynth beside the peers on the benchmark tables", "",
             "Epsilon 1, seed 0, every output scored by privsynth's metrics (`privsynth.bench_scores`): tvd_2 against the "
             "training split on the declared domain's cells; tab_bench / SynMeter metrics and ML efficiency against the test "
             "split. Lower is better except ml_f1_macro and ml_r2. Commands: `privsynth bench --out DIR` and "
             "`benchmarks/peers/README.md`.", "",
             "| table | best privsynth (tab_bench 2-way TVD) | best peer | best privsynth (ML) | best peer (ML) |",
             "|---|---|---|---|---|"]
    for table, part in both.groupby("table"):
        cells = []
        ml = "ml_r2" if "ml_r2" in part and part["ml_r2"].notna().any() else "ml_f1_macro"
        for source in ("privsynth", "peer"):
            group = part[part.source == source]
            best = group.loc[group["tab_bench_tvd_2"].idxmin()] if len(group) else None
            cells.append(f"{best.synthesizer} {best.tab_bench_tvd_2:.4f}" if best is not None else "")
        for source in ("privsynth", "peer"):
            group = part[(part.source == source) & part[ml].notna()] if ml in part else part.iloc[:0]
            best = group.loc[group[ml].idxmax()] if len(group) else None
            cells.append(f"{best.synthesizer} {ml[3:]} {best[ml]:.4f}" if best is not None else "")
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    shown = [c for c in SHOWN if c in both]
    lines += ["", "| table | synthesizer | " + " | ".join(shown) + " | fit s |", "|---|---|" + "---|" * (len(shown) + 1)]
    for row in both.sort_values(["table", "source", "synthesizer"]).itertuples(index=False):
        vals = ["" if pd.isna(getattr(row, c)) else f"{getattr(row, c):.4f}" for c in shown]
        lines.append(f"| {row.table} | {row.synthesizer} | " + " | ".join(vals) + f" | {row.fit_seconds:.1f} |")
    if failed:
        lines += ["", "Peers that failed here:", ""] + [f"- {f['peer']} {f['method']} on {f['table']}: {f['error']}"
                                                           + (f" (raised at {f['where']})" if "where" in f else "") for f in failed]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
