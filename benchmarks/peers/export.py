"""Write the benchmark tables' training splits for the peers' runners (see benchmarks/peers/README.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from privsynth.bench import default_tables
from privsynth.core.dataset import encode, levels
from privsynth.core.domain import Categorical
from privsynth.datasets.benchmark import load


def export(name: str, out: Path) -> None:
    table = load(name)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    domain = table.domain
    codes = pd.DataFrame(encode(table.train, domain), columns=list(domain.names))
    codes.to_csv(folder / "codes.csv", index=False)
    (folder / "codes-domain.json").write_text(json.dumps(dict(zip(domain.names, levels(domain))), indent=1))
    table.train.to_csv(folder / "raw.csv", index=False)
    meta = {"target": table.target, "task": table.task, "rows": len(table.train),
            "categorical": [c.name for c in domain.columns if isinstance(c, Categorical)],
            "continuous": {c.name: [c.lower, c.upper, bool(c.integer)] for c in domain.columns if not isinstance(c, Categorical)}}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    print(f"{name}: {len(table.train)} rows, {len(domain)} columns -> {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    for name in args.tables or default_tables():
        export(name, Path(args.out))


if __name__ == "__main__":
    main()
