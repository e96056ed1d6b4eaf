"""How many records break the domain's business rules, real and synthetic side by side."""

from __future__ import annotations

import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.core.rules import violation_counts

__all__ = ["rule_violations"]


def rule_violations(domain: Domain, **tables: pd.DataFrame) -> pd.DataFrame:
    """Per rule of ``domain``, the number of records of each table that break it.

    Counts on real data are exact statistics of the private records: for the data owner only.

    Args:
        domain: The domain whose ``rules`` are checked.
        **tables: Named tables, e.g. ``real=df, synthetic=out`` (validated against ``domain``).

    Returns:
        One row per rule: ``rule``, ``kind``, then ``<name>`` (violations) and ``<name>_rate``
        per table.

    Example:
        >>> from privsynth.core.domain import Numeric
        >>> d = Domain((Numeric("start", 0, 10), Numeric("end", 0, 10)), rules=("start <= end",))
        >>> rule_violations(d, real=pd.DataFrame({"start": [1, 5], "end": [2, 3]}))[["rule", "real"]].values.tolist()
        [['start <= end', 1]]
    """
    if not domain.rules:
        return pd.DataFrame(columns=["rule", "kind"])
    out = None
    for name, df in tables.items():
        counts = violation_counts(validate(df, domain), domain).rename(columns={"violations": name, "rate": f"{name}_rate"})
        out = counts if out is None else out.merge(counts, on=["rule", "kind"])
    return out if out is not None else violation_counts(pd.DataFrame(columns=list(domain.names)), domain)
