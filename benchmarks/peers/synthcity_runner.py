"""synthcity 0.2.12's DP plugins on the benchmark tables (run in its own venv).

Set-up (once; synthcity pins torch < 2.3, and opacus 1.5 needs a newer torch)::

    python -m venv /tmp/scv && /tmp/scv/bin/pip install synthcity==0.2.12 opacus==1.4.1

Every plugin gets the raw training records (categorical columns as text) and its own defaults at
the given epsilon: ``aim``, ``privbayes``, ``dpgan``, ``pategan`` (DP) and ``adsgan`` (not DP: an
identifiability penalty, run as the issue lists it). synthcity reads column bounds and categories
off the data it is given, as its own pipeline does.

    /tmp/scv/bin/python benchmarks/peers/synthcity_runner.py --runs /tmp/peers --tables obesity --methods aim privbayes
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def fit_sample(method: str, folder: Path, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    import torch
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader

    meta = json.loads((folder / "meta.json").read_text())
    raw = pd.read_csv(folder / "raw.csv")
    for col in meta["categorical"]:
        raw[col] = raw[col].astype(str)
    np.random.seed(seed)
    torch.manual_seed(seed)
    kwargs: dict = {"random_state": seed}
    if method in ("aim", "privbayes", "dpgan", "pategan"):
        kwargs["epsilon"] = epsilon
    if method in ("aim", "dpgan", "pategan"):
        kwargs["delta"] = delta
    plugin = Plugins().get(method, **kwargs)
    plugin.fit(GenericDataLoader(raw, target_column=meta["target"]))
    return plugin.generate(count=len(raw)).dataframe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--methods", nargs="+", default=["aim", "privbayes", "dpgan", "pategan", "adsgan"])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    version = "synthcity 0.2.12"
    for table in args.tables:
        folder = Path(args.runs) / table
        for method in args.methods:
            stem = folder / f"synthcity_{method}_eps{args.epsilon:g}_seed{args.seed}"
            if stem.with_suffix(".json").is_file():
                continue
            t0 = time.perf_counter()
            try:
                out = fit_sample(method, folder, args.epsilon, args.delta, args.seed)
            except Exception as exc:  # a peer that fails is recorded, not hidden
                info = {"peer": version, "method": method, "table": table, "error": f"{type(exc).__name__}: {exc}"[:500]}
                stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
                print(json.dumps(info), flush=True)
                continue
            out.to_csv(stem.with_suffix(".csv"), index=False)
            info = {"peer": version, "method": method, "table": table, "kind": "raw", "epsilon": args.epsilon,
                    "delta": args.delta, "seed": args.seed, "fit_sample_seconds": time.perf_counter() - t0,
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "command": " ".join(sys.argv)}
            stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
            print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
