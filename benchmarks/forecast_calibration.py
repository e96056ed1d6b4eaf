"""Calibrate and check the budget forecast against what the marginal synthesizers measure.

For each benchmark table, marginal synthesizer and epsilon (one seed), fit on the training split,
release as many rows, and compare the measured 1-way TVD (against the training split, on the
domain's cells) with the forecast made from the domain, epsilon and the published row count
only. The calibration factor per synthesizer is the median of
``sqrt(measured^2 - sampling^2) / noise`` (the forecast's noise part, uncalibrated); the report
gives it, the rank correlation of forecast and measurement, and how well the noise-dominated flag
separates the runs whose measured 1-way TVD reaches the threshold.

    python benchmarks/forecast_calibration.py            # writes benchmarks/results/forecast_calibration.{json,md}
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from privsynth.bench import default_tables
from privsynth.datasets.benchmark import load
from privsynth.evaluation import marginal_tvd
from privsynth.synthesizers.forecast import CALIBRATION, NOISE_DOMINATED_TVD, forecast
from privsynth.synthesizers.names import synthesizer_class

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--synthesizers", nargs="+", default=sorted(CALIBRATION))
    parser.add_argument("--out", default=str(RESULTS / "forecast_calibration"))
    args = parser.parse_args()
    rows = []
    for table_name in args.tables or default_tables():
        table = load(table_name)
        for name in args.synthesizers:
            for eps in args.epsilons:
                f = forecast(name, table.domain, epsilon=eps, rows=len(table.train))
                model = synthesizer_class(name)(epsilon=eps, random_state=0)
                if "progress" in model.get_params():
                    model.set_params(progress=False)
                t0 = time.perf_counter()
                model.fit(table.train, table.domain)
                release = model.sample(len(table.train), random_state=0)
                measured = marginal_tvd(table.train, release, table.domain, order=1).average
                raw_noise = f.noise_tvd_1 / CALIBRATION[name]
                rows.append({"table": table_name, "synthesizer": name, "epsilon": eps, "rows": len(table.train),
                             "measured_tvd_1": measured, "forecast_tvd_1": f.tvd_1, "noise_tvd_1": raw_noise,
                             "sampling_tvd_1": f.sampling_tvd_1, "noise_dominated": f.noise_dominated,
                             "seconds": time.perf_counter() - t0})
                print(json.dumps(rows[-1]), flush=True)
    report(rows, Path(args.out))


def report(rows: list[dict], out: Path) -> None:
    lines = ["# Forecast calibration", "", "Command: `python benchmarks/forecast_calibration.py` (one seed; 1-way TVD against "
             "the training split on the domain's cells; forecast from the domain, epsilon and the published row count).", "",
             "| synthesizer | runs | factor (median) | Spearman forecast vs measured | flagged runs measuring >= threshold | "
             "unflagged runs measuring >= threshold |", "|---|---|---|---|---|---|"]
    factors = {}
    for name in sorted({r["synthesizer"] for r in rows}):
        part = [r for r in rows if r["synthesizer"] == name]
        ratios = [math.sqrt(max(r["measured_tvd_1"] ** 2 - r["sampling_tvd_1"] ** 2, 0.0)) / r["noise_tvd_1"] for r in part]
        factors[name] = float(np.median(ratios))
        rho = spearmanr([r["forecast_tvd_1"] for r in part], [r["measured_tvd_1"] for r in part]).statistic
        flagged = [r for r in part if r["noise_dominated"]]
        hit = sum(r["measured_tvd_1"] >= NOISE_DOMINATED_TVD for r in flagged)
        missed = sum(r["measured_tvd_1"] >= NOISE_DOMINATED_TVD for r in part if not r["noise_dominated"])
        lines.append(f"| {name} | {len(part)} | {factors[name]:.3f} | {rho:.2f} | {hit}/{len(flagged)} | {missed} |")
    lines += ["", "| table | synthesizer | epsilon | measured 1-way TVD | forecast | noise-dominated |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['table']} | {r['synthesizer']} | {r['epsilon']:g} | {r['measured_tvd_1']:.4f} | "
                     f"{r['forecast_tvd_1']:.4f} | {'yes' if r['noise_dominated'] else 'no'} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"factors": factors, "runs": rows}, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:6 + len(factors)]))


if __name__ == "__main__":
    main()
