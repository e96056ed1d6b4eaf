"""mbi 2.0's AIM on the benchmark tables: ``benchmarks/mbi_aim_reference.py`` per exported table, in its own venv.

Private-PGM's estimator (``mbi`` 2.0, JAX) ships no AIM; ``mbi_aim_reference.py`` is our runner of the
paper's algorithm against mbi's public API (see its docstring). This loops it over the tables that
``benchmarks/peers/export.py`` wrote, on the same integer codes privsynth's AIM fits (the declared
domain's 16 equal-width public bins), through the shared resumable loop (``_runner.run_all``): one
``mbi_aim_eps<e>_seed<k>.csv`` + ``.json`` per table, failures recorded. The synthetic rows are as
many as the training split (public: the benchmark's published split size).

Set-up (once): ``python -m venv /tmp/mbi-venv && /tmp/mbi-venv/bin/pip install mbi==2.0.0 pandas``
Run: ``/tmp/mbi-venv/bin/python benchmarks/peers/mbi_aim.py --runs /tmp/peers --tables shoppers magic``
then ``python benchmarks/peers/score.py --runs /tmp/peers`` in privsynth's environment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _runner import run_all  # noqa: E402

REFERENCE = Path(__file__).parents[1] / "mbi_aim_reference.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="the folder benchmarks/peers/export.py wrote")
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-model-size", type=float, default=80.0, help="MB (the paper's default)")
    parser.add_argument("--iters", type=int, default=1000, help="mirror-descent steps per round (the paper's)")
    args = parser.parse_args()

    def fit_sample(method: str, folder: Path) -> tuple[pd.DataFrame, str]:
        rows = len(pd.read_csv(folder / "codes.csv", usecols=[0]))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "synth.csv"
            done = subprocess.run([sys.executable, str(REFERENCE), str(folder / "codes.csv"), str(folder / "codes-domain.json"),
                                   "--epsilon", str(args.epsilon), "--delta", str(args.delta), "--seed", str(args.seed),
                                   "--max-model-size", str(args.max_model_size), "--iters", str(args.iters), "--rows", str(rows),
                                   "--out", str(out)], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
            print(json.dumps({"table": folder.name, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)
            return pd.read_csv(out), "codes"

    run_all("mbi 2.0 (reference AIM runner)", "mbi", args.runs, args.tables, ["aim"], args.epsilon, args.delta, args.seed, fit_sample)


if __name__ == "__main__":
    main()
