"""Run a small tracked Hydra sweep and list what the MLflow store holds (writes docs/tracking/sweep-listing.md).

    python docs/tracking/sweep_listing.py

The sweep: census (1000 rows), PrivBayes and IndependentMarginals, epsilon 0.5 and 2, in a
temporary folder with ``tracking=mlflow`` (SQLite store + file artifacts). The listing shows the
sweep's parent run, then each run: params, metrics, artifacts and lineage tags, as read back with
MLflow's client; then ``privsynth report --mlflow`` on the same store.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from privsynth.tracking import MLflowTracking, quiet

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "sweep-listing.md"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(ROOT / "experiments" / "run.py"), "-m", "dataset=census", "dataset.rows=1000",
               "synthesizer=privbayes,independent", "privacy.epsilon=0.5,2", "evaluation=fast", "tracking=mlflow", "sweep_name=listing"]
        subprocess.run(cmd, check=True, cwd=tmp, capture_output=True, text=True)
        tracker = MLflowTracking(uri=f"sqlite:///{tmp}/mlflow.db")
        lines = ["# A tracked sweep, read back from the MLflow store", "",
                 f"Produced by `python docs/tracking/sweep_listing.py`: `{' '.join(['python experiments/run.py', *cmd[2:]])}` "
                 "in an empty folder, then MLflow's client on `sqlite:///mlflow.db` (artifacts in `mlartifacts/`).", ""]
        with quiet():
            client = tracker.client()
            runs = tracker.runs(sweep="listing")
            parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
            lines += ["## Parent run of the sweep", "", f"- `{parent.info.run_id}` **{parent.info.run_name}**, tags: "
                      + ", ".join(f"`{k}={v}`" for k, v in sorted(parent.data.tags.items()) if k.startswith("privsynth")), ""]
            lines += ["## Runs", ""]
            for r in runs:
                lines += [f"### {r.info.run_name} (`{r.info.run_id}`, {r.info.status})", ""]
                lines += ["params: " + ", ".join(f"`{k}={v}`" for k, v in sorted(r.data.params.items())
                                                 if not k.startswith("synthesizer.") or k in ("synthesizer.epsilon", "synthesizer.delta")),
                          f"(+ {sum(k.startswith('synthesizer.') for k in r.data.params)} `synthesizer.*` public parameters)", ""]
                keep = ("certificate.epsilon", "certificate.recomputed_epsilon", "certificate.delta", "tvd_1", "tvd_2", "tvd_3",
                        "k_anonymity", "fit_seconds")
                lines += ["metrics: " + ", ".join(f"`{k}={r.data.metrics[k]:.4g}`" for k in keep if k in r.data.metrics), ""]
                artifacts = [a.path for folder in ("release", "private") for a in client.list_artifacts(r.info.run_id, folder)]
                lines += ["artifacts: " + ", ".join(f"`{a}`" for a in artifacts), ""]
                lines += ["tags:", ""] + [f"- `{k}` = `{v}`" for k, v in sorted(r.data.tags.items())
                                          if k.startswith("privsynth") or k == "mlflow.parentRunId"] + [""]
        report = subprocess.run([sys.executable, "-m", "privsynth", "report", "--mlflow", f"sqlite:///{tmp}/mlflow.db", "--sweep", "listing",
                                 "--out", f"{tmp}/report"], check=True, capture_output=True, text=True)
        lines += ["## `privsynth report --mlflow sqlite:///mlflow.db --sweep listing --out report`", "", "```",
                  report.stdout.strip(), "```", "", (Path(tmp) / "report" / "runs.md").read_text().split("## Plots")[0].strip()]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
