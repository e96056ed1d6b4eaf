"""The exponential mechanism (McSherry & Talwar 2007): private selection by score."""

from __future__ import annotations

from typing import Callable

import numpy as np

from privsynth.core.rng import SecureRandom
from privsynth.mechanisms._common import as_float_array, check_call, check_positive
from privsynth.privacy.events import ExponentialEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["exponential", "exponential_probabilities"]


def exponential_probabilities(scores: np.ndarray, *, sensitivity: float, epsilon: float, monotonic: bool = False) -> np.ndarray:
    """Selection probabilities ``∝ exp(epsilon * score / (2 sensitivity))`` (``/ sensitivity``
    when scores are monotonic in the data). Pure function, for tests and analysis."""
    s = as_float_array(scores, "scores").ravel()
    factor = epsilon / (sensitivity if monotonic else 2.0 * sensitivity)
    logits = factor * (s - s.max())
    p = np.exp(logits)
    return p / p.sum()


def exponential(
    scores: np.ndarray,
    *,
    sensitivity: float,
    epsilon: float,
    ledger: Ledger,
    label: str,
    rng: np.random.Generator | None = None,
    monotonic: bool = False,
    secure: bool = False,
    feasible: Callable[[int], bool] | None = None,
) -> int:
    """Select an index with probability ``∝ exp(epsilon * score / (2 sensitivity))``.

    Args:
        scores: One score per candidate (higher is better); ``sensitivity`` bounds how much any
            score moves when one record is added or removed.
        sensitivity: Score sensitivity.
        epsilon: Pure-DP epsilon of the selection.
        ledger: Charged before sampling.
        label: What is selected.
        rng: Randomness (required unless ``secure``).
        monotonic: Scores all move in the same direction between neighbours (halves the noise).
        secure: Draw the selection's uniform variate from the OS CSPRNG.
        feasible: Restrict the selection to the candidates this (data-independent) predicate
            accepts, checked lazily: with Gumbel noise the selection is the first feasible
            candidate in order of noisy score, which is the exponential mechanism over the
            feasible ones (Gumbel-max), so an expensive predicate runs on a few candidates
            only. ``sensitivity`` must bound the scores of every candidate passed.

    Returns:
        The selected index.

    Example:
        >>> from privsynth.privacy import Budget, Ledger
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> exponential(np.array([0.0, 100.0]), sensitivity=1.0, epsilon=1.0, ledger=ledger,
        ...             rng=np.random.default_rng(0), label="best")
        1
    """
    check_call(ledger, rng, secure, label)
    sens = check_positive("sensitivity", sensitivity)
    eps = check_positive("epsilon", epsilon)
    s = as_float_array(scores, "scores").ravel()
    if s.size == 0:
        raise ValueError("The exponential mechanism needs at least one candidate.")
    ledger.charge(ExponentialEvent(epsilon=eps), label=label)
    if secure:
        index = np.arange(s.size) if feasible is None else np.flatnonzero([feasible(i) for i in range(s.size)])
        if index.size == 0:
            raise ValueError("No feasible candidate for the exponential mechanism.")
        p = exponential_probabilities(s[index], sensitivity=sens, epsilon=eps, monotonic=monotonic)
        return int(index[min(int(np.searchsorted(np.cumsum(p), SecureRandom().random(), side="right")), index.size - 1)])
    factor = eps / (sens if monotonic else 2.0 * sens)
    noisy = factor * s + rng.gumbel(size=s.size)  # type: ignore[union-attr]
    if feasible is None:
        return int(np.argmax(noisy))
    for i in np.argsort(-noisy, kind="stable"):
        if feasible(int(i)):
            return int(i)
    raise ValueError("No feasible candidate for the exponential mechanism.")
