"""The case on which the anonymisation risks are checked against anonymeter itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from privsynth.core.domain import Categorical, Domain, Numeric

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "anonymeter"


def case_domain() -> Domain:
    return Domain((Numeric("a", 0, 100), Numeric("b", -50, 100), Numeric("c", 0, 200), Categorical("g", ("w", "x", "y", "z")),
                   Categorical("h", ("p", "q", "r"))))


def case_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return tuple(pd.read_csv(CASE / f"{name}.csv") for name in ("ori", "syn", "control"))  # type: ignore[return-value]
