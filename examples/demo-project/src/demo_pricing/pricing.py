"""Monthly premium of a health plan from a customer table (age, hours worked, income)."""

import numpy as np
import pandas as pd


def monthly_premium(customers: pd.DataFrame) -> pd.Series:
    """Premium in euros per customer: a base rate, more with age, a discount for long hours
    (employer plans), capped at 5% of the monthly income but never below 20 euros."""
    age = customers["age"].to_numpy(dtype=float)
    hours = customers["hours-per-week"].to_numpy(dtype=float)
    income = customers["income"].to_numpy(dtype=float)
    premium = 40.0 + 2.5 * np.clip(age - 25, 0, None) - 0.2 * np.clip(hours - 40, 0, None)
    cap = np.maximum(0.05 * income / 12, 20.0)
    return pd.Series(np.clip(premium, 20.0, cap), index=customers.index, name="premium")
