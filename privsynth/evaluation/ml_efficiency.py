"""Machine-learning efficiency: train on synthetic (or real) records, test on the real test split.

The utility measure of both benchmark papers. tab_bench (SIGMOD 2025) trains CatBoost, XGBoost and
a random forest with hyperparameters tuned on the real data and reports accuracy, macro-F1 and
ROC AUC (classification) or R^2 and RMSE (regression); SynMeter (CCS 2025) reports the **ML
affinity**, the mean over models of ``|synthetic score - real score| / real score`` with the
weighted F1 (classification) or the RMSE (regression) as the score (:func:`ml_affinity`).

Categorical features enter as their index among the declared categories (the tree models split on
them), numeric features as they are; a missing value is its own code / NaN. XGBoost and CatBoost
are optional (``pip install 'privsynth[bench]'``); without them those models are reported as
unavailable and the random forest runs alone. Hyperparameters come from :func:`tune` (a seeded
random search on real train -> real validation, as the papers tune on real data) or are given.

These evaluators read real records: their outputs are not private and spend no budget.

Example:
    >>> from privsynth.datasets import make_census
    >>> train, domain = make_census(600, random_state=0)
    >>> test, _ = make_census(300, random_state=1)
    >>> scores = ml_efficiency(train, test, domain, target="sex", task="binary_classification", models=("rf",))
    >>> sorted(scores["rf"])
    ['accuracy', 'auc', 'f1_macro', 'f1_weighted']
"""

from __future__ import annotations

import importlib.util
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_frame

__all__ = ["ml_efficiency", "ml_affinity", "tune", "available_models", "MODELS"]

#: The models of tab_bench's ML efficiency, in its order.
MODELS = ("catboost", "xgboost", "rf")
_TASKS = ("binary_classification", "multiclass_classification", "regression")
_SEARCH: dict[str, dict[str, Sequence[Any]]] = {
    "rf": {"n_estimators": (100, 200), "max_depth": (None, 8, 16, 32), "min_samples_leaf": (1, 2, 4),
           "min_samples_split": (2, 4, 8)},
    "xgboost": {"n_estimators": (200, 400), "max_depth": (3, 5, 7), "learning_rate": (0.03, 0.1, 0.3),
                "min_child_weight": (1, 3, 6), "subsample": (0.7, 1.0)},
    "catboost": {"iterations": (300, 600), "depth": (4, 6, 8), "learning_rate": (0.03, 0.1),
                 "l2_leaf_reg": (1.0, 3.0, 9.0)},
}
_PACKAGES = {"rf": "sklearn", "xgboost": "xgboost", "catboost": "catboost"}


def available_models() -> tuple[str, ...]:
    """The models of :data:`MODELS` whose library is installed here."""
    return tuple(m for m in MODELS if importlib.util.find_spec(_PACKAGES[m]) is not None)


def _features(frame: pd.DataFrame, domain: Domain, target: str) -> np.ndarray:
    cols = []
    for column in domain.columns:
        if column.name == target:
            continue
        if isinstance(column, Categorical):
            index = {str(v): float(i) for i, v in enumerate(column.categories)}
            cols.append(frame[column.name].astype(str).map(index).to_numpy(dtype=float))
        else:
            cols.append(pd.to_numeric(frame[column.name], errors="coerce").to_numpy(dtype=float))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _labels(frame: pd.DataFrame, domain: Domain, target: str, task: str) -> np.ndarray:
    column = domain[target]
    if task == "regression":
        return pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    if not isinstance(column, Categorical):
        raise DomainError(f"A classification target must be categorical; {target!r} is {column.kind}.")
    index = {str(v): i for i, v in enumerate(column.categories)}
    labels = frame[target].astype(str).map(index)
    if labels.isna().any():
        raise DomainError(f"Target {target!r} has values outside its declared categories or missing; drop those rows.")
    return labels.to_numpy(dtype=np.int64)


def _model(name: str, task: str, params: Mapping[str, Any], seed: int) -> Any:
    regression = task == "regression"
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if regression else RandomForestClassifier
        return cls(random_state=seed, n_jobs=1, **params)
    if name == "xgboost":
        import xgboost

        cls = xgboost.XGBRegressor if regression else xgboost.XGBClassifier
        return cls(random_state=seed, n_jobs=1, verbosity=0, **params)
    if name == "catboost":
        import catboost

        cls = catboost.CatBoostRegressor if regression else catboost.CatBoostClassifier
        return cls(random_seed=seed, thread_count=1, verbose=False, allow_writing_files=False, **params)
    raise ValueError(f"Unknown model {name!r}; choose from {list(MODELS)}.")


def _scores(model: Any, x: np.ndarray, y: np.ndarray, task: str, classes: np.ndarray, n_classes: int) -> dict[str, float]:
    from sklearn import metrics

    if task == "regression":
        pred = model.predict(x) if model is not None else np.full(len(y), classes[0], dtype=float)
        return {"r2": float(metrics.r2_score(y, pred)), "rmse": float(np.sqrt(metrics.mean_squared_error(y, pred)))}
    if model is None:  # one class in the training data: a constant prediction
        pred = np.full(len(y), classes[0])
        proba = np.zeros((len(y), n_classes))
        proba[:, classes[0]] = 1.0
    else:
        pred = classes[np.asarray(model.predict(x)).reshape(-1).astype(np.int64)]
        proba = np.zeros((len(y), n_classes))
        proba[:, classes] = model.predict_proba(x)
    out = {"accuracy": float(metrics.accuracy_score(y, pred)),
           "f1_macro": float(metrics.f1_score(y, pred, average="macro")),
           "f1_weighted": float(metrics.f1_score(y, pred, average="weighted"))}
    present = np.unique(y)
    if len(present) == 2 and n_classes == 2:
        out["auc"] = float(metrics.roc_auc_score(y, proba[:, 1]))
    elif len(present) > 2:
        p = proba[:, present]
        p = p / np.where(p.sum(axis=1, keepdims=True) > 0, p.sum(axis=1, keepdims=True), 1.0)
        p = np.where(p.sum(axis=1, keepdims=True) > 0, p, 1.0 / len(present))
        out["auc"] = float(metrics.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=present))
    return out


def _fit_score(name: str, train: tuple, test: tuple, task: str, params: Mapping[str, Any], seed: int,
               n_classes: int) -> dict[str, float]:
    x, y = train
    if task == "regression":
        model = _model(name, task, params, seed).fit(x, y)
        return _scores(model, test[0], test[1], task, np.array([0.0]), 0)
    classes = np.unique(y)
    if len(classes) < 2:
        return _scores(None, test[0], test[1], task, classes, n_classes)
    dense = np.searchsorted(classes, y)  # models expect labels 0..k-1
    model = _model(name, task, params, seed).fit(x, dense)
    return _scores(model, test[0], test[1], task, classes, n_classes)


def _check(task: str, models: Sequence[str]) -> list[str]:
    if task not in _TASKS:
        raise DomainError(f"task must be one of {list(_TASKS)}, got {task!r}.")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"Unknown models {unknown}; choose from {list(MODELS)}.")
    return list(models)


def ml_efficiency(train: pd.DataFrame, test: pd.DataFrame, domain: Domain, *, target: str, task: str,
                  models: Sequence[str] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None,
                  seed: int = 0) -> dict[str, dict[str, Any]]:
    """Train each model on ``train`` (synthetic or real) and score it on the real ``test`` split.

    Args:
        train: The records to learn from.
        test: The real test split.
        domain: The declared domain (feature encoding, the target's classes).
        target: The column to predict.
        task: ``binary_classification``, ``multiclass_classification`` or ``regression``.
        models: Which of :data:`MODELS` (default: those installed here).
        params: Hyperparameters per model (e.g. from :func:`tune`); default: each library's own.
        seed: The models' seed.

    Returns:
        Per model its scores (``accuracy``, ``f1_macro``, ``f1_weighted``, ``auc`` or ``r2``,
        ``rmse``), or ``{"unavailable": reason}`` when its library is not installed.

    Raises:
        DomainError: an unknown task, an empty frame, a missing column or a bad target.
    """
    chosen = _check(task, available_models() if models is None else models)
    names = list(domain.names)
    if target not in names:
        raise DomainError(f"Target {target!r} is not a column of the domain ({names}).")
    check_frame(train, names, what="training data")
    check_frame(test, names, what="test data")
    column = domain[target]
    n_classes = len(column.categories) if isinstance(column, Categorical) and task != "regression" else 0
    data = [(_features(f, domain, target), _labels(f, domain, target, task)) for f in (train, test)]
    if task == "regression":
        keep = [~np.isnan(y) for _, y in data]
        data = [(x[k], y[k]) for (x, y), k in zip(data, keep)]
    out: dict[str, dict[str, Any]] = {}
    installed = available_models()
    for name in chosen:
        if name not in installed:
            out[name] = {"unavailable": f"{_PACKAGES[name]} is not installed (pip install 'privsynth[bench]')"}
            continue
        out[name] = _fit_score(name, data[0], data[1], task, (params or {}).get(name, {}), seed, n_classes)
    return out


def tune(train: pd.DataFrame, val: pd.DataFrame, domain: Domain, *, target: str, task: str,
         models: Sequence[str] | None = None, trials: int = 8, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Hyperparameters per model from a seeded random search: fit on real ``train``, score on real ``val``.

    The score is macro-F1 (classification) or R^2 (regression). The first trial is always each
    library's defaults, so tuning never does worse on ``val`` than no tuning.
    """
    chosen = [m for m in _check(task, available_models() if models is None else models) if m in available_models()]
    rng = np.random.default_rng(seed)
    best: dict[str, dict[str, Any]] = {}
    key = "r2" if task == "regression" else "f1_macro"
    for name in chosen:
        space = _SEARCH[name]
        draws = [{k: v[int(rng.integers(len(v)))] for k, v in space.items()} for _ in range(max(int(trials) - 1, 0))]
        candidates: list[dict[str, Any]] = [{}, *draws]
        scored = [(ml_efficiency(train, val, domain, target=target, task=task, models=(name,), params={name: c},
                                 seed=seed)[name][key], i) for i, c in enumerate(candidates)]
        best[name] = candidates[max(scored)[1]]
    return best


def ml_affinity(synthetic: Mapping[str, Mapping[str, Any]], real: Mapping[str, Mapping[str, Any]]) -> float:
    """SynMeter's ML affinity: mean over models of ``|synthetic - real| / real`` (weighted F1 or RMSE; lower is better).

    Example:
        >>> round(ml_affinity({"rf": {"f1_weighted": 0.6}}, {"rf": {"f1_weighted": 0.8}}), 6)
        0.25
    """
    gaps = []
    for name, scores in synthetic.items():
        if "unavailable" in scores or name not in real:
            continue
        metric = "rmse" if "rmse" in scores else "f1_weighted"
        gaps.append(abs(scores[metric] - real[name][metric]) / real[name][metric])
    if not gaps:
        raise ValueError("No model scored on both synthetic and real data; nothing to compare.")
    return float(np.mean(gaps))
