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
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runner import read_raw, run_all  # noqa: E402


def fit_sample(method: str, folder: Path, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    import torch
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader

    meta, raw = read_raw(folder)
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
    run_all("synthcity 0.2.12", "synthcity", args.runs, args.tables, args.methods, args.epsilon, args.delta, args.seed,
            lambda method, folder: (fit_sample(method, folder, args.epsilon, args.delta, args.seed), "raw"))


if __name__ == "__main__":
    main()
