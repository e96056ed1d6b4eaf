"""Person-level accounting: a release computed on rows where one person holds up to ``k`` rows.

Related tables (:mod:`privsynth.relational`) protect a *person* and every row linked to them.
A child table's rows are bounded to at most ``k`` per person (a public limit) and then fitted by
an ordinary synthesizer whose noise is calibrated for one row. Adding or removing one person
then changes up to ``k`` rows at once, so every mechanism the fit runs has ``k`` times the
sensitivity it was calibrated for:

* Laplace / discrete Laplace on counts: L1 sensitivity ``k`` -> ``noise_multiplier / k``;
* Gaussian / discrete Gaussian on a histogram: L2 sensitivity at most ``k`` (all ``k`` rows in
  one cell) -> ``noise_multiplier / k``, i.e. ``k^2 rho``;
* exponential mechanism on scores of sensitivity ``Delta`` per row (L1 errors of marginals, as
  in AIM): score sensitivity ``k Delta`` -> ``k epsilon`` (pure and bounded range alike);
* any other pure-DP mechanism: group privacy, ``k epsilon``.

DP-SGD's Poisson subsampling and partition selection have no such simple rescaling (the
subsampling amplification and the threshold's delta assume one row per unit), so they are
refused at person level with a message saying what to use.

:class:`PersonLevelLedger` applies this to a whole fit: a synthesizer fits on its own row-level
ledger, and each of its charges is first charged, at person level, to the database's ledger --
before any noise is drawn.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from privsynth.core.errors import BudgetExceededError
from privsynth.privacy.accountants import NEIGHBOURING_PERSON, Accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.events import (
    ComposedEvent,
    Event,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDpEvent,
)
from privsynth.privacy.ledger import Ledger

__all__ = ["person_level_event", "PersonLevelLedger", "NEIGHBOURING_PERSON"]


def _check_group(group_size: int) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive integer (rows one person may hold), got {group_size!r}.")
    return group_size


def person_level_event(event: Event, group_size: int) -> Event:
    """The event a row-level ``event`` amounts to when one person may hold ``group_size`` rows.

    Args:
        event: What a mechanism calibrated for one row charges.
        group_size: The public bound on the rows one person holds in the table it ran on.

    Returns:
        The same mechanism's event at ``group_size`` times the sensitivity.

    Raises:
        TypeError: the event has no person-level form here (DP-SGD, partition selection).

    Example:
        >>> person_level_event(GaussianEvent(noise_multiplier=6.0, discrete=True), 3)
        GaussianEvent(noise_multiplier=2.0, discrete=True)
        >>> person_level_event(ExponentialEvent(epsilon=0.1), 3).epsilon
        0.30000000000000004
    """
    k = _check_group(group_size)
    if k == 1:
        return event
    if isinstance(event, LaplaceEvent):
        return LaplaceEvent(noise_multiplier=event.noise_multiplier / k, discrete=event.discrete)
    if isinstance(event, GaussianEvent):
        return GaussianEvent(noise_multiplier=event.noise_multiplier / k, discrete=event.discrete)
    if isinstance(event, ExponentialEvent):
        return ExponentialEvent(epsilon=event.epsilon * k)
    if isinstance(event, PureDpEvent):
        return PureDpEvent(epsilon=event.epsilon * k)
    if isinstance(event, ComposedEvent):
        return ComposedEvent(tuple(person_level_event(e, k) for e in event.events))
    raise TypeError(
        f"{type(event).__name__} has no person-level accounting here: its analysis assumes one row per privacy unit "
        f"(Poisson subsampling, partition thresholds), and this table lets a person hold up to {k} rows. Fit this table "
        "with a counting synthesizer (IndependentMarginals, MST or AIM), or bound the table to one row per person.")


class PersonLevelLedger(Ledger):
    """A row-level ledger for one table whose every charge is first charged, at person level,
    to the database's ledger.

    A synthesizer fits on it exactly as on its own ledger (it calibrates for one row and its
    plan guard, budget check and certificate are row-level); the database ledger sees each
    charge as :func:`person_level_event` with ``group_size`` and refuses it -- before any noise is
    drawn -- if the database budget would be exceeded.

    Args:
        database: The ledger of the whole database (person level).
        group_size: The public bound on one person's rows in this table.
        budget: The row-level budget the table's synthesizer is calibrated for.
        table: The table's name, prefixed to the database ledger's labels.

    Example:
        >>> db = Ledger(Budget(epsilon=1.0))
        >>> rows = PersonLevelLedger(db, group_size=4, budget=Budget(epsilon=0.25), table="orders")
        >>> _ = rows.charge(LaplaceEvent(noise_multiplier=4.0), label="count")
        >>> db.entries[0].event.noise_multiplier, db.spent().epsilon
        (1.0, 1.0)
    """

    def __init__(self, database: Ledger, *, group_size: int, budget: Budget, table: str,
                 accountant: "str | Mapping[str, Any] | Accountant | None" = None) -> None:
        if not isinstance(database, Ledger):
            raise TypeError(f"database must be a privsynth Ledger, got {type(database).__name__}.")
        super().__init__(budget, accountant=accountant if accountant is not None else database.accountant)
        self.database, self.group_size, self.table = database, _check_group(group_size), str(table)

    def _label(self, label: str) -> str:
        return f"{self.table}: {label} (person level: up to {self.group_size} rows per person)"

    def check_plan(self, events: Sequence[Event], *, what: str = "this fit") -> float:
        """Refuse the plan if either the row-level budget or the database's would be exceeded."""
        events = list(events)
        eps = super().check_plan(events, what=what)
        self.database.check_plan([person_level_event(e, self.group_size) for e in events],
                                 what=f"{what} on table {self.table!r} at person level")
        return eps

    def charge(self, event: Event, *, label: str, coalesce: bool = False) -> Budget:
        """Check both ledgers, record the row-level event here and its person-level form on the
        database ledger (nothing is recorded on either if one of them refuses)."""
        scaled = person_level_event(event, self.group_size)  # refuses unsupported kinds before anything
        if not self.database.can_afford(scaled):
            raise BudgetExceededError(
                f"Charging {label!r} on table {self.table!r} would take the database past its budget "
                f"{self.database.budget} at person level (up to {self.group_size} rows per person). Nothing was released; "
                "lower this table's share, its contribution bound, or raise the database budget.")
        spent = super().charge(event, label=label, coalesce=coalesce)  # the plan guard and row-level budget may refuse
        self.database.charge(scaled, label=self._label(label))
        return spent
