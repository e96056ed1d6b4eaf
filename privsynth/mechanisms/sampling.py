"""Poisson sampling of private records, exactly at the rate the accountant is told.

DP-SGD's privacy amplification assumes that every record joins each batch independently with
probability ``q``. This sampler makes that exact: ``q`` is a multiple of ``2**-53``
(:func:`dyadic_rate` rounds a requested rate down to one), and a record joins when a uniform
53-bit integer falls below ``q * 2**53``. numpy's float64 ``Generator.random`` is exactly such an
integer times ``2**-53``, so the comparison ``u < q`` has probability exactly ``q`` -- unlike a
float32 comparison, whose realized rate exceeds ``q`` (Opacus's ``UniformWithReplacementSampler``).
``secure=True`` takes the 53-bit integers straight from the OS CSPRNG.
"""

from __future__ import annotations

import math

import numpy as np

from privsynth.core.rng import secure_uint64

__all__ = ["dyadic_rate", "poisson_sample"]

_BITS = 53


def dyadic_rate(sampling_rate: float) -> float:
    """The largest multiple of ``2**-53`` not above ``sampling_rate`` (in ``(0, 1]``).

    Example:
        >>> dyadic_rate(0.5), dyadic_rate(0.1) <= 0.1
        (0.5, True)
    """
    q = float(sampling_rate)
    if not 0 < q <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate!r}.")
    out = math.floor(q * 2**_BITS) / 2**_BITS
    if out <= 0:
        raise ValueError(f"sampling_rate {sampling_rate!r} is below 2**-53, the finest rate the sampler realizes.")
    return out


def poisson_sample(n: int, sampling_rate: float, *, rng: np.random.Generator | None = None, secure: bool = False) -> np.ndarray:
    """Indices of a Poisson sample of ``range(n)``: each joins independently with probability
    ``sampling_rate`` exactly.

    Args:
        n: Number of records (private: nothing here depends on it beyond the draws).
        sampling_rate: A multiple of ``2**-53`` (see :func:`dyadic_rate`).
        rng: Private randomness (ignored when ``secure``).
        secure: Draw the uniforms from the OS CSPRNG.

    Example:
        >>> idx = poisson_sample(10_000, 0.25, rng=np.random.default_rng(0))
        >>> 2300 < len(idx) < 2700
        True
    """
    q = float(sampling_rate)
    if dyadic_rate(q) != q:
        raise ValueError(f"sampling_rate {q!r} is not a multiple of 2**-53; pass dyadic_rate({q!r}) and account at that rate.")
    if secure:
        keep = (secure_uint64(n) >> np.uint64(64 - _BITS)) < np.uint64(int(q * 2**_BITS))
    else:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Pass the private randomness explicitly (rng=...), or secure=True.")
        keep = rng.random(n) < q
    return np.flatnonzero(keep)
