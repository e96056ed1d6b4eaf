"""Mechanisms: plain functions that charge a ledger, then draw noise from an explicit source.

The DP-SGD step (:func:`privsynth.mechanisms.dpsgd.dp_sgd_step`) and its clipping engines
(:mod:`privsynth.mechanisms.clipping`) need torch (the ``deep`` extra) and are imported from
their modules.
"""

from privsynth.mechanisms.counts import histogram, noisy_count, noisy_histogram
from privsynth.mechanisms.exponential import exponential, exponential_probabilities
from privsynth.mechanisms.gaussian import discrete_gaussian, gaussian
from privsynth.mechanisms.laplace import discrete_laplace, laplace
from privsynth.mechanisms.sampling import dyadic_rate, poisson_sample

__all__ = [
    "laplace", "discrete_laplace", "gaussian", "discrete_gaussian", "exponential",
    "exponential_probabilities", "noisy_count", "noisy_histogram", "histogram", "poisson_sample", "dyadic_rate",
]
