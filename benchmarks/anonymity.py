"""Speed of k-anonymity, l-diversity and t-closeness on ARX Adult, against pycanon in the same run.

ARX Adult (30,162 records), quasi-identifiers: the 8 columns other than ``occupation``, which is
the sensitive attribute; then the same data replicated 10x (301,620 records, the same classes).
For each metric we time privsynth and, where pycanon imports, pycanon on the same frame, and
report both times, their ratio and whether the values agree.

pycanon 1.3.6 pins old numpy/pandas releases, so install it apart and point at it:
    pip install --no-deps --target /tmp/pycanon_lib pycanon==1.3.6 beartype==0.22.2
    python benchmarks/anonymity.py --pycanon-path /tmp/pycanon_lib
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd

import privsynth as ps
from privsynth.evaluation import k_anonymity, l_diversity, t_closeness


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pycanon-path", default=None, help="folder where pycanon is installed (added to sys.path)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    if args.pycanon_path:
        sys.path.insert(0, args.pycanon_path)
    try:
        from pycanon import anonymity as pc
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        print(f"pycanon not available ({exc}); timing privsynth only")
        pc = None

    base, _ = ps.datasets.load_arx_adult()
    base = base.astype(object)  # plain values, as pycanon expects
    sensitive = "occupation"
    qis = [c for c in base.columns if c != sensitive]
    ours = {
        "k-anonymity": lambda df: k_anonymity(df, qis).k,
        "distinct l-diversity": lambda df: l_diversity(df, qis, sensitive).l,
        "entropy l-diversity": lambda df: l_diversity(df, qis, sensitive, kind="entropy").l,
        "recursive (c=2) l-diversity": lambda df: l_diversity(df, qis, sensitive, kind="recursive", c=2).l,
        "t-closeness (equal distance)": lambda df: t_closeness(df, qis, sensitive).t,
    }
    theirs = {} if pc is None else {
        "k-anonymity": lambda df: pc.k_anonymity(df, qis),
        "distinct l-diversity": lambda df: pc.l_diversity(df, qis, [sensitive]),
        "entropy l-diversity": lambda df: pc.entropy_l_diversity(df, qis, [sensitive]),
        "recursive (c=2) l-diversity": lambda df: pc.recursive_c_l_diversity(df, qis, [sensitive])[1],
        "t-closeness (equal distance)": lambda df: pc.t_closeness(df, qis, [sensitive]),
    }
    rows = []
    for factor in (1, 10):
        df = pd.concat([base] * factor, ignore_index=True)
        n_classes = len(k_anonymity(df, qis).classes)
        for metric, fn in ours.items():
            value, seconds = timed(lambda: fn(df))
            row = {"rows": len(df), "classes": n_classes, "metric": metric, "privsynth_s": seconds, "privsynth_value": float(value)}
            if metric in theirs:
                their_value, their_s = timed(lambda: theirs[metric](df))
                row.update(pycanon_s=their_s, pycanon_value=float(their_value), speedup=their_s / seconds,
                           agree=abs(float(their_value) - float(value)) <= 1e-6 * max(1.0, abs(float(value))))
            rows.append(row)
            print(row, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "python": platform.python_version(), "pycanon": pc is not None}
    (out / "anonymity.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=1))
    table = pd.DataFrame(rows)
    lines = ["# Anonymity metrics on ARX Adult (benchmarks/anonymity.py)", "",
             f"Quasi-identifiers: {', '.join(qis)}; sensitive: {sensitive}. Seconds per call; speedup = pycanon / privsynth.", "",
             table.to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    (out / "anonymity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
