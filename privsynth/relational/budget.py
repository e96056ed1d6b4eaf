"""Splitting a database's budget over its tables, at person level.

The database's ``(epsilon, delta)`` is turned into its zCDP budget ``rho`` (the RDP accountant's
own conversion); table ``i`` gets ``rho_i = share_i / sum(shares) * rho`` at person level. Its
synthesizer is calibrated for one row, so it is given the largest row-level ``epsilon`` whose
planned events, taken to person level (:func:`~privsynth.privacy.group.person_level_event` with
the table's ``rows_per_person``), spend at most ``rho_i`` -- found by bisection on the
synthesizer's own plan. zCDP composes additively, so the plans together spend at most ``rho``,
which the database ledger checks again before the first charge.
"""

from __future__ import annotations

import json
import math
from typing import Mapping

from privsynth.core.domain import Domain
from privsynth.core.errors import PrivsynthError
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.events import Event
from privsynth.privacy.group import person_level_event
from privsynth.synthesizers._plan import zcdp_budget, zcdp_rho
from privsynth.synthesizers.base import Synthesizer

__all__ = ["database_rho", "person_level_plan", "row_epsilon"]


def database_rho(*, epsilon: float, delta: float, accountant: Accountant) -> float:
    """The zCDP budget of the whole database."""
    if delta <= 0:
        raise ValueError("A database budget needs delta > 0 (its tables' releases compose in zCDP); e.g. delta=1e-6.")
    return zcdp_budget(epsilon=epsilon, delta=delta, accountant=accountant)


def person_level_plan(synth: Synthesizer, domain: Domain, accountant: Accountant, group_size: int) -> list[Event]:
    """The events ``synth`` plans at its current parameters, at person level."""
    synth._check_params()
    return [person_level_event(e, group_size) for e in synth._plan(domain, accountant).events]


def _plan_rho(synth: Synthesizer, domain: Domain, accountant: Accountant, group_size: int, epsilon: float) -> float:
    synth.set_params(epsilon=epsilon)
    try:
        return math.fsum(zcdp_rho(e) for e in person_level_plan(synth, domain, accountant, group_size))
    except TypeError as exc:
        raise PrivsynthError(f"{type(synth).__name__} cannot fit a table of a database: {exc} Use MST, AIM or IndependentMarginals "
                             "(PrivBayes and DPGaussianCopula too on the person table), whose releases compose in zCDP.") from None


def row_epsilon(synth: Synthesizer, domain: Domain, *, rho: float, group_size: int, accountant: Accountant,
                iterations: int = 60) -> float:
    """The largest row-level ``epsilon`` for ``synth`` whose plan spends at most ``rho`` at
    person level (one person holding up to ``group_size`` rows). Leaves ``synth.epsilon`` set to it.

    Example:
        >>> from privsynth.core.domain import Categorical
        >>> from privsynth.privacy.accountants import RdpAccountant
        >>> from privsynth.synthesizers.mst import MST
        >>> d = Domain((Categorical("a", ("x", "y")), Categorical("b", ("x", "y"))))
        >>> syn = MST(epsilon=1.0, delta=1e-6)
        >>> e1 = row_epsilon(syn, d, rho=0.01, group_size=1, accountant=RdpAccountant())
        >>> e3 = row_epsilon(syn, d, rho=0.01, group_size=3, accountant=RdpAccountant())
        >>> e3 < e1 / 2.5
        True
    """
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}.")
    params = {k: v for k, v in synth.public_params().items() if k != "epsilon"}
    key = (type(synth).__name__, json.dumps(params, sort_keys=True), domain.fingerprint(), float(rho), int(group_size),
           json.dumps(accountant.to_dict(), sort_keys=True), int(iterations))
    if key not in _CALIBRATED:  # the search depends on public inputs only: remember it (audits refit many times)
        if len(_CALIBRATED) >= 4096:
            _CALIBRATED.clear()
        _CALIBRATED[key] = _search(synth, domain, rho=rho, group_size=group_size, accountant=accountant, iterations=iterations)
    synth.set_params(epsilon=_CALIBRATED[key])
    return _CALIBRATED[key]


_CALIBRATED: dict[tuple, float] = {}


def _search(synth: Synthesizer, domain: Domain, *, rho: float, group_size: int, accountant: Accountant, iterations: int) -> float:
    lo, hi = 1e-9, 1.0
    while _plan_rho(synth, domain, accountant, group_size, hi) <= rho:
        lo, hi = hi, hi * 4
        if hi > 1e6:
            raise PrivsynthError(f"{type(synth).__name__}'s plan spends no more than rho={rho:g} at any epsilon; cannot calibrate it.")
    for _ in range(iterations):  # in log space; lo always within the budget
        mid = math.sqrt(lo * hi)
        if _plan_rho(synth, domain, accountant, group_size, mid) <= rho:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-7:
            break
    return lo


def table_rhos(shares: Mapping[str, float], rho: float) -> dict[str, float]:
    """Each table's person-level zCDP budget from its relative share."""
    total = math.fsum(shares.values())
    return {name: rho * share / total for name, share in shares.items()}
