"""Explicit randomness: resolving ``random_state`` and the cryptographically secure source.

Noise is always drawn from a generator passed in explicitly (never numpy's global state).
``secure=True`` code paths draw from :class:`SecureRandom`, the operating system's CSPRNG.
"""

from __future__ import annotations

import secrets
from typing import Union

import numpy as np

__all__ = ["RandomState", "resolve_rng", "derive_seed", "SecureRandom"]

RandomState = Union[None, int, np.random.Generator]


def resolve_rng(random_state: RandomState) -> np.random.Generator:
    """Return a numpy ``Generator`` for ``random_state``.

    Args:
        random_state: ``None`` (fresh OS entropy), a non-negative int seed, or a ``Generator``
            (returned as is, so callers share its stream).

    Returns:
        A ``numpy.random.Generator``.

    Raises:
        TypeError: for any other type (e.g. the legacy ``RandomState``, which we do not accept
            because its global-state habits are what this function exists to avoid).

    Example:
        >>> int(resolve_rng(0).integers(10)) == int(resolve_rng(0).integers(10))
        True
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be None, a non-negative int or a numpy.random.Generator; "
        f"got {type(random_state).__name__}."
    )


def derive_seed(random_state: RandomState) -> int:
    """Return a 63-bit integer seed drawn from ``random_state`` (fresh entropy for ``None``)."""
    if random_state is None:
        return secrets.randbits(63)
    return int(resolve_rng(random_state).integers(0, 2**63 - 1))


class SecureRandom:
    """Integer randomness from the operating system's CSPRNG (``secrets``).

    Used by the exact samplers of :mod:`privsynth.mechanisms` when ``secure=True``: their
    arithmetic is on integers and fractions, so no floating-point artefact can leak the
    un-noised value (Mironov, CCS 2012). It has no seed on purpose.

    Example:
        >>> 0 <= SecureRandom().randbelow(10) < 10
        True
    """

    def randbelow(self, n: int) -> int:
        """Uniform integer in ``[0, n)``."""
        return secrets.randbelow(n)

    def random(self) -> float:
        """Uniform float in ``[0, 1)`` with 53 random bits."""
        return secrets.randbits(53) / float(1 << 53)
