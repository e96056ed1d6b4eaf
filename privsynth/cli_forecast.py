"""``privsynth forecast``: what a budget buys on a domain, before anything is spent."""

from __future__ import annotations

import argparse
import json

from privsynth.cli_support import EXIT_OK, existing

__all__ = ["cmd_forecast"]


def cmd_forecast(args: argparse.Namespace) -> int:
    from privsynth.core.domain import Domain
    from privsynth.synthesizers.forecast import CALIBRATION, forecast

    domain = Domain.from_file(existing(args.domain, "domain file"))
    names = args.synthesizers or sorted(CALIBRATION)
    results = [forecast(name, domain, rows=args.rows, epsilon=args.epsilon, delta=args.delta) for name in names]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
        return EXIT_OK
    print(f"Forecast at epsilon {args.epsilon:g} on {args.rows:g} records ({len(domain)} columns); noise TVD: the error the "
          "noise alone causes (see privsynth.synthesizers.forecast)")
    print("| synthesizer | 1-way TVD | noise 1-way | noise 2-way | noise-dominated |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r.synthesizer} | {r.tvd_1:.4f} | {r.noise_tvd_1:.4f} | {r.noise_tvd_2:.4f} | {'YES' if r.noise_dominated else 'no'} |")
    for r in results:
        print(f"{r.synthesizer}: " + "; ".join(f"{m.count} x {m.what}: {m.noise} noise {m.scale:.3g} per cell on ~{m.cells:.0f} "
                                               f"cells, noise TVD {m.noise_tvd:.4f}" for m in r.measurements))
        if r.noise_dominated:
            print(f"  {r.advice}")
    return EXIT_OK
