"""SDV's HMASynthesizer (hierarchical, not DP) on a folder of related CSV tables -- run it in its
own venv (``python -m venv /tmp/sdv && /tmp/sdv/bin/pip install torch==2.13.0 sdv==2.0.0``):

    /tmp/sdv/bin/python benchmarks/peers/sdv_hma.py IN_DIR OUT_DIR --seed 0

SDV 2.0 refuses schemas deeper than two levels ("not designed to handle"; its Enterprise HSA
does them); this runner switches that check off, so HMA's own recursion models all three levels.

IN_DIR holds customers.csv, accounts.csv, transactions.csv (written by
``benchmarks/relational_bank.py``); OUT_DIR gets the sampled tables and ``timing.json``. It
imports nothing from privsynth.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = {"customers": ("customer_id", None), "accounts": ("account_id", ("customers", "customer_id")),
        "transactions": ("transaction_id", ("accounts", "account_id"))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("inp")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tables", nargs="+", default=list(KEYS), help="a prefix of the chain, e.g. customers accounts "
                        "(two levels: within what SDV 2.0's HMA supports)")
    args = parser.parse_args()
    from sdv.metadata import Metadata
    from sdv.multi_table import HMASynthesizer

    keys = {name: KEYS[name] for name in args.tables}
    data = {name: pd.read_csv(Path(args.inp) / f"{name}.csv") for name in keys}
    if "transactions" in data:
        data["transactions"]["merchant_id"] = data["transactions"]["merchant_id"].astype(str)
    metadata = Metadata.detect_from_dataframes(data)
    for name, (pk, parent) in keys.items():
        for col in [pk] + ([parent[1]] if parent else []):
            metadata.update_column(table_name=name, column_name=col, sdtype="id")
        metadata.set_primary_key(table_name=name, column_name=pk)
    for name in keys:
        for col in data[name].columns:
            if col not in {pk for pk, _ in KEYS.values()} and data[name][col].dtype != "int64" and data[name][col].dtype != "float64":
                metadata.update_column(table_name=name, column_name=col, sdtype="categorical")
    existing = {(r["parent_table_name"], r["child_table_name"]) for r in metadata.to_dict().get("relationships", [])}
    for name, (_pk, parent) in keys.items():
        if parent and (parent[0], name) not in existing:
            metadata.add_relationship(parent_table_name=parent[0], child_table_name=name, parent_primary_key=parent[1],
                                      child_foreign_key=parent[1])
    np.random.seed(args.seed)  # SDV draws from numpy's global generator  # noqa: NPY002
    import torch

    torch.manual_seed(args.seed)
    start = time.perf_counter()
    class DeepHMA(HMASynthesizer):  # SDV 2.0's community edition refuses depth > 2 (3 levels); HMA's recursion is the same
        def _validate_schema_complexity(self):
            pass

    synth = DeepHMA(metadata, verbose=False)
    synth.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    out = synth.sample_scale(scale=1.0) if hasattr(synth, "sample_scale") else synth.sample(scale=1.0)
    sample_s = time.perf_counter() - start
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name, frame in out.items():
        frame.to_csv(Path(args.out) / f"{name}.csv", index=False)
    (Path(args.out) / "timing.json").write_text(json.dumps({"fit_s": fit_s, "sample_s": sample_s, "sdv": __import__("sdv").__version__}))


if __name__ == "__main__":
    main()
