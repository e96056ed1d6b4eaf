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

from privsynth.core.rng import PrivateRandomness, secure_uint64

__all__ = ["dyadic_rate", "poisson_sample", "holdout_mask"]

_BITS = 53
#: Records drawn at a time (a Poisson sample of a table of any size needs memory for this many draws).
_CHUNK = 1 << 20


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
    if not secure and not isinstance(rng, np.random.Generator):
        raise TypeError("Pass the private randomness explicitly (rng=...), or secure=True.")
    picked = []
    for start in range(0, n, _CHUNK):  # memory bounded by the chunk (the same draws as one call would make)
        m = min(_CHUNK, n - start)
        if secure:
            keep = (secure_uint64(m) >> np.uint64(64 - _BITS)) < np.uint64(int(q * 2**_BITS))
        else:
            keep = rng.random(m) < q  # type: ignore[union-attr]
        picked.append(np.flatnonzero(keep) + start)
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)


def holdout_mask(n: int, holdout_fraction: float, randomness: PrivateRandomness) -> np.ndarray:
    """Which of ``n`` records are held out: each one independently with probability
    ``holdout_fraction`` (rounded to a multiple of ``2**-53``), drawn from the fit's *private*
    randomness -- the OS CSPRNG, or the secret ``random_state`` stream of a reproducible run --
    never from a public seed (DESIGN.md rule 2).

    Why not a seeded permutation: ``permutation(n)`` and ``permutation(n + 1)`` are unrelated, so
    the members of ``D`` and ``D + t`` would differ in many records and anyone who knows the seed
    could tell which one a release was fitted on. Here the draws are independent per record (and,
    with a seed, record ``i`` keeps its draw when a record is appended), so under a coupling
    ``members(D + t)`` is ``members(D)`` plus at most ``t``: the fit's guarantee carries over to
    the table handed in.

    Example:
        >>> mask = holdout_mask(10_000, 0.2, PrivateRandomness(5))
        >>> 1800 < int(mask.sum()) < 2200
        True
        >>> bool((holdout_mask(11, 0.2, PrivateRandomness(5))[:10] == holdout_mask(10, 0.2, PrivateRandomness(5))).all())
        True
    """
    h = float(holdout_fraction)
    if not 0 <= h < 1:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction!r}.")
    mask = np.zeros(int(n), dtype=bool)
    if h > 0:
        mask[poisson_sample(int(n), dyadic_rate(h), rng=None if randomness.secure else randomness.generator("split"),
                            secure=randomness.secure)] = True
    return mask
