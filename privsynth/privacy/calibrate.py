"""Pure calibration: the least noise that meets a target budget, never overshooting it.

Every search builds fresh accountants (the accountant objects are pure) and returns the upper
end of its bracket, a noise level whose composed epsilon was *checked* to be within target.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import brentq

from privsynth.core import checks
from privsynth.privacy.accountants import Accountant, get_accountant
from privsynth.privacy.events import Event, GaussianEvent, LaplaceEvent, SubsampledGaussianEvent

__all__ = [
    "calibrate_noise_multiplier",
    "laplace_noise_multiplier",
    "gaussian_noise_multiplier",
    "dpsgd_noise_multiplier",
    "split_epsilon",
]

_MAX_NOISE = 1e8


def _check_target(epsilon: float, delta: float) -> None:
    checks.number(epsilon, "epsilon", low=0, low_open=True)
    checks.number(delta, "delta", low=0, high=1, high_open=True)


def calibrate_noise_multiplier(
    make_event: Callable[[float], Event],
    *,
    epsilon: float,
    delta: float,
    accountant: "str | Mapping[str, Any] | Accountant" = "rdp",
    already_spent: Sequence[Event] = (),
    rtol: float = 1e-6,
) -> float:
    """Smallest noise multiplier ``x`` (to relative precision ``rtol``) such that
    ``already_spent + [make_event(x)]`` composes to at most ``epsilon`` at ``delta``.

    ``make_event`` must give less privacy loss for more noise (every mechanism here does).

    Raises:
        ValueError: the target cannot be met (e.g. Gaussian noise at ``delta = 0``, or the
            events already spent exhaust the target).

    Example:
        >>> from privsynth.privacy.events import GaussianEvent
        >>> x = calibrate_noise_multiplier(lambda s: GaussianEvent(noise_multiplier=s), epsilon=1.0, delta=1e-5)
        >>> from privsynth.privacy.accountants import RdpAccountant
        >>> RdpAccountant().epsilon([GaussianEvent(noise_multiplier=x)], 1e-5) <= 1.0
        True
    """
    _check_target(epsilon, delta)
    acc = get_accountant(accountant)
    base = list(already_spent)

    def eps_at(x: float) -> float:
        return acc.epsilon([*base, make_event(x)], delta)

    hi = 1.0
    while not eps_at(hi) <= epsilon:
        hi *= 2.0
        if hi > _MAX_NOISE:
            raise ValueError(
                f"No noise multiplier up to {_MAX_NOISE:g} meets epsilon={epsilon} at delta={delta} with "
                f"the {acc.name!r} accountant; raise delta (Gaussian mechanisms need delta > 0) or epsilon."
            )
    lo = hi / 2.0
    while eps_at(lo) <= epsilon:
        hi, lo = lo, lo / 2.0
        if lo < 1e-12:
            return hi
    # Brent's method on log(epsilon) - log(target) over log(noise), then one verified step up.
    target = math.log(epsilon)

    def g(log_x: float) -> float:
        e = eps_at(math.exp(log_x))
        return (math.log(e) if 0 < e < math.inf else (709.0 if e == math.inf else -709.0)) - target

    try:
        root = math.exp(brentq(g, math.log(lo), math.log(hi), xtol=rtol / 4, rtol=4 * np.finfo(float).eps))
    except ValueError:  # g is not continuous enough for Brent: fall back to bisection below
        root = hi
    candidate = root * math.exp(rtol / 2)
    if lo < candidate < hi and eps_at(candidate) <= epsilon:
        hi = candidate
        below = root * math.exp(-rtol / 4)
        if lo < below and not eps_at(below) <= epsilon:
            lo = below
    while hi / lo - 1.0 > rtol:  # guaranteed bracket: geometric bisection
        mid = math.sqrt(lo * hi)
        if eps_at(mid) <= epsilon:
            hi = mid
        else:
            lo = mid
    return hi


def laplace_noise_multiplier(epsilon: float) -> float:
    """Laplace noise multiplier (scale / l1_sensitivity) for ``epsilon``: ``1/epsilon``,
    rounded up so that ``LaplaceEvent(x).epsilon <= epsilon`` holds in floating point."""
    _check_target(epsilon, 0.0)
    x = 1.0 / epsilon
    while LaplaceEvent(noise_multiplier=x).epsilon > epsilon:
        x = math.nextafter(x, math.inf)
    return x


def gaussian_noise_multiplier(
    *,
    epsilon: float,
    delta: float,
    count: int = 1,
    accountant: "str | Mapping[str, Any] | Accountant" = "rdp",
    discrete: bool = False,
) -> float:
    """Noise multiplier (sigma / l2_sensitivity) so that ``count`` Gaussian releases compose to
    at most ``(epsilon, delta)``.

    A pure function of its arguments: the result is remembered per accountant configuration
    (a database fit, an audit or a sweep asks for the same calibration many times)."""
    spec = get_accountant(accountant)
    return _gaussian_noise_multiplier(float(epsilon), float(delta), int(count), json.dumps(spec.to_dict(), sort_keys=True),
                                      bool(discrete))


@lru_cache(maxsize=4096)
def _gaussian_noise_multiplier(epsilon: float, delta: float, count: int, accountant: str, discrete: bool) -> float:
    from privsynth.privacy.events import ComposedEvent

    return calibrate_noise_multiplier(
        lambda x: ComposedEvent((GaussianEvent(noise_multiplier=x, discrete=discrete),) * count),
        epsilon=epsilon,
        delta=delta,
        accountant=json.loads(accountant),
    )


def dpsgd_noise_multiplier(
    *,
    epsilon: float,
    delta: float,
    sampling_rate: float,
    steps: int,
    accountant: "str | Mapping[str, Any] | Accountant" = "rdp",
    already_spent: Sequence[Event] = (),
) -> float:
    """DP-SGD noise multiplier so that ``steps`` Poisson-subsampled Gaussian steps (plus anything
    ``already_spent``) compose to at most ``(epsilon, delta)``. Memoized: it is a pure function of
    its arguments, and a DP-SGD plan asks for the same one at every fit."""
    acc = get_accountant(accountant)
    key = json.dumps(acc.to_dict(), sort_keys=True)
    return _dpsgd_noise_multiplier(float(epsilon), float(delta), float(sampling_rate), int(steps), key, tuple(already_spent))


@lru_cache(maxsize=256)
def _dpsgd_noise_multiplier(epsilon: float, delta: float, sampling_rate: float, steps: int, accountant: str,
                            already_spent: tuple) -> float:
    return calibrate_noise_multiplier(
        lambda x: SubsampledGaussianEvent(noise_multiplier=x, sampling_rate=sampling_rate, steps=steps),
        epsilon=epsilon,
        delta=delta,
        accountant=json.loads(accountant),
        already_spent=already_spent,
    )


def split_epsilon(epsilon: float, weights: Sequence[float]) -> tuple[float, ...]:
    """Split ``epsilon`` in proportion to ``weights`` so that the parts sum to at most
    ``epsilon`` in floating point (the last part absorbs rounding).

    Example:
        >>> parts = split_epsilon(1.0, [0.1, 0.2, 0.7])
        >>> math.fsum(parts) <= 1.0
        True
    """
    _check_target(epsilon, 0.0)
    w = [float(v) for v in weights]
    if not w or any(not math.isfinite(v) or v <= 0 for v in w):
        raise ValueError(f"weights must be positive finite numbers, got {list(weights)!r}.")
    total = math.fsum(w)
    parts = [epsilon * v / total for v in w[:-1]]
    last = epsilon - math.fsum(parts)
    while last > 0 and math.fsum([*parts, last]) > epsilon:
        last = math.nextafter(last, 0.0)
    if last <= 0:
        raise ValueError("epsilon is too small to split into these parts.")
    return (*parts, last)
