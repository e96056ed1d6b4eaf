"""The loop every peer runner shares: one output per (table, method), failures recorded, runs resumable.

Imported by the runners inside the peers' own venvs: standard library and pandas only.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import pandas as pd


def read_raw(folder: Path) -> tuple[dict, pd.DataFrame]:
    """The exported table's metadata and raw training records (categorical columns as text)."""
    meta = json.loads((folder / "meta.json").read_text())
    raw = pd.read_csv(folder / "raw.csv")
    for col in meta["categorical"]:
        raw[col] = raw[col].astype(str)
    return meta, raw


def run_all(peer: str, prefix: str, runs: str, tables: list, methods: list, epsilon: float, delta: float, seed: int,
            fit_sample: Callable[[str, Path], tuple[pd.DataFrame, str]]) -> None:
    """Run ``fit_sample(method, table_folder) -> (release, "codes" | "raw")`` for every table and method not done yet."""
    for table in tables:
        folder = Path(runs) / table
        for method in methods:
            stem = folder / f"{prefix}_{method}_eps{epsilon:g}_seed{seed}"
            if stem.with_suffix(".json").is_file():
                continue
            t0 = time.perf_counter()
            try:
                out, kind = fit_sample(method, folder)
            except Exception as exc:  # a peer that fails is recorded, not hidden, with where in its code it raised
                frames = traceback.extract_tb(exc.__traceback__)
                last = next((f for f in reversed(frames) if "site-packages" not in f.filename), frames[-1])
                info = {"peer": peer, "method": method, "table": table, "error": f"{type(exc).__name__}: {exc}"[:500],
                        "where": f"{last.filename}:{last.lineno} in {last.name}"}
                stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
                print(json.dumps(info), flush=True)
                continue
            out.to_csv(stem.with_suffix(".csv"), index=False)
            info = {"peer": peer, "method": method, "table": table, "kind": kind, "epsilon": epsilon, "delta": delta, "seed": seed,
                    "fit_sample_seconds": time.perf_counter() - t0,
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "command": " ".join(sys.argv)}
            stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
            print(json.dumps(info), flush=True)
