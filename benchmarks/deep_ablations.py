"""One DP-SGD synthesizer on discretized Adult under parameter settings given on the command line (issue #25).

Each setting is a JSON object of constructor arguments (``seed`` picks ``random_state``); the
script fits on all 48,842 records, samples as many with the same seed, and prints one JSON line
per setting: fit seconds and the 1-, 2- and 3-way TVD of ``ps.evaluation.marginal_tvd`` (the
``tvd_*`` columns of ``statistical.py``). It is how the ablations in
``results/deep_ablations_adult.md`` were measured; fit seconds rise when other jobs share the cores.
A DPDiffusion setting may carry ``"steps_sweep": [20, 10, ...]``: the one fitted model is then
recalibrated (public randomness from the seed) and scored at each ``sampling_steps``.

Run: python benchmarks/deep_ablations.py dpgan '{"epsilon": 1e4}' '{"epsilon": 1e4, "generator_lr": 1e-3}'
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

import privsynth as ps
from privsynth.synthesizers import synthesizer_class


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    name, settings = sys.argv[1], [json.loads(s) for s in sys.argv[2:]]
    data, domain = ps.datasets.load_adult_discretized()
    for params in settings:
        seed, sweep = params.pop("seed", 0), params.pop("steps_sweep", None)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # progress and DP-SGD notices; the figures are what matter here
            model = synthesizer_class(name)(random_state=seed, progress=False, device="cpu", **params).fit(data, domain)
        fit_s = time.perf_counter() - start
        for steps in sweep or [None]:
            if steps is not None:
                model.sampling_steps = int(steps)
                model._calibrate(np.random.default_rng(seed))  # the calibration is fitted for a step count
            out = model.sample(len(data), random_state=seed)
            tvd = {f"tvd{k}": round(ps.evaluation.marginal_tvd(data, out, domain, order=k).average, 4) for k in (1, 2, 3)}
            extra = {} if steps is None else {"sampling_steps": int(steps)}
            print(json.dumps({"synthesizer": name, **params, **extra, "seed": seed, "fit_s": round(fit_s, 1), **tvd}), flush=True)


if __name__ == "__main__":
    main()
