"""The replay attack of issue #9 against every synthesizer, at epsilon 0.05.

The attacker holds every artifact a fit releases (model file, certificate, sampled rows) and
every record but one; it refits on both neighbours with everything published (and any seed-like
value in the artifacts) and names the dataset whose refit comes closest to the released model
(:func:`privsynth.testing.replay_attack`). On aa501fd, whose artifacts carried the seed, it was
right in every trial. Against an epsilon-DP release no attack is right more often than
``e^epsilon / (1 + e^epsilon)`` (0.5125 at epsilon 0.05).

Output: ``benchmarks/results/replay_attack.json`` and ``.md``.

Run: python benchmarks/replay_attack.py [--trials 20] [--epsilon 0.05] [--skip-ddp]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import privsynth as ps
from privsynth.synthesizers import DPGaussianCopula, IndependentMarginals, PrivBayes
from privsynth.testing import replay_attack


def makers(epsilon: float, skip_ddp: bool) -> dict:
    out = {
        "IndependentMarginals": lambda s: IndependentMarginals(epsilon=epsilon, random_state=s),
        "PrivBayes": lambda s: PrivBayes(epsilon=epsilon, random_state=s, progress=False),
        "DPGaussianCopula": lambda s: DPGaussianCopula(epsilon=epsilon, delta=1e-6, random_state=s),
    }
    from privsynth.synthesizers import DPGAN, DPVAE

    tiny = {"epochs": 1, "sampling_rate": 0.25, "progress": False, "device": "cpu"}
    gan = {"generator_dim": (8,), "discriminator_dim": (8,), "noise_dim": 2, **tiny}
    out["DPVAE"] = lambda s: DPVAE(epsilon=epsilon, hidden=(8,), latent=2, random_state=s, **tiny)
    out["DPGAN"] = lambda s: DPGAN(epsilon=epsilon, random_state=s, **gan)
    if not skip_ddp:
        out["DPGAN devices=2 (gloo)"] = lambda s: DPGAN(epsilon=epsilon, random_state=s, devices=2, **gan)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    data, domain = ps.datasets.make_census(300, random_state=0)
    cols = ["age", "sex", "race", "education", "income"]
    data, domain = data[cols], domain.select(cols)
    base, target = data.iloc[1:].reset_index(drop=True), data.iloc[[0]].reset_index(drop=True)
    best = math.exp(args.epsilon) / (1 + math.exp(args.epsilon))
    rows = []
    for name, make in makers(args.epsilon, args.skip_ddp).items():
        t0 = time.perf_counter()
        result = replay_attack(make, base, domain, target, trials=args.trials, confidence=0.95)
        rows.append({"synthesizer": name, "trials": result.trials, "correct": result.correct, "accuracy": result.accuracy,
                     "cp95_low": result.interval[0], "cp95_high": result.interval[1], "reproduced": result.reproduced,
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"epsilon": args.epsilon, "best_possible_accuracy": best, "machine": platform.platform(), "rows": rows}
    (out / "replay_attack.json").write_text(json.dumps(meta, indent=1))
    lines = [f"# Replay attack at epsilon {args.epsilon} ({args.trials} trials each)", "",
             f"Any attack on an epsilon-DP release is right at most {best:.4f} of the time; aa501fd: 20/20 for every synthesizer.", "",
             "| synthesizer | correct | accuracy | Clopper-Pearson 95% | releases reproduced by a refit |", "|---|---|---|---|---|"]
    lines += [f"| {r['synthesizer']} | {r['correct']}/{r['trials']} | {r['accuracy']:.2f} | [{r['cp95_low']:.2f}, {r['cp95_high']:.2f}] | "
              f"{r['reproduced']} |" for r in rows]
    lines += ["", "Run: `python benchmarks/replay_attack.py`"]
    (out / "replay_attack.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
