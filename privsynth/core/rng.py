"""The package's one randomness design (DESIGN.md rule 6), owned by this module.

There are two kinds of randomness, and they never mix:

* **Private randomness** touches private records: every noise draw, Poisson batches, shards, and
  everything else drawn while fitting. It comes from :class:`PrivateRandomness`, resolved once
  per fit. By default its root is 128 bits of fresh entropy from the OS CSPRNG, held in memory
  only. ``random_state`` makes a fit reproducible for research; the seed is then a *secret key*:
  it is never written to a certificate, model file, log or release, and the certificate says
  the guarantee holds only while it stays secret. ``secure=True`` ignores ``random_state``: the
  mechanisms use exact integer samplers reading the OS CSPRNG itself (:class:`SecureRandom`),
  and DP-SGD draws its batches and noise seeds from it.
  Independent streams are named children of one ``numpy.random.SeedSequence`` (its ``spawn``
  keys), never ``seed + k``; a stream can be re-derived from its name and step, so nothing about
  the generators' state has to be stored to resume a fit.
* **Public randomness** touches no private data: sampling rows from a fitted model, or the
  first attribute of a PrivBayes network. :func:`resolve_rng` turns a public seed into a
  generator; without a seed every call draws fresh OS entropy.

No global seeding anywhere (``np.random.seed``, ``torch.manual_seed``).
"""

from __future__ import annotations

import os
import secrets
from typing import Union

import numpy as np

__all__ = ["RandomState", "resolve_rng", "PrivateRandomness", "SecureRandom", "secure_uint64", "STREAMS"]

RandomState = Union[None, int, np.random.Generator]

#: Named private streams: the first spawn key of each child of a fit's root ``SeedSequence``.
STREAMS = {
    "releases": 0,  # noisy counts, histograms, selections made before or instead of training
    "public": 1,  # choices recorded in the model (e.g. PrivBayes's first attribute)
    "init": 2,  # network weights
    "sampling": 3,  # Poisson batches: (rank, step)
    "noise": 4,  # DP-SGD gradient noise: (step,)
    "loss": 5,  # randomness inside per-record losses: (rank, step)
    "generator": 6,  # post-processing updates (the GAN's generator): (step,)
    "dequantize": 7,  # jitter of the training records' encoding: (rank,)
    "domain": 8,  # DP domain estimation: (column,)
    "split": 9,  # which records a pipeline run holds out (privsynth.mechanisms.sampling.holdout_mask)
    "bound": 10,  # which rows beyond a person's contribution bound are dropped: (table,)
    "tables": 11,  # the private randomness of each table's synthesizer in a database fit: (table,)
}


def _check_seed(random_state: object) -> None:
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer, np.random.Generator)):
        raise TypeError(
            "random_state must be None, a non-negative int or a numpy.random.Generator; "
            f"got {type(random_state).__name__}."
        )
    if isinstance(random_state, (int, np.integer)) and random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}.")


def resolve_rng(random_state: RandomState) -> np.random.Generator:
    """A numpy ``Generator`` for *public* randomness (e.g. sampling rows from a fitted model).

    Args:
        random_state: ``None`` (fresh OS entropy: a different stream every call), a
            non-negative int seed, or a ``Generator`` (returned as is, so callers share its stream).

    Raises:
        TypeError: for any other type (e.g. the legacy ``RandomState``, whose global-state habits
            are what this function exists to avoid).

    Example:
        >>> int(resolve_rng(0).integers(10)) == int(resolve_rng(0).integers(10))
        True
    """
    if random_state is None:
        return np.random.default_rng()
    _check_seed(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(int(random_state))


class PrivateRandomness:
    """Where one fit's private randomness comes from (see the module docstring).

    Args:
        random_state: ``None`` (default: fresh OS CSPRNG entropy), or a seed / ``Generator`` that
            makes the fit reproducible and is then a secret key. Ignored when ``secure``.
        secure: Exact samplers on the OS CSPRNG for every private draw.

    Example:
        >>> a = PrivateRandomness(7, secure=False).generator("sampling", 0, 3).random()
        >>> a == PrivateRandomness(7, secure=False).generator("sampling", 0, 3).random()
        True
        >>> PrivateRandomness(None, secure=False).seeded
        False
    """

    def __init__(self, random_state: RandomState = None, *, secure: bool = False) -> None:
        if random_state is not None:
            _check_seed(random_state)
        self.secure = bool(secure)
        self.seeded = random_state is not None and not self.secure
        if not self.seeded:
            self._entropy: int | list[int] = secrets.randbits(128)
        elif isinstance(random_state, np.random.Generator):
            self._entropy = [int(x) for x in random_state.integers(0, 2**63, size=4)]
        else:
            self._entropy = int(random_state)  # type: ignore[arg-type]

    def seed_sequence(self, stream: str, *index: int) -> np.random.SeedSequence:
        """The ``SeedSequence`` of a named stream (and sub-stream ``index``, e.g. rank and step):
        the same child ``root.spawn`` would give, addressed by its spawn key."""
        if stream not in STREAMS:
            raise ValueError(f"Unknown randomness stream {stream!r}; known: {sorted(STREAMS)}.")
        return np.random.SeedSequence(self._entropy, spawn_key=(STREAMS[stream], *(int(i) for i in index)))

    def generator(self, stream: str, *index: int) -> np.random.Generator:
        """A numpy generator on a named private stream."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(stream, *index)))

    def integer_seed(self, stream: str, *index: int) -> int:
        """A 63-bit seed for a torch generator on a named private stream."""
        return int(self.seed_sequence(stream, *index).generate_state(1, np.uint64)[0] >> np.uint64(1))

    def assumptions(self) -> tuple[str, ...]:
        """What the certificate says about the private randomness of this fit."""
        if self.secure:
            return (
                "secure=True: every noisy count, histogram and Laplace/Gaussian release uses exact integer "
                "samplers (Canonne-Kamath-Steinke) reading the OS CSPRNG; exponential-mechanism selections use "
                "a 53-bit uniform from the OS CSPRNG; any other private draw comes from a generator seeded with "
                "128 bits from the OS CSPRNG; random_state is not used",
            )
        if self.seeded:
            return (
                "reproducible run: the private randomness is derived from random_state (numpy SeedSequence "
                "streams); the guarantee holds only while the seed stays secret -- a guessable seed (such as 0) "
                "gives no protection against an attacker who tries it; the seed is written nowhere",
            )
        return (
            "private randomness from numpy/torch generators seeded with 128 bits of fresh OS CSPRNG entropy, "
            "held in memory only; floating-point samplers (secure=True uses exact samplers on the CSPRNG)",
        )

    def __repr__(self) -> str:  # never shows the entropy
        kind = "secure" if self.secure else ("seeded" if self.seeded else "fresh")
        return f"PrivateRandomness({kind})"


def secure_uint64(size: int) -> np.ndarray:
    """``size`` uniform 64-bit integers straight from the OS CSPRNG."""
    return np.frombuffer(os.urandom(8 * int(size)), dtype=np.uint64)


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
