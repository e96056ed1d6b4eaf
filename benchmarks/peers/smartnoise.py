"""smartnoise-synth 1.0.8 on the benchmark tables (run in its own venv, /tmp/snv; see benchmarks/smartnoise_reference.py).

MST and AIM (on mbi 1.1) run on privsynth's integer codes of the training split with the declared
domain's levels (the marginal methods on the same discretization as privsynth's; smartnoise's
defaults otherwise: AIM degree 2, 80 MB, rounds from its default); DP-CTGAN and PATE-CTGAN run on
the raw records, continuous columns min-max scaled on the benchmark's published bounds (no budget
spent on bounds) and categorical ones one-hot, with smartnoise's default networks and epochs.

    /tmp/snv/bin/python benchmarks/peers/smartnoise.py --tables obesity --methods mst aim --runs /tmp/peers

DP-CTGAN and PATE-CTGAN also need torch and the opacus smartnoise-synth pins (``<0.15``):
``/tmp/snv/bin/pip install torch==2.13.0 packaging && /tmp/snv/bin/pip install --no-deps opacus==0.14.0``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runner import read_raw, run_all  # noqa: E402
from smartnoise_reference import fit_sample_codes  # noqa: E402


def fit_sample_raw(method: str, folder: Path, epsilon: float, seed: int) -> pd.DataFrame:
    import torch
    from snsynth import Synthesizer
    from snsynth.transform import MinMaxTransformer

    meta, raw = read_raw(folder)
    np.random.seed(seed)
    torch.manual_seed(seed)
    synth = Synthesizer.create(method, epsilon=epsilon, verbose=False)
    constraints = {c: MinMaxTransformer(lower=lo, upper=hi, negative=False) for c, (lo, hi, _) in meta["continuous"].items()}
    synth.fit(raw, transformer=constraints, categorical_columns=meta["categorical"],
              continuous_columns=list(meta["continuous"]), preprocessor_eps=0.0)
    out = synth.sample(len(raw))
    for c, (_, _, integer) in meta["continuous"].items():
        if integer:
            out[c] = np.round(out[c]).astype(int)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="the folder benchmarks/peers/export.py wrote")
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--methods", nargs="+", default=["mst", "aim", "dpctgan", "patectgan"])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import snsynth  # noqa: F401

    def fit_sample(method: str, folder: Path) -> tuple[pd.DataFrame, str]:
        if method in ("mst", "aim"):
            codes = pd.read_csv(folder / "codes.csv")
            sizes = json.loads((folder / "codes-domain.json").read_text())
            return fit_sample_codes(method, codes, sizes, epsilon=args.epsilon, delta=args.delta, seed=args.seed), "codes"
        return fit_sample_raw(method, folder, args.epsilon, args.seed), "raw"

    run_all("smartnoise-synth 1.0.8", "smartnoise", args.runs, args.tables, args.methods, args.epsilon, args.delta, args.seed,
            fit_sample)


if __name__ == "__main__":
    main()
