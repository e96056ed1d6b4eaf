"""Evaluators: anonymity, membership-inference risk, empirical DP audits, fidelity and utility.

They read real data, so their results are *not* private, and they never spend budget. Every one
takes plain DataFrames (+ a Domain where it needs one) and returns a frozen result with
``to_dict()``.
"""

from privsynth.evaluation.anonymity import KAnonymity, LDiversity, TCloseness, k_anonymity, l_diversity, t_closeness
from privsynth.evaluation.audit import AuditResult, audit, worst_case_canary
from privsynth.evaluation.compare import Comparison, compare
from privsynth.evaluation.fidelity import (
    CorrelationDifference,
    MarginalTVD,
    correlation_difference,
    marginal_tvd,
    plot_correlation_difference,
    plot_marginals,
)
from privsynth.evaluation.generalize import apply_hierarchy, band, generalize
from privsynth.evaluation.membership import AttackResult, MembershipInference, TargetResult, membership_inference
from privsynth.evaluation.rules import rule_violations
from privsynth.evaluation.utility import TSTRResult, train_synthetic_test_real

__all__ = [
    "k_anonymity", "l_diversity", "t_closeness", "KAnonymity", "LDiversity", "TCloseness",
    "apply_hierarchy", "generalize", "band",
    "membership_inference", "MembershipInference", "AttackResult", "TargetResult",
    "audit", "AuditResult", "worst_case_canary",
    "marginal_tvd", "MarginalTVD", "correlation_difference", "CorrelationDifference",
    "plot_marginals", "plot_correlation_difference", "train_synthetic_test_real", "TSTRResult",
    "rule_violations", "compare", "Comparison",
]
