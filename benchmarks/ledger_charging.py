"""How fast the ledger composes long histories, as a ratio to a naive recomputation.

A DP-SGD run or a PrivBayes fit charges the ledger hundreds to thousands of times; every charge
recomposes the whole history to decide whether it fits the budget. The ledger keeps its events
as a multiset and the RDP accountant memoizes each distinct event's curve, so a charge costs one
vector sum. The baseline recomposes every recorded event with a fresh dp_accounting RdpAccountant
per charge, as a straightforward implementation would. Both run in this process on the same
events; we report the per-charge times and their ratio (not an absolute target).

Run: python benchmarks/ledger_charging.py [--charges 100] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from dp_accounting import dp_event as dpe
from dp_accounting.rdp import rdp_privacy_accountant

from privsynth.privacy import Budget, ExponentialEvent, LaplaceEvent, Ledger, SubsampledGaussianEvent


def history(n: int):
    """A mixed history: a noisy count, exponential-mechanism selections, DP-SGD steps."""
    events = [LaplaceEvent(noise_multiplier=100.0)]
    events += [ExponentialEvent(epsilon=0.001)] * (n // 10)
    events += [SubsampledGaussianEvent(noise_multiplier=1.2, sampling_rate=0.01, steps=1)] * (n - len(events))
    return events


def naive_charge_all(events, delta: float) -> float:
    eps = 0.0
    for i in range(1, len(events) + 1):
        acc = rdp_privacy_accountant.RdpAccountant()
        for e in events[:i]:
            if isinstance(e, LaplaceEvent):
                acc.compose(dpe.LaplaceDpEvent(e.noise_multiplier))
            elif isinstance(e, ExponentialEvent):
                acc.compose(dpe.ZCDpEvent(e.epsilon**2 / 8))
            else:
                acc.compose(dpe.PoissonSampledDpEvent(e.sampling_rate, dpe.GaussianDpEvent(e.noise_multiplier)))
        eps = acc.get_epsilon(delta)
    return eps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    events, delta = history(args.charges), 1e-5

    t0 = time.perf_counter()
    ledger = Ledger(Budget(epsilon=1e6, delta=delta))
    for e in events:
        ledger.charge(e, label="step")
    t_ledger = time.perf_counter() - t0

    t0 = time.perf_counter()
    naive = naive_charge_all(events, delta)
    t_naive = time.perf_counter() - t0

    result = {
        "benchmark": "ledger_charging",
        "charges": len(events),
        "ledger_ms_per_charge": 1e3 * t_ledger / len(events),
        "naive_ms_per_charge": 1e3 * t_naive / len(events),
        "speedup": t_naive / t_ledger,
        "epsilon_ledger": ledger.spent().epsilon,
        "epsilon_naive": naive,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ledger_charging.json").write_text(json.dumps(result, indent=2))
    table = (
        "| charges | ledger ms/charge | naive ms/charge | speedup | epsilon (ledger) | epsilon (naive) |\n"
        "|---|---|---|---|---|---|\n"
        f"| {result['charges']} | {result['ledger_ms_per_charge']:.2f} | {result['naive_ms_per_charge']:.2f} | "
        f"{result['speedup']:.0f}x | {result['epsilon_ledger']:.6f} | {result['epsilon_naive']:.6f} |\n"
    )
    (out / "ledger_charging.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
