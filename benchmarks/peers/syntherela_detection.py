"""SyntheRela's detection-based fidelity (C2ST-Agg: a classifier told apart real and synthetic
rows of each parent table, with its children's aggregates as features; 0.5 = indistinguishable)
on the bank database -- run it in its own venv:

    python -m venv /tmp/srela && /tmp/srela/bin/pip install torch==2.13.0 syntherela==0.0.4
    /tmp/srela/bin/python benchmarks/peers/syntherela_detection.py REAL_DIR SYNTH_DIR OUT.json

REAL_DIR and SYNTH_DIR hold customers.csv, accounts.csv, transactions.csv. Imports nothing from privsynth.
"""

import json
import sys
from pathlib import Path

import pandas as pd

KEYS = {"customers": ("customer_id", None), "accounts": ("account_id", ("customers", "customer_id")),
        "transactions": ("transaction_id", ("accounts", "account_id"))}


def read(folder: str, names: list) -> dict:
    data = {name: pd.read_csv(Path(folder) / f"{name}.csv") for name in names}
    data["customers"] = data["customers"].drop(columns=["name"], errors="ignore")
    if "transactions" in data:
        data["transactions"]["merchant_id"] = data["transactions"]["merchant_id"].astype(str)
    return data


def main() -> None:
    real_dir, synth_dir, out = sys.argv[1:4]
    from syntherela.metadata import Metadata
    from syntherela.metrics.multi_table.detection.aggregation_detection import AggregationDetection
    from xgboost import XGBClassifier

    names = [name for name in KEYS if (Path(synth_dir) / f"{name}.csv").is_file()]  # a prefix of the chain
    real, synth = read(real_dir, names), read(synth_dir, names)
    metadata = Metadata()
    for name, frame in real.items():
        metadata.add_table(name)
        pk, parent = KEYS[name]
        for col in frame.columns:
            if col == pk or (parent and col == parent[1]):
                metadata.add_column(table_name=name, column_name=col, sdtype="id")
            elif frame[col].dtype.kind not in "iuf":
                metadata.add_column(table_name=name, column_name=col, sdtype="categorical")
            else:
                metadata.add_column(table_name=name, column_name=col, sdtype="numerical")
        metadata.set_primary_key(table_name=name, column_name=pk)
    for name in names:
        parent = KEYS[name][1]
        if parent:
            metadata.add_relationship(parent_table_name=parent[0], child_table_name=name, parent_primary_key=parent[1],
                                      child_foreign_key=parent[1])
    metric = AggregationDetection(classifier_cls=XGBClassifier, classifier_args={"seed": 0}, random_state=0)
    results = metric.run(real, synth, metadata=metadata)
    summary = {table: {k: float(v) for k, v in r.items() if isinstance(v, (int, float))} for table, r in results.items()}
    Path(out).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
