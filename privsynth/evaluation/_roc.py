"""ROC summaries with bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np

__all__ = ["roc_summary", "bootstrap_roc"]


def roc_summary(member_scores: np.ndarray, non_member_scores: np.ndarray) -> dict[str, float]:
    """AUC, TPR at 1% and 0.1% FPR, and attacker advantage (max TPR - FPR); higher scores mean
    'member'."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.r_[np.ones(len(member_scores)), np.zeros(len(non_member_scores))]
    s = np.r_[member_scores, non_member_scores]
    fpr, tpr, _ = roc_curve(y, s)

    def tpr_at(level: float) -> float:
        ok = fpr <= level
        return float(tpr[ok].max()) if ok.any() else 0.0

    return {
        "auc": float(roc_auc_score(y, s)),
        "tpr_at_1pct_fpr": tpr_at(0.01),
        "tpr_at_0_1pct_fpr": tpr_at(0.001),
        "advantage": float(np.max(tpr - fpr)),
    }


def bootstrap_roc(member_scores: np.ndarray, non_member_scores: np.ndarray, *, n_bootstrap: int, rng: np.random.Generator,
                  confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every :func:`roc_summary` metric."""
    draws = []
    for _ in range(n_bootstrap):
        m = rng.choice(member_scores, size=len(member_scores), replace=True)
        n = rng.choice(non_member_scores, size=len(non_member_scores), replace=True)
        draws.append(roc_summary(m, n))
    lo, hi = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
    return {key: (float(np.percentile([d[key] for d in draws], lo)), float(np.percentile([d[key] for d in draws], hi)))
            for key in draws[0]} if draws else {}
