"""Mechanisms: plain functions that charge a ledger, then draw noise from an explicit source."""

from privsynth.mechanisms.counts import histogram, noisy_count, noisy_histogram
from privsynth.mechanisms.exponential import exponential, exponential_probabilities
from privsynth.mechanisms.gaussian import discrete_gaussian, gaussian
from privsynth.mechanisms.laplace import discrete_laplace, laplace

__all__ = [
    "laplace", "discrete_laplace", "gaussian", "discrete_gaussian", "exponential",
    "exponential_probabilities", "noisy_count", "noisy_histogram", "histogram",
]
