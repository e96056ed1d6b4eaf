"""Laplace mechanisms: continuous Laplace and discrete Laplace (two-sided geometric).

Both charge the ledger *before* drawing noise. ``secure=True`` draws exact integer noise from
the OS CSPRNG; for the continuous mechanism the value is first rounded to a fine grid and the
charge accounts for the rounding (sensitivity + one grid step per coordinate).
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
from privsynth.mechanisms._samplers import discrete_laplace_exact, discrete_laplace_ints, discrete_laplace_numpy
from privsynth.privacy.calibrate import laplace_noise_multiplier
from privsynth.privacy.events import LaplaceEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["laplace", "discrete_laplace"]


def laplace(
    value: Any,
    *,
    l1_sensitivity: float,
    epsilon: float,
    ledger: Ledger,
    rng: np.random.Generator | None = None,
    label: str,
    secure: bool = False,
) -> Any:
    """Release ``value`` (a number or array) with Laplace noise of scale ``l1_sensitivity / epsilon``.

    Args:
        value: The exact query answer; ``l1_sensitivity`` bounds how far it moves when one
            record is added or removed (over all coordinates together).
        l1_sensitivity: The query's L1 sensitivity.
        epsilon: Pure-DP epsilon of this release.
        ledger: Charged before noise is drawn.
        rng: Noise source (required unless ``secure``).
        label: What is released, as recorded in the ledger.
        secure: Exact integer noise on a ``2**-30``-fine grid from the OS CSPRNG.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> x = laplace(10.0, l1_sensitivity=1.0, epsilon=0.5, ledger=ledger, rng=np.random.default_rng(0), label="mean")
        >>> ledger.spent().epsilon
        0.5
    """
    check_call(ledger, rng, secure, label)
    sens = check_positive("l1_sensitivity", l1_sensitivity)
    arr = as_float_array(value)
    nm = laplace_noise_multiplier(check_positive("epsilon", epsilon))
    if not secure:
        ledger.charge(LaplaceEvent(noise_multiplier=nm), label=label)
        return shaped(arr + rng.laplace(0.0, nm * sens, size=arr.shape), value)  # type: ignore[union-attr]
    grid = Fraction(sens) / 2**GRANULARITY_BITS
    grid_sens = Fraction(sens) + grid * max(arr.size, 1)  # rounding moves each coordinate by < one step
    ledger.charge(LaplaceEvent(noise_multiplier=nm, discrete=True), label=label)
    units = to_grid(arr, grid)  # exact integers: no range limit, hence no value-dependent error
    noise = discrete_laplace_ints(grid_sens * Fraction(nm) / grid, arr.size)
    return shaped(from_grid([u + z for u, z in zip(units, noise)], grid, arr.shape), value)


def discrete_laplace(
    value: Any,
    *,
    epsilon: float,
    ledger: Ledger,
    rng: np.random.Generator | None = None,
    label: str,
    l1_sensitivity: int = 1,
    secure: bool = False,
) -> Any:
    """Release integer ``value`` (e.g. counts) with discrete Laplace noise,
    ``P(z) ∝ exp(-epsilon |z| / l1_sensitivity)``: ``epsilon``-DP with integer output.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> int(discrete_laplace(100, epsilon=1.0, ledger=ledger, rng=np.random.default_rng(0), label="n")) > 80
        True
    """
    check_call(ledger, rng, secure, label)
    if isinstance(l1_sensitivity, bool) or int(l1_sensitivity) != l1_sensitivity or l1_sensitivity < 1:
        raise ValueError(f"l1_sensitivity of a discrete mechanism must be a positive integer, got {l1_sensitivity!r}.")
    arr = as_int_array(value)
    nm = laplace_noise_multiplier(check_positive("epsilon", epsilon))
    ledger.charge(LaplaceEvent(noise_multiplier=nm, discrete=True), label=label)
    scale = nm * int(l1_sensitivity)
    if secure:
        noise = discrete_laplace_exact(Fraction(nm) * int(l1_sensitivity), arr.size).reshape(arr.shape)
    else:
        noise = discrete_laplace_numpy(scale, arr.size, rng).reshape(arr.shape)  # type: ignore[arg-type]
    return shaped(arr + noise, value)
