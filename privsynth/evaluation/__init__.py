"""Evaluators: anonymity, membership-inference risk, empirical DP audits, fidelity and utility.

They read real data, so their results are *not* private, and they never spend budget. Every one
takes plain DataFrames (+ a Domain where it needs one) and returns a frozen result with
``to_dict()``.
"""

from privsynth.evaluation.anonymisation import AnonymisationRisk, inference_risk, linkability_risk, singling_out_risk
from privsynth.evaluation.anonymity import KAnonymity, LDiversity, TCloseness, k_anonymity, l_diversity, t_closeness
from privsynth.evaluation.audit import AuditResult, audit, worst_case_canary
from privsynth.evaluation.compare import Comparison, compare
from privsynth.evaluation.disclosure import MembershipDisclosure, membership_disclosure_score
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
from privsynth.evaluation.ml_efficiency import ml_affinity, ml_efficiency, tune
from privsynth.evaluation.rules import rule_violations
from privsynth.evaluation.synmeter import synmeter_fidelity, synmeter_queries, synmeter_query_error
from privsynth.evaluation.tab_bench import TabBenchTVD, tab_bench_queries, tab_bench_query_error, tab_bench_tvd
from privsynth.evaluation.utility import TSTRResult, train_synthetic_test_real

__all__ = [
    "k_anonymity", "l_diversity", "t_closeness", "KAnonymity", "LDiversity", "TCloseness",
    "apply_hierarchy", "generalize", "band",
    "membership_inference", "MembershipInference", "AttackResult", "TargetResult",
    "audit", "AuditResult", "worst_case_canary",
    "marginal_tvd", "MarginalTVD", "correlation_difference", "CorrelationDifference",
    "plot_marginals", "plot_correlation_difference", "train_synthetic_test_real", "TSTRResult",
    "rule_violations", "compare", "Comparison",
    "singling_out_risk", "linkability_risk", "inference_risk", "AnonymisationRisk",
    "membership_disclosure_score", "MembershipDisclosure",
    "tab_bench_tvd", "TabBenchTVD", "tab_bench_query_error", "tab_bench_queries",
    "synmeter_fidelity", "synmeter_query_error", "synmeter_queries", "ml_efficiency", "ml_affinity", "tune",
]
