"""Comparing rows sampled now with rows recorded in a fixture file, honestly about float BLAS.

DPVAE/DPGAN decode rows from a small network's forward pass; its matrix products run on whatever
kernel OpenBLAS picks for the CPU (Haswell, SkylakeX with AVX-512, ...), and the kernels round
differently in the last bits (6th-7th significant digit of a float32 product). Categories and
integers come out the same; float columns are compared to a relative 1e-5. Every other
synthesizer's rows are exact.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

RTOL = 1e-5


def differences(sampled: pd.DataFrame, recorded_csv: str) -> list[str]:
    """What differs between ``sampled`` (as written to CSV and read back) and the recorded CSV;
    empty when they match."""
    now = pd.read_csv(io.StringIO(sampled.to_csv(index=False)), dtype=str, keep_default_na=False)
    then = pd.read_csv(io.StringIO(recorded_csv), dtype=str, keep_default_na=False)
    if list(now.columns) != list(then.columns) or len(now) != len(then):
        return [f"shape/columns {list(now.columns)} x {len(now)} vs {list(then.columns)} x {len(then)}"]
    out = []
    for name in now.columns:
        a, b = now[name], then[name]
        if a.equals(b):
            continue
        floats = a.str.contains(r"[.eE]", regex=True).any() or b.str.contains(r"[.eE]", regex=True).any()
        try:
            x, y = pd.to_numeric(a.replace("", np.nan)).to_numpy(float), pd.to_numeric(b.replace("", np.nan)).to_numpy(float)
        except ValueError:
            out.append(f"{name}: {list(a[a != b][:3])} vs {list(b[a != b][:3])}")
            continue
        if not floats or not np.allclose(x, y, rtol=RTOL, atol=0, equal_nan=True):
            out.append(f"{name}: {list(a[a != b][:3])} vs {list(b[a != b][:3])}")
    return out
