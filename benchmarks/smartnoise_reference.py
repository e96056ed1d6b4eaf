"""The reference implementation beside ours: smartnoise-synth's AIM and MST (on mbi) on the same
data, timed on the same machine (issue #11). Runs in a *separate* virtual environment, because
smartnoise-synth 1.0.8 pins versions privsynth does not use (mbi 1.1 on jax); it does not import
privsynth.

Set-up (once)::

    python -m venv /tmp/snv
    /tmp/snv/bin/pip install --no-deps smartnoise-synth==1.0.8 mbi==1.1.0 smartnoise-sql==1.0.10
    /tmp/snv/bin/pip install jax jaxlib chex optax attrs networkx scipy "pandas<3" disjoint-set \\
        Faker PyYAML antlr4-python3-runtime==4.9.3 graphviz sqlalchemy "opendp>=0.14.1,<0.15"

Run (writes ``<out>/smartnoise_<method>_seed<k>.csv`` -- integer codes, rows drawn i.i.d. with mbi's
``method="sample"`` -- and a ``.json`` with the seconds and peak RSS; ``benchmarks/statistical.py
--smartnoise DIR`` scores them beside privsynth's rows)::

    /tmp/snv/bin/python benchmarks/smartnoise_reference.py --method aim --seed 0 \\
        --data ../shared/data/adult_discretized.csv --out /tmp/smartnoise

The fit follows ``AIMSynthesizer.fit`` / ``MSTSynthesizer.fit`` but hands the public domain
(levels per column from ``adult_discretized-domain.json``) to mbi directly instead of inferring
it from the data with smartnoise's transformer. AIM's configuration is the issue's best
reference (rounds 64, max_model_size 20 MB, degree 3, smartnoise's default ``max_cells`` 10,000).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd


def fit_sample_codes(method: str, df: pd.DataFrame, sizes: dict, *, epsilon: float, delta: float, seed: int,
                     rounds: int | None = None, max_model_size: float = 80.0, degree: int = 2) -> pd.DataFrame:
    """smartnoise-synth's MST or AIM on integer codes with a public domain (levels per column): as many rows back."""
    from mbi import Dataset, Domain
    from snsynth.aim import AIMSynthesizer
    from snsynth.mst import MSTSynthesizer
    from snsynth.utils import cdp_rho

    data = Dataset(df[list(sizes)], Domain(list(sizes), list(sizes.values())))
    np.random.seed(seed)  # smartnoise draws its noise from numpy's global generator
    if method == "aim":
        synth = AIMSynthesizer(epsilon=epsilon, delta=delta, rounds=rounds, max_model_size=max_model_size, degree=degree)
        synth.rho = cdp_rho(epsilon, delta)
        synth.AIM(data, synth.get_workload(data, degree=degree, max_cells=synth.max_cells))
        return synth.synthesizer.synthetic_data(rows=len(df), method="sample").df[list(sizes)]
    synth = MSTSynthesizer(epsilon=epsilon, delta=delta)
    synth.MST(data, epsilon, delta)
    return synth.undo_compress_fn(synth.synthesizer.synthetic_data(rows=len(df), method="sample")).df[list(sizes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("aim", "mst"), required=True)
    parser.add_argument("--data", required=True, help="adult_discretized.csv (its -domain.json beside it)")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=64)
    parser.add_argument("--max-model-size", type=float, default=20.0)
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    path = Path(args.data)
    df = pd.read_csv(path)
    sizes = json.loads(path.with_name(path.stem + "-domain.json").read_text())
    t0 = time.perf_counter()
    rows = fit_sample_codes(args.method, df, sizes, epsilon=args.epsilon, delta=args.delta, seed=args.seed, rounds=args.rounds,
                            max_model_size=args.max_model_size, degree=args.degree)
    seconds = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"smartnoise_{args.method}_seed{args.seed}"
    rows.to_csv(stem.with_suffix(".csv"), index=False)
    info = {"method": args.method, "seed": args.seed, "epsilon": args.epsilon, "delta": args.delta, "fit_sample_s": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "config": {"rounds": args.rounds, "max_model_size": args.max_model_size, "degree": args.degree} if args.method == "aim" else {}}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
