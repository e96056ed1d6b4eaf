"""Gaussian mechanisms: continuous Gaussian and discrete Gaussian (Canonne, Kamath, Steinke 2020).

Give either a target ``(epsilon, delta)`` -- the noise is calibrated with the ledger's accountant
for this release alone -- or an explicit ``noise_multiplier`` (sigma / l2_sensitivity), e.g.
from :func:`privsynth.privacy.gaussian_noise_multiplier` when several releases share a budget.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from privsynth.mechanisms._common import (
    GRANULARITY_BITS,
    as_float_array,
    as_int_array,
    check_call,
    check_positive,
    from_grid,
    shaped,
    to_grid,
)
from privsynth.mechanisms._samplers import discrete_gaussian_exact, discrete_gaussian_ints, discrete_gaussian_numpy
from privsynth.privacy.calibrate import gaussian_noise_multiplier
from privsynth.privacy.events import GaussianEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["gaussian", "discrete_gaussian"]


def _noise_multiplier(epsilon: float | None, delta: float | None, noise_multiplier: float | None, ledger: Ledger, discrete: bool) -> float:
    if noise_multiplier is not None:
        if epsilon is not None or delta is not None:
            raise ValueError("Give either noise_multiplier or (epsilon, delta), not both.")
        return check_positive("noise_multiplier", noise_multiplier)
    if epsilon is None or delta is None:
        raise ValueError("Give (epsilon, delta) or noise_multiplier for a Gaussian mechanism.")
    if not delta > 0:
        raise ValueError("The Gaussian mechanism needs delta > 0; use a Laplace mechanism for pure DP.")
    return gaussian_noise_multiplier(epsilon=epsilon, delta=delta, accountant=ledger.accountant, discrete=discrete)


def gaussian(
    value: Any,
    *,
    l2_sensitivity: float,
    ledger: Ledger,
    label: str,
    epsilon: float | None = None,
    delta: float | None = None,
    noise_multiplier: float | None = None,
    rng: np.random.Generator | None = None,
    secure: bool = False,
) -> Any:
    """Release ``value`` with Gaussian noise of standard deviation ``noise_multiplier * l2_sensitivity``.

    ``secure=True`` rounds to a ``2**-30``-fine grid and adds exact discrete Gaussian noise from
    the OS CSPRNG (the charge covers the rounding).

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0, delta=1e-5))
        >>> x = gaussian([1.0, 2.0], l2_sensitivity=1.0, epsilon=1.0, delta=1e-5, ledger=ledger,
        ...              rng=np.random.default_rng(0), label="sums")
        >>> ledger.spent().epsilon <= 1.0
        True
    """
    check_call(ledger, rng, secure, label)
    sens = check_positive("l2_sensitivity", l2_sensitivity)
    arr = as_float_array(value)
    nm = _noise_multiplier(epsilon, delta, noise_multiplier, ledger, discrete=secure)
    if not secure:
        ledger.charge(GaussianEvent(noise_multiplier=nm), label=label)
        return shaped(arr + rng.normal(0.0, nm * sens, size=arr.shape), value)  # type: ignore[union-attr]
    grid = Fraction(sens) / 2**GRANULARITY_BITS
    grid_sens = sens + float(grid) * np.sqrt(max(arr.size, 1))  # rounding moves the vector by < sqrt(size) steps
    ledger.charge(GaussianEvent(noise_multiplier=nm, discrete=True), label=label)
    units = to_grid(arr, grid)  # exact integers: no range limit, hence no value-dependent error
    sigma_units = Fraction(nm * grid_sens) / grid
    noise = discrete_gaussian_ints(sigma_units**2, arr.size)
    return shaped(from_grid([u + z for u, z in zip(units, noise)], grid, arr.shape), value)


def discrete_gaussian(
    value: Any,
    *,
    ledger: Ledger,
    label: str,
    l2_sensitivity: float = 1.0,
    epsilon: float | None = None,
    delta: float | None = None,
    noise_multiplier: float | None = None,
    rng: np.random.Generator | None = None,
    secure: bool = False,
) -> Any:
    """Release integer ``value`` with discrete Gaussian noise (``P(z) ∝ exp(-z^2 / 2 sigma^2)``,
    ``sigma = noise_multiplier * l2_sensitivity``); accounted by its zCDP bound.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=3.0, delta=1e-6))
        >>> counts = discrete_gaussian([5, 7], noise_multiplier=2.0, ledger=ledger, rng=np.random.default_rng(1), label="h")
        >>> counts.dtype
        dtype('int64')
    """
    check_call(ledger, rng, secure, label)
    sens = check_positive("l2_sensitivity", l2_sensitivity)
    arr = as_int_array(value)
    nm = _noise_multiplier(epsilon, delta, noise_multiplier, ledger, discrete=True)
    ledger.charge(GaussianEvent(noise_multiplier=nm, discrete=True), label=label)
    sigma = nm * sens
    if secure:
        noise = discrete_gaussian_exact(Fraction(sigma) ** 2, arr.size).reshape(arr.shape)
    else:
        noise = discrete_gaussian_numpy(sigma, arr.size, rng).reshape(arr.shape)  # type: ignore[arg-type]
    return shaped(arr + noise, value)
