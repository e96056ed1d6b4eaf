"""A built-in, generated "census-like" data set: the embedded default for demos and tests.

Mixed types, quasi-identifiers, sensitive attributes, a nullable column, and a *known*
dependency structure (:data:`CENSUS_DEPENDENCIES`), so a synthesizer's fidelity can be judged
against the truth. Deterministic given ``random_state``; no file or network needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.core.rng import resolve_rng

__all__ = ["make_census", "census_domain", "CENSUS_DEPENDENCIES"]

EDUCATION = ("Primary", "Lower-secondary", "HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate")
OCCUPATIONS = ("Manual", "Service", "Clerical", "Sales", "Technical", "Professional", "Managerial")
DIAGNOSES = ("Healthy", "Asthma", "Diabetes", "Hypertension", "Heart-disease", "Cancer")
REGIONS = tuple(f"R{i:02d}" for i in range(12))
RACES = ("White", "Black", "Asian", "Indigenous", "Other")
MARITAL = ("Never-married", "Married", "Divorced", "Widowed")

#: child -> parents: the generating process (everything else is independent).
CENSUS_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "education": ("age",),
    "marital-status": ("age",),
    "hours-per-week": ("age", "sex"),
    "occupation": ("education",),
    "income": ("education", "hours-per-week", "sex"),
    "diagnosis": ("age",),
}


def census_domain() -> Domain:
    """The public domain of :func:`make_census` (declared, not inferred)."""
    return Domain(
        (
            Numeric("age", 17, 90, integer=True, bins=16, role="quasi_identifier"),
            Categorical("sex", ("Female", "Male"), role="quasi_identifier"),
            Categorical("race", RACES, role="quasi_identifier"),
            Categorical("region", REGIONS, role="quasi_identifier"),
            Ordinal("education", EDUCATION, role="quasi_identifier"),
            Categorical("marital-status", MARITAL, role="quasi_identifier"),
            Numeric("hours-per-week", 1, 99, integer=True, bins=10),
            Categorical("occupation", OCCUPATIONS, nullable=True),
            Numeric("income", 0.0, 300000.0, bins=16, role="sensitive"),
            Categorical("diagnosis", DIAGNOSES, role="sensitive"),
        )
    )


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


def make_census(n: int = 5000, *, random_state: Any = 0, missing_rate: float = 0.03) -> tuple[pd.DataFrame, Domain]:
    """Generate ``n`` census-like records and their public domain.

    Args:
        n: Number of records.
        random_state: Seed (same seed, same data).
        missing_rate: Share of missing ``occupation`` values.

    Returns:
        ``(data, domain)``; the data conform to the domain.

    Example:
        >>> df, domain = make_census(100, random_state=1)
        >>> df.shape, domain.with_role("sensitive")
        ((100, 10), ('income', 'diagnosis'))
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    rng = resolve_rng(random_state)
    age = np.clip(np.rint(rng.normal(41, 14, n)), 17, 90).astype(np.int64)
    male = rng.random(n) < 0.51
    race = rng.choice(len(RACES), size=n, p=[0.70, 0.13, 0.08, 0.02, 0.07])
    region = rng.choice(len(REGIONS), size=n, p=np.linspace(2, 1, len(REGIONS)) / np.linspace(2, 1, len(REGIONS)).sum())

    young = np.clip((age - 17) / 10.0, 0, 1)[:, None]  # 0 at 17, 1 from 27 on
    edu_adult = np.array([0.05, 0.10, 0.30, 0.22, 0.20, 0.10, 0.03])
    edu_young = np.array([0.15, 0.35, 0.35, 0.15, 0.0, 0.0, 0.0])
    education = _choice_rows(rng, young * edu_adult + (1 - young) * edu_young)

    p_never = np.clip(1.2 - age / 35.0, 0.05, 0.95)
    p_widowed = np.clip((age - 55) / 80.0, 0.0, 0.35)
    p_divorced = np.full(n, 0.12)
    p_married = np.clip(1 - p_never - p_widowed - p_divorced, 0.0, 1.0)
    marital = _choice_rows(rng, np.column_stack([p_never, p_married, p_divorced, p_widowed]) /
                           np.column_stack([p_never, p_married, p_divorced, p_widowed]).sum(axis=1, keepdims=True))

    hours = np.clip(np.rint(rng.normal(38 + 5 * male - 12 * (age > 64), 9)), 1, 99).astype(np.int64)

    occ_logits = -0.6 * (np.arange(len(OCCUPATIONS))[None, :] - 1.0 * education[:, None]) ** 2 / 4.0
    occ_p = np.exp(occ_logits)
    occupation = _choice_rows(rng, occ_p / occ_p.sum(axis=1, keepdims=True)).astype(float)
    occupation[rng.random(n) < missing_rate] = np.nan

    log_income = 9.6 + 0.28 * education + 0.012 * (hours - 40) + 0.15 * male + rng.normal(0, 0.45, n)
    income = np.clip(np.exp(log_income), 0.0, 300000.0).round(2)

    old = np.clip((age - 30) / 50.0, 0, 1)[:, None]
    diag_young = np.array([0.86, 0.08, 0.02, 0.02, 0.01, 0.01])
    diag_old = np.array([0.40, 0.06, 0.18, 0.22, 0.09, 0.05])
    diagnosis = _choice_rows(rng, (1 - old) * diag_young + old * diag_old)

    domain = census_domain()
    df = pd.DataFrame(
        {
            "age": age,
            "sex": np.where(male, "Male", "Female"),
            "race": np.array(RACES, dtype=object)[race],
            "region": np.array(REGIONS, dtype=object)[region],
            "education": np.array(EDUCATION, dtype=object)[education],
            "marital-status": np.array(MARITAL, dtype=object)[marital],
            "hours-per-week": hours,
            "occupation": pd.Series(occupation).map(dict(enumerate(OCCUPATIONS))).astype(object),
            "income": income,
            "diagnosis": np.array(DIAGNOSES, dtype=object)[diagnosis],
        }
    )
    return df, domain
