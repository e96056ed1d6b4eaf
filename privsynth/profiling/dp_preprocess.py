"""The benchmark papers' DP preprocessing in one call: rare categories merged and numeric columns
re-binned with DP on a share of a fit's budget, the rest left for the synthesizer.

tab_bench and MargNet spend a small share of epsilon on preprocessing before a marginal method
fits: rare categories merged (:func:`~privsynth.profiling.dp_merge_rare`) and numeric columns
binned by PrivTree (:func:`~privsynth.profiling.dp_bins`). :func:`dp_preprocess` does both as
they do -- the share split between the steps by the number of columns each touches -- on the
private table, in its engine. The domain it returns carries the charges (``provenance="dp"``),
so a fit on it at the epsilon left certifies the whole budget.

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.load_adult()
    >>> refined, left = dp_preprocess(df, domain, epsilon=1.0, steps=("merge", "bins"), random_state=0)
    >>> round(left, 2), round(refined.estimation["epsilon"], 2), refined.provenance
    (0.9, 0.1, 'dp')
"""

from __future__ import annotations

from typing import Any, Iterable

from privsynth.core.columns import Numeric
from privsynth.core.domain import Domain
from privsynth.profiling.dp_binning import dp_bins
from privsynth.profiling.dp_merge import dp_merge_rare, mergeable_columns

__all__ = ["PREPROCESS_SHARE", "STEPS", "dp_preprocess"]

#: Share of the budget the papers' preprocessing spends (the rest fits the synthesizer).
PREPROCESS_SHARE = 0.1
#: The steps: DP rare-category merge and DP (PrivTree) numeric bins, applied in this order.
STEPS = ("merge", "bins")


def dp_preprocess(data: Any, domain: Domain, *, epsilon: float, steps: Iterable[str] = STEPS, share: float = PREPROCESS_SHARE,
                  rows: int | None = None, accountant: str = "rdp", random_state: Any = None) -> tuple[Domain, float]:
    """Merge rare categories and/or re-bin numeric columns with DP on ``share`` of ``epsilon``.

    Args:
        data: The private table (a DataFrame, a file, a ``duckdb://`` URI, a Spark source or a
            :class:`~privsynth.data.Table`): only histograms are read, in the engine.
        domain: The declared domain to refine.
        epsilon: The whole budget of the fit that follows.
        steps: ``"merge"`` and/or ``"bins"``. A step with no column to touch (no categorical
            column of enough declared categories, no numeric column) is skipped and costs nothing.
        share: Share of ``epsilon`` the steps spend together, split between them by the columns
            each touches (the papers' split).
        rows: A public row count (e.g. a benchmark's published size) for the steps' thresholds;
            ``None``: each step spends part of its budget on a noisy count instead.
        accountant: ``"rdp"`` or ``"pld"``: how the domain's estimation block states its budget.
        random_state: A *secret* seed for reproducible research runs (each step draws from its
            own private stream).

    Returns:
        The refined domain and the epsilon left for the synthesizer (``epsilon`` itself when no
        step touched a column).

    Raises:
        ValueError: an unknown step, or a share outside ``(0, 1)``.
    """
    steps = (steps,) if isinstance(steps, str) else tuple(dict.fromkeys(steps))
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"Unknown preprocessing step {unknown[0]!r}; the steps are {list(STEPS)} (DP rare-category merge, "
                         "DP numeric bins).")
    if not 0 < float(share) < 1:
        raise ValueError(f"The preprocessing's share of epsilon must be in (0, 1), got {share}.")
    touched = {"merge": len(mergeable_columns(domain)) if "merge" in steps else 0,
               "bins": sum(isinstance(c, Numeric) for c in domain.columns) if "bins" in steps else 0}
    total = sum(touched.values())
    if not total:
        return domain, float(epsilon)
    spend = {step: float(share) * float(epsilon) * n / total for step, n in touched.items()}
    if touched["merge"]:
        domain = dp_merge_rare(data, domain, epsilon=spend["merge"], rows=rows, accountant=accountant, random_state=random_state)
    if touched["bins"]:
        domain = dp_bins(data, domain, epsilon=spend["bins"], rows=rows, accountant=accountant, random_state=random_state)
    return domain, float(epsilon) * (1 - float(share))
