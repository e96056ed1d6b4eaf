"""Evaluators: fidelity, utility and privacy risk of synthetic data. They read real data, so
their results are not private, and they never spend budget."""

from privsynth.evaluation.fidelity import MarginalTVD, marginal_tvd
from privsynth.evaluation.utility import TSTRResult, train_synthetic_test_real

__all__ = ["marginal_tvd", "MarginalTVD", "train_synthetic_test_real", "TSTRResult"]
