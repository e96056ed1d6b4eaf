"""Utility: train on synthetic, test on real (TSTR), against train on real.

Evaluators read real data, so their outputs are not private; they never spend budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, validate
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain, Ordinal
from privsynth.core.errors import DomainError

__all__ = ["TSTRResult", "train_synthetic_test_real"]


@dataclass(frozen=True)
class TSTRResult:
    """ROC AUC on real test data of a classifier trained on synthetic vs on real training data."""

    target: str
    positive: Any
    auc_synthetic: float
    auc_real: float
    model: str
    n_test: int

    @property
    def ratio(self) -> float:
        """``auc_synthetic / auc_real``."""
        return self.auc_synthetic / self.auc_real

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["positive"] = str(self.positive)
        out["ratio"] = self.ratio
        return out


def _xy(df: pd.DataFrame, domain: Domain, target: str, positive: Any, bins: int) -> tuple[np.ndarray, np.ndarray]:
    checked = validate(df, domain)
    features = [n for n in domain.names if n != target]
    x = encode(checked[features], domain.select(features), bins=bins)
    y = (checked[target] == positive).to_numpy(dtype=int)
    return x, y


def train_synthetic_test_real(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synthetic: pd.DataFrame,
    domain: Domain,
    *,
    target: str,
    positive: Any = None,
    model: str = "gradient_boosting",
    bins: int = DEFAULT_BINS,
    random_state: int = 0,
) -> TSTRResult:
    """Fit a scikit-learn classifier for ``target == positive`` on ``synthetic`` and on
    ``real_train``; report both ROC AUCs on ``real_test``.

    Features are the domain's discrete codes (categories, public numeric bins, missing state).

    Args:
        target: A categorical column of the domain.
        positive: The positive class (default: the last declared category).
        model: ``"gradient_boosting"`` (HistGradientBoosting) or ``"logistic"``.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    label = domain[target] if target in domain else None
    if not isinstance(label, Categorical):
        raise DomainError(f"target {target!r} must be a categorical column of the domain.")
    positive = label.categories[-1] if positive is None else positive
    if positive not in label.categories:
        raise DomainError(f"positive class {positive!r} is not a category of {target!r}.")
    if model not in ("gradient_boosting", "logistic"):
        raise ValueError(f"model must be 'gradient_boosting' or 'logistic', got {model!r}.")
    x_test, y_test = _xy(real_test, domain, target, positive, bins)
    features = [c for c in domain if c.name != target]
    # unordered categories as categorical splits (HistGradientBoosting allows < 255 levels)
    categorical_mask = np.array([isinstance(c, Categorical) and not isinstance(c, Ordinal) and c.levels < 255 for c in features])
    if len(np.unique(y_test)) < 2:
        raise DomainError("The real test data must contain both classes of the target.")

    def auc(train: pd.DataFrame) -> float:
        x, y = _xy(train, domain, target, positive, bins)
        if len(np.unique(y)) < 2:
            return 0.5  # a constant classifier: no better than chance
        if model == "logistic":
            clf = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=1000))
        else:
            clf = HistGradientBoostingClassifier(categorical_features=categorical_mask, random_state=random_state)
        clf.fit(x, y)
        return float(roc_auc_score(y_test, clf.predict_proba(x_test)[:, 1]))

    return TSTRResult(target=target, positive=positive, auc_synthetic=auc(synthetic), auc_real=auc(real_train),
                      model=model, n_test=len(x_test))
