"""Input checks shared by the evaluators (clear errors for bad input)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from privsynth.core.errors import DomainError


def check_frame(df: object, columns: Sequence[str], *, what: str = "data") -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DomainError(f"{what} must be a pandas DataFrame, got {type(df).__name__}.")
    if len(df) == 0:
        raise DomainError(f"{what} is empty; pass at least one record.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DomainError(f"Columns {missing} are not in the {what} (it has {list(df.columns)}).")
    return df


def check_columns(quasi_identifiers: Sequence[str], sensitive: str | None = None) -> list[str]:
    if isinstance(quasi_identifiers, str):
        quasi_identifiers = [quasi_identifiers]
    qis = list(quasi_identifiers)
    if not qis:
        raise DomainError("Give at least one quasi-identifier.")
    if len(set(qis)) != len(qis):
        raise DomainError(f"Quasi-identifiers repeat a column: {qis}.")
    if sensitive is not None and sensitive in qis:
        raise DomainError(f"The sensitive attribute {sensitive!r} cannot also be a quasi-identifier.")
    return qis


def check_no_missing(df: pd.DataFrame, column: str) -> None:
    n = int(df[column].isna().sum())
    if n:
        raise DomainError(f"The sensitive column {column!r} has {n} missing values; drop those rows or fill them with an explicit value.")
