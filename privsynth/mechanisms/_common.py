"""Argument checks shared by the mechanisms."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from privsynth.core import checks
from privsynth.privacy.ledger import Ledger

# Grid step of the secure continuous mechanisms, relative to the sensitivity: values are
# rounded to multiples of ``sensitivity * 2**-GRANULARITY_BITS`` and exact integer noise is added.
GRANULARITY_BITS = 30

#: Per-example clipping engines of DP-SGD (:mod:`privsynth.mechanisms.clipping`); here so that
#: parameter checks need no torch.
ENGINES = ("auto", "bookkeeping", "opacus")


def check_positive(name: str, value: Any) -> float:
    return float(checks.number(value, name, low=0, low_open=True))  # type: ignore[arg-type]


def check_call(ledger: Any, rng: Any, secure: bool, label: Any) -> None:
    if not isinstance(ledger, Ledger):
        raise TypeError(f"ledger must be a privsynth Ledger (every release is charged to one), got {type(ledger).__name__}.")
    if not isinstance(label, str) or not label:
        raise ValueError("label must be a non-empty string naming what is released.")
    if not secure and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "Pass the noise source explicitly: rng=np.random.default_rng(seed) for experiments, "
            f"or secure=True for a final release (got rng={type(rng).__name__})."
        )


def as_float_array(value: Any, name: str = "value") -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf): clip or impute before releasing it.")
    return arr


def as_int_array(value: Any, name: str = "value") -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(np.mod(arr, 1) == 0)):
        raise ValueError(f"{name} must hold integers for a discrete mechanism.")
    return arr.astype(np.int64)


def shaped(noisy: np.ndarray, like: Any) -> Any:
    """Return a scalar for scalar input, an array otherwise."""
    return noisy.item() if np.ndim(like) == 0 else noisy


def to_grid(values: np.ndarray, grid: Fraction) -> list[int]:
    """Each value rounded (half to even) to the nearest multiple of ``grid``, as an exact, unbounded
    integer count of grid steps: no range limit, so no error that depends on the value."""
    return [round(Fraction(float(v)) / grid) for v in np.ravel(values)]


def from_grid(units: list[int], grid: Fraction, shape: tuple) -> np.ndarray:
    """Floats from exact grid counts (correctly rounded; beyond the float range: +-inf)."""
    out = np.empty(len(units), dtype=float)
    for i, u in enumerate(units):
        try:
            out[i] = float(u * grid)
        except OverflowError:
            out[i] = math.copysign(math.inf, u)
    return out.reshape(shape)
