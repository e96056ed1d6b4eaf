"""The small case on which the paper metrics are checked against the papers' own code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from privsynth.core.domain import Categorical, Domain, Numeric

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "paper_metrics"


def case_domain() -> Domain:
    return Domain((Numeric("x", 0, 10), Numeric("k", 0, 20, integer=True), Categorical("c", ("a", "b", "c")),
                   Categorical("d", ("u", "v")), Categorical("label", ("0", "1")), Numeric("y", -10, 30)))


def case_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    case = pd.read_csv(CASES / "case.csv", dtype={"label": str})
    real, synth = (case[case.part == p].drop(columns="part").reset_index(drop=True) for p in ("real", "synth"))
    return real, synth
