"""Calibrating a neural generator's outputs to the DP 1-way marginals (post-processing, numpy).

A DP-SGD model's output layer gives, for every record it generates, independent distributions
per column (a softmax per categorical block, a value per numeric column, a logit per missing
indicator) given its latent input. :func:`fit_calibration` tilts each of them once, after
training, so that the generated 1-way marginals match the DP marginals the fit released:

* categorical: additive logit offsets, fitted by the fixed point ``b += log(target) - log(model)``
  over a pool of latent draws (each column's marginal depends on its own offsets only);
* missing indicators: a logit offset, the same way;
* numeric (and many-level ordinal) outputs: quantile mapping -- the model's output distribution
  (pool quantiles) onto the DP marginal's CDF over the public bins (uniform within a bin) or levels.

The dependence between columns stays the model's. Everything here sees DP outputs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Calibration", "fit_calibration", "softmax", "QUANTILES"]

#: Probabilities at which a numeric output's quantiles are kept.
QUANTILES = np.linspace(0.0, 1.0, 201)
_FLOOR = 1e-9


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Calibration:
    """Per-block corrections: logit ``offsets`` (one-hot and missing blocks, by block start) and
    the model's output ``quantiles`` of numeric blocks (at :data:`QUANTILES`)."""

    offsets: dict = field(default_factory=dict)
    quantiles: dict = field(default_factory=dict)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"offset::{k}": np.asarray(v, dtype=np.float64) for k, v in self.offsets.items()}
        out.update({f"quantiles::{k}": np.asarray(v, dtype=np.float64) for k, v in self.quantiles.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Calibration":
        return cls(
            offsets={int(k.split("::")[1]): np.asarray(v, dtype=np.float64) for k, v in arrays.items() if k.startswith("offset::")},
            quantiles={int(k.split("::")[1]): np.asarray(v, dtype=np.float64) for k, v in arrays.items() if k.startswith("quantiles::")},
        )


def _tilt(logits: np.ndarray, target: np.ndarray, iterations: int = 100, tol: float = 1e-6) -> np.ndarray:
    """Offsets ``b`` with ``mean(softmax(logits + b)) ~ target``."""
    log_target = np.log(np.maximum(target, _FLOOR))
    b = np.zeros(logits.shape[1])
    for _ in range(iterations):
        model = softmax(logits + b).mean(axis=0)
        step = log_target - np.log(np.maximum(model, _FLOOR))
        b += step
        b -= b.max()
        if np.abs(model - target).sum() < tol:
            break
    return b


def _logit_tilt(raw: np.ndarray, rate: float, iterations: int = 100) -> float:
    """Offset ``b`` with ``mean(sigmoid(raw + b)) ~ rate``."""
    rate = float(np.clip(rate, _FLOOR, 1 - _FLOOR))
    lo, hi = -50.0, 50.0
    for _ in range(iterations):  # the mean is increasing in b: bisection
        mid = (lo + hi) / 2
        if (1.0 / (1.0 + np.exp(-(raw + mid)))).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_calibration(raw: np.ndarray, blocks: Sequence, targets: dict[int, np.ndarray]) -> Calibration:
    """Fit the corrections on a pool of raw outputs ``raw`` (pool x width).

    Args:
        raw: Network outputs before activation for a pool of latent draws.
        blocks: The encoder's blocks.
        targets: For each block start: the DP target -- a distribution over the one-hot block's
            cells, a missing rate (array of one), or, for a numeric block, nothing (its
            quantiles are kept and mapped onto the DP CDF when sampling).
    """
    offsets: dict[int, np.ndarray] = {}
    quantiles: dict[int, np.ndarray] = {}
    for b in blocks:
        seg = raw[:, b.start : b.start + b.width].astype(np.float64)
        if b.kind == "onehot" and b.start in targets:
            offsets[b.start] = _tilt(seg, np.asarray(targets[b.start], dtype=float))
        elif b.kind == "missing" and b.start in targets:
            offsets[b.start] = np.array([_logit_tilt(seg[:, 0], float(targets[b.start][0]))])
        elif b.kind in ("numeric", "ordinal"):
            quantiles[b.start] = np.quantile(np.tanh(seg[:, 0]), QUANTILES)
    return Calibration(offsets=offsets, quantiles=quantiles)
