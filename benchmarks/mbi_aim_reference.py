"""Reference AIM on Private-PGM's own estimator (``mbi`` 2.0, JAX): run in its own venv, never by privsynth.

mbi 2.0 ships no AIM mechanism, so this is our runner of the algorithm of McKenna et al. (VLDB
2022) as private-pgm's ``mechanisms/aim.py`` runs it, written against mbi's public API: all 1-way
marginals first, then rounds that pick a workload marginal with the exponential mechanism on
``weight * (L1 error - sqrt(2/pi) sigma cells)`` among candidates whose junction tree stays under
``max_model_size * budget used / budget`` MB, measure it with Gaussian noise, re-estimate with
``iters`` mirror-descent steps warm-started from the last model, halve sigma when the estimate
barely moved; the budget in zCDP (``rho`` from (epsilon, delta) by the Canonne-Kamath-Steinke
conversion), ``0.9`` of each round's share for the measurement and ``0.1`` for the selection, ``16 d``
rounds sizing the first ones. Workload: every 2- and 3-way marginal (privsynth AIM's default),
each of weight 1, scored over its downward closure as the paper does.

Input: a CSV of integer codes (one column per attribute) and a JSON ``{attribute: size}``.
Output (JSON on stdout): fit seconds, rounds, peak RSS, model size; the synthetic codes to ``--out``
(mbi's default release, ``synthetic_data(method="round")``: randomized rounding of the model's
counts) and, with ``--out-iid``, a second release of i.i.d. rows from the same model
(``method="sample"``), so releases can be compared like with like.

Set-up (once): ``python -m venv /tmp/mbi-venv && /tmp/mbi-venv/bin/pip install mbi==2.0.0 pandas``
Run: ``/tmp/mbi-venv/bin/python benchmarks/mbi_aim_reference.py codes.csv sizes.json --seed 0 --out synth.csv``
(``benchmarks/aim_vs_mbi.py`` does this for you and scores both with privsynth's metrics).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import resource
import sys
import time

import numpy as np
import pandas as pd


def rho_for(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP guarantee implies (epsilon, delta)-DP (CKS 2020, Prop. 12), by bisection."""
    def eps_of(rho: float) -> float:
        alphas = np.exp(np.linspace(np.log(1.0001), np.log(1e4), 20000))
        values = alphas * rho + (np.log(1 / delta) + (alphas - 1) * np.log(1 - 1 / alphas) - np.log(alphas)) / (alphas - 1)
        return float(values.min())
    lo, hi = 0.0, epsilon
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eps_of(mid) <= epsilon else (lo, mid)
    return lo


def closure_weights(workload: list[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    """Each non-empty subset of a workload marginal, weighted by its overlap with the workload."""
    subsets = {s for w in workload for r in range(1, len(w) + 1) for s in itertools.combinations(w, r)}
    return {s: float(sum(len(set(s) & set(w)) for w in workload)) for s in sorted(subsets, key=len)}


def eliminate(factors: list[tuple[str, np.ndarray]], keep: str, size: dict[str, int]) -> np.ndarray:
    """Sum-product variable elimination: the product of ``factors`` (index letters, table) summed
    over every letter not in ``keep``, as an array over ``keep``'s letters in that order. Each step
    sums out the letter whose factor product is smallest (the min-size order), so no intermediate
    is larger than the elimination needs; each new factor is rescaled to its maximum (the result
    is normalized by the caller)."""
    factors = list(factors)
    hidden = {ch for letters, _ in factors for ch in letters} - set(keep)
    while hidden:
        def cost(ch: str) -> int:
            letters = {c for f, _ in factors if ch in f for c in f}
            return int(np.prod([size[c] for c in letters]))

        best = min(sorted(hidden), key=cost)
        involved = [f for f in factors if best in f[0]]
        out = "".join(sorted({c for f, _ in involved for c in f} - {best}))
        table = np.einsum(",".join(f for f, _ in involved) + "->" + out, *(t for _, t in involved))
        factors = [f for f in factors if best not in f[0]] + [(out, table / max(float(table.max()), 1e-300))]
        hidden.discard(best)
    return np.einsum(",".join(f for f, _ in factors) + "->" + keep, *(t for _, t in factors))


def projector(model, attrs: list[str]):
    """``clique -> model marginal`` for the round's scoring. A clique inside one of the model's
    cliques is projected by mbi; any other by sum-product variable elimination in numpy over mbi's
    potentials (:func:`eliminate`) -- the same numbers, without a JAX compile per clique (~0.5 s
    each through ``model.project``). (A single ``np.einsum(..., optimize="greedy")`` over all the
    potentials did the same but chose pairwise orders whose intermediates made late rounds take
    ten minutes and more.)"""
    letters = {a: chr(ord("a") + i) if i < 26 else chr(ord("A") + i - 26) for i, a in enumerate(attrs)}
    size = {letters[a]: int(model.domain.size((a,))) for a in attrs}
    tables = []
    for cl in model.potentials.cliques:
        values = np.asarray(model.potentials.tables[cl].values, dtype=float)
        tables.append(("".join(letters[a] for a in cl), np.exp(values - values.max())))
    total = float(model.total)

    def project(cl: tuple[str, ...]) -> np.ndarray:
        if model.marginals.supports(cl):
            return np.asarray(model.project(cl).datavector(), dtype=float)
        out = eliminate(tables, "".join(letters[a] for a in cl), size)
        return (total * out / out.sum()).ravel()

    return project


def main() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_compilation_cache", False)
    from mbi import Dataset, Domain, LinearMeasurement, estimation, junction_tree

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codes")
    parser.add_argument("sizes")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--max-model-size", type=float, default=80.0, help="MB, as the paper's default")
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=None, help="synthetic rows (default: the model's total)")
    parser.add_argument("--out", required=True, help="CSV for mbi's default release (randomized rounding)")
    parser.add_argument("--out-iid", default=None, help="CSV for a release of i.i.d. rows from the same model")
    args = parser.parse_args()

    sizes = json.loads(open(args.sizes).read())
    attrs = list(sizes)
    domain = Domain(attrs, tuple(int(sizes[a]) for a in attrs))
    frame = pd.read_csv(args.codes)
    data = Dataset({a: frame[a].to_numpy(dtype=np.int64) for a in attrs}, domain)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    workload = [c for r in (2, 3) for c in itertools.combinations(attrs, r)]
    weights = closure_weights(workload)
    answers = {cl: np.asarray(data.project(cl).datavector(), dtype=float) for cl in weights}
    rho = rho_for(args.epsilon, args.delta)
    rounds = 16 * len(attrs)
    sigma = math.sqrt(rounds / (2 * 0.9 * rho))
    eps = math.sqrt(8 * 0.1 * rho / rounds)
    used = len(attrs) * 0.5 / sigma**2
    measurements = []
    for a in attrs:
        x = answers[(a,)]
        measurements.append(LinearMeasurement(x + rng.normal(0, sigma, x.size), (a,), stddev=sigma))
    md = estimation.MirrorDescent()
    model = md.estimate(domain, measurements, iters=args.iters)
    picked = 0
    while True:
        last = rho - used < 2 * (0.5 / sigma**2 + eps**2 / 8)
        if last:
            remaining = rho - used
            sigma, eps = math.sqrt(1 / (2 * 0.9 * remaining)), math.sqrt(8 * 0.1 * remaining)
        used += eps**2 / 8 + 0.5 / sigma**2
        limit = args.max_model_size * used / rho
        free = {s for c in model.cliques for r in range(1, len(c) + 1) for s in itertools.combinations(c, r)}
        pool = [cl for cl in weights if cl in free or junction_tree.hypothetical_model_size(domain, list(model.cliques) + [cl]) <= limit]
        bias = math.sqrt(2 / math.pi) * sigma
        project = projector(model, attrs)
        scores = np.array([weights[cl] * (np.abs(answers[cl] - project(cl)).sum() - bias * domain.size(cl)) for cl in pool])
        sensitivity = max(weights[cl] for cl in pool)
        gumbel = rng.gumbel(size=len(scores))  # the exponential mechanism as report-noisy-max with Gumbel noise
        cl = pool[int(np.argmax(eps / (2 * sensitivity) * scores + gumbel))]
        x = answers[cl]
        measurements.append(LinearMeasurement(x + rng.normal(0, sigma, x.size), cl, stddev=sigma))
        before = project(cl)
        model = md.estimate(domain, measurements, iters=args.iters, warm_start=model)
        picked += 1
        annealed = np.abs(np.asarray(model.project(cl).datavector()) - before).sum() <= bias * domain.size(cl)
        if annealed:
            sigma, eps = sigma / 2, eps * 2
        print(f"round {picked}: {cl}, {used / rho:.1%} of rho, sigma {sigma:.1f}{' (halved)' if annealed else ''}, "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)  # progress: a long fit shows where it is
        if last:
            break
    model = md.estimate(domain, measurements, iters=args.iters, warm_start=model)  # the final estimation
    fit_s = time.perf_counter() - t0
    np.random.seed(args.seed)  # mbi draws releases from numpy's global generator
    for method, path in (("round", args.out), ("sample", args.out_iid)):
        if path:
            synth = model.synthetic_data(rows=args.rows, method=method)
            pd.DataFrame({a: np.asarray(synth.to_dict()[a]) for a in attrs}).to_csv(path, index=False)
    print(json.dumps({"fit_s": fit_s, "rounds": picked, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "model_mb": junction_tree.hypothetical_model_size(domain, list(model.cliques)), "rho": rho}))


if __name__ == "__main__":
    main()
