"""Noise samplers: fast vectorized ones on a numpy Generator, exact ones on the OS CSPRNG.

The exact samplers follow Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential
Privacy" (NeurIPS 2020), Algorithms 1-3: integer and rational arithmetic only, so the output
distribution is exactly the stated one and no floating-point artefact reveals the input.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from privsynth.core.rng import SecureRandom

__all__ = [
    "discrete_laplace_numpy",
    "discrete_gaussian_numpy",
    "discrete_laplace_exact",
    "discrete_gaussian_exact",
    "discrete_laplace_ints",
    "discrete_gaussian_ints",
]


# -- fast, vectorized (numpy Generator) ------------------------------------------------------
def discrete_laplace_numpy(scale: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws with ``P(x) ∝ exp(-|x| / scale)`` on the integers (difference of two
    geometric variables)."""
    p = -math.expm1(-1.0 / scale)
    return rng.geometric(p, size=size).astype(np.int64) - rng.geometric(p, size=size).astype(np.int64)


def discrete_gaussian_numpy(sigma: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws with ``P(x) ∝ exp(-x^2 / (2 sigma^2))`` on the integers, by rejection from
    the discrete Laplace (CKS Algorithm 3, vectorized)."""
    t = math.floor(sigma) + 1
    sigma2 = sigma * sigma
    out = np.empty(size, dtype=np.int64)
    filled = 0
    while filled < size:
        need = size - filled
        y = discrete_laplace_numpy(float(t), max(2 * need, 16), rng)
        accept = rng.random(len(y)) < np.exp(-((np.abs(y) - sigma2 / t) ** 2) / (2 * sigma2))
        take = y[accept][:need]
        out[filled : filled + len(take)] = take
        filled += len(take)
    return out


# -- exact (CSPRNG, rational arithmetic) -----------------------------------------------------
def _bernoulli(p: Fraction, src: SecureRandom) -> bool:
    return src.randbelow(p.denominator) < p.numerator


def _bernoulli_exp_le1(gamma: Fraction, src: SecureRandom) -> bool:
    k = 1
    while _bernoulli(gamma / k, src):
        k += 1
    return k % 2 == 1


def _bernoulli_exp(gamma: Fraction, src: SecureRandom) -> bool:
    """Exact Bernoulli(exp(-gamma)) for rational gamma >= 0 (CKS Algorithm 1)."""
    while gamma > 1:
        if not _bernoulli_exp_le1(Fraction(1), src):
            return False
        gamma -= 1
    return _bernoulli_exp_le1(gamma, src)


def _one_discrete_laplace(scale: Fraction, src: SecureRandom) -> int:
    t, s = scale.numerator, scale.denominator  # scale = t / s (CKS Algorithm 2)
    while True:
        u = src.randbelow(t)
        if not _bernoulli_exp(Fraction(u, t), src):
            continue
        v = 0
        while _bernoulli_exp(Fraction(1), src):
            v += 1
        y = (u + t * v) // s
        negative = src.randbelow(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def discrete_laplace_exact(scale: Fraction, size: int, src: SecureRandom | None = None) -> np.ndarray:
    """Exact discrete Laplace draws with rational ``scale`` from the OS CSPRNG."""
    return np.array(discrete_laplace_ints(scale, size, src), dtype=np.int64)


def discrete_laplace_ints(scale: Fraction, size: int, src: SecureRandom | None = None) -> list[int]:
    """As :func:`discrete_laplace_exact`, as unbounded Python integers."""
    scale = Fraction(scale)
    if scale <= 0:
        raise ValueError("scale must be > 0.")
    src = src or SecureRandom()
    return [_one_discrete_laplace(scale, src) for _ in range(size)]


def _one_discrete_gaussian(sigma2: Fraction, src: SecureRandom) -> int:
    t = math.isqrt(math.floor(sigma2)) + 1
    while True:
        y = _one_discrete_laplace(Fraction(t), src)
        gamma = (abs(y) - sigma2 / t) ** 2 / (2 * sigma2)
        if _bernoulli_exp(gamma, src):
            return y


def discrete_gaussian_exact(sigma2: Fraction, size: int, src: SecureRandom | None = None) -> np.ndarray:
    """Exact discrete Gaussian draws with rational variance parameter ``sigma2`` from the OS CSPRNG."""
    return np.array(discrete_gaussian_ints(sigma2, size, src), dtype=np.int64)


def discrete_gaussian_ints(sigma2: Fraction, size: int, src: SecureRandom | None = None) -> list[int]:
    """As :func:`discrete_gaussian_exact`, as unbounded Python integers."""
    sigma2 = Fraction(sigma2)
    if sigma2 <= 0:
        raise ValueError("sigma2 must be > 0.")
    src = src or SecureRandom()
    return [_one_discrete_gaussian(sigma2, src) for _ in range(size)]
