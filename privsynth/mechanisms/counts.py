"""Noisy counts and histograms: integer noise on integer answers (add/remove-one: sensitivity 1)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from privsynth.mechanisms.gaussian import discrete_gaussian
from privsynth.mechanisms.laplace import discrete_laplace
from privsynth.privacy.ledger import Ledger

__all__ = ["noisy_count", "noisy_histogram", "noisy_counts", "histogram"]


def noisy_count(
    data: Any,
    *,
    epsilon: float,
    ledger: Ledger,
    label: str = "record count",
    rng: np.random.Generator | None = None,
    secure: bool = False,
) -> int:
    """``len(data)`` plus discrete Laplace noise, clamped at 0: the DP record count.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> 900 < noisy_count(range(1000), epsilon=1.0, ledger=ledger, rng=np.random.default_rng(0)) < 1100
        True
    """
    return max(0, int(discrete_laplace(len(data), epsilon=epsilon, ledger=ledger, rng=rng, label=label, secure=secure)))


def histogram(codes: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Exact counts of the rows of integer ``codes`` (``(n, k)`` or ``(n,)``) over a grid of ``shape``.
    Private: release only through :func:`noisy_histogram`."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim == 1:
        codes = codes[:, None]
    shape = tuple(int(s) for s in shape)
    if codes.shape[1] != len(shape):
        raise ValueError(f"codes have {codes.shape[1]} columns but shape has {len(shape)} axes.")
    if codes.size and (codes.min() < 0 or np.any(codes.max(axis=0) >= np.array(shape))):
        raise ValueError("codes out of range for the histogram shape.")
    flat = np.ravel_multi_index(tuple(codes.T), shape) if codes.shape[0] else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)


def noisy_histogram(codes: np.ndarray, shape: Sequence[int], *, ledger: Ledger, label: str, **noise: Any) -> np.ndarray:
    """DP counts of the rows of ``codes`` over a public grid; ``noise``: the keyword arguments
    of :func:`noisy_counts` (``epsilon`` or ``noise_multiplier``, ``rng``, ``secure``).

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> noisy_histogram(np.array([0, 1, 1]), (3,), epsilon=1.0, ledger=ledger,
        ...                 rng=np.random.default_rng(0), label="h").shape
        (3,)
    """
    return noisy_counts(histogram(codes, shape), ledger=ledger, label=label, **noise)


def noisy_counts(
    counts: np.ndarray,
    *,
    ledger: Ledger,
    label: str,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    rng: np.random.Generator | None = None,
    secure: bool = False,
) -> np.ndarray:
    """DP version of a histogram over a public grid: discrete Laplace at ``epsilon``, or discrete
    Gaussian with ``noise_multiplier`` (sigma, since one record moves one cell by one: L1 = L2 = 1).

    ``counts`` must be a histogram of records -- each record counted in exactly one cell, as a
    :class:`privsynth.data.Table`'s marginals are -- over a grid whose shape comes from the
    public domain, never from the data.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> noisy_counts(np.array([[3, 0], [1, 2]]), epsilon=1.0, ledger=ledger, rng=np.random.default_rng(0), label="h").shape
        (2, 2)
    """
    if (epsilon is None) == (noise_multiplier is None):
        raise ValueError("Give exactly one of epsilon (discrete Laplace) or noise_multiplier (discrete Gaussian).")
    counts = np.asarray(counts)
    if counts.dtype.kind not in "iu":
        raise ValueError(f"counts must be integer counts of records, got dtype {counts.dtype}.")
    if epsilon is not None:
        return discrete_laplace(counts, epsilon=epsilon, ledger=ledger, rng=rng, label=label, secure=secure)
    return discrete_gaussian(counts, noise_multiplier=noise_multiplier, ledger=ledger, rng=rng, label=label, secure=secure)
