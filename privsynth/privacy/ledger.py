"""The ledger: the one stateful piece of privacy accounting.

Mechanisms call :meth:`Ledger.charge` *before* they draw noise or touch data; the charge is
refused with :class:`BudgetExceededError` -- and nothing is recorded -- if the composed spend
would exceed the budget. The arithmetic lives in a pure accountant; the ledger only keeps the
list of ``(label, event)`` entries.
"""

from __future__ import annotations

import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from privsynth.core.errors import BudgetExceededError, PrivacyLeakWarning
from privsynth.privacy.accountants import Accountant, get_accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.events import Event, SubsampledGaussianEvent, event_from_dict, event_to_dict, pure_epsilon

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True)
class LedgerEntry:
    """One charged mechanism call: a human-readable ``label`` and its event."""

    label: str
    event: Event

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "event": event_to_dict(self.event)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LedgerEntry":
        return cls(label=str(data["label"]), event=event_from_dict(data["event"]))


class Ledger:
    """Records every mechanism call against a :class:`Budget` and refuses to overspend.

    Args:
        budget: The limit. ``delta = 0`` allows only pure-DP mechanisms.
        accountant: ``"rdp"`` (default), ``"pld"``, or an accountant object.

    Example:
        >>> from privsynth.privacy.events import LaplaceEvent
        >>> ledger = Ledger(Budget(epsilon=1.0))
        >>> ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="count")
        Budget(epsilon=0.5, delta=0.0)
        >>> ledger.remaining().epsilon
        0.5
        >>> ledger.charge(LaplaceEvent(noise_multiplier=1.0), label="too much")
        Traceback (most recent call last):
        ...
        privsynth.core.errors.BudgetExceededError: ...
    """

    def __init__(self, budget: Budget, *, accountant: "str | Mapping[str, Any] | Accountant" = "rdp") -> None:
        if not isinstance(budget, Budget):
            raise TypeError(f"budget must be a privsynth Budget, got {type(budget).__name__}.")
        if not budget.epsilon > 0 or budget.epsilon == float("inf"):
            raise ValueError(f"A ledger needs a finite budget epsilon > 0, got {budget.epsilon}.")
        self.budget = budget
        self.accountant = get_accountant(accountant)
        self._entries: list[LedgerEntry] = []
        self._counts: Counter = Counter()  # the entries' events as a multiset, for fast composition
        self._leaks: list[str] = []
        self._spent_epsilon = 0.0
        self._guard: Callable[[Event, str], None] | None = None

    # -- reading ---------------------------------------------------------------------------
    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """Every charge so far, in order."""
        return tuple(self._entries)

    @property
    def leaks(self) -> tuple[str, ...]:
        """Descriptions of non-private releases recorded with :meth:`record_leak`."""
        return tuple(self._leaks)

    def spent(self) -> Budget:
        """The composed spend at the budget's delta (delta 0 while every charge is pure DP)."""
        pure = all(pure_epsilon(e) is not None for e in self._counts)
        return Budget(epsilon=self._spent_epsilon, delta=0.0 if pure else self.budget.delta)

    def remaining(self) -> Budget:
        """Epsilon headroom at the budget's delta. Composition is not additive under RDP/PLD,
        so use :meth:`can_afford` to ask about a specific event."""
        spent = self.spent()
        return Budget(epsilon=max(0.0, self.budget.epsilon - spent.epsilon), delta=self.budget.delta - spent.delta)

    def cost_with(self, event: Event) -> float:
        """The composed epsilon if ``event`` were charged now (nothing is recorded)."""
        return self.accountant.epsilon(self._counts + Counter({event: 1}), self.budget.delta)

    def can_afford(self, event: Event) -> bool:
        """Whether :meth:`charge` would accept ``event``."""
        return self.accountant.supports(event) and self.cost_with(event) <= self.budget.epsilon

    def check_plan(self, events: Sequence[Event], *, what: str = "this fit") -> float:
        """Refuse a whole plan of charges *before* the first one: nothing is recorded either way.

        A fit computes every event it will charge from its parameters and the public domain, and
        asks here first, so a fit that would not fit the budget spends nothing at all.

        Returns:
            The composed epsilon the ledger would reach after charging every event.

        Raises:
            BudgetExceededError: charging all ``events`` would exceed the budget.
            TypeError: the accountant cannot compose one of them.

        Example:
            >>> from privsynth.privacy.events import LaplaceEvent
            >>> ledger = Ledger(Budget(epsilon=1.0))
            >>> ledger.check_plan([LaplaceEvent(noise_multiplier=2.0)] * 3)
            Traceback (most recent call last):
            ...
            privsynth.core.errors.BudgetExceededError: ...
            >>> ledger.entries
            ()
        """
        events = list(events)
        for event in events:
            if not self.accountant.supports(event):
                raise TypeError(f"The {self.accountant.name!r} accountant cannot compose {event!r}; use accountant='rdp'.")
        eps = self.accountant.epsilon(self._counts + Counter(events), self.budget.delta) if events else self._spent_epsilon
        if not eps <= self.budget.epsilon:
            raise BudgetExceededError(
                f"{what} plans {len(events)} mechanism calls that would bring the spend to epsilon={eps:.6g} at "
                f"delta={self.budget.delta:.3g}, over the budget {self.budget} (already spent epsilon="
                f"{self._spent_epsilon:.6g} in {len(self._entries)} charges). Nothing was charged. Lower the fit's "
                "epsilon or raise the ledger's budget."
            )
        return eps

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def guarded(self, guard: Callable[[Event, str], None]) -> Iterator["Ledger"]:
        """Within the block, every charge is first shown to ``guard(event, label)``, which raises
        to refuse it -- before the budget is asked and before anything is recorded.

        A fit guards its ledger with its plan (:mod:`privsynth.synthesizers._plan`), so a fit that
        tried to charge something it did not plan is stopped before that release, even on a shared
        ledger with budget to spare.

        Example:
            >>> from privsynth.privacy.events import LaplaceEvent
            >>> ledger = Ledger(Budget(epsilon=10.0))
            >>> def only_one(event, label):
            ...     if ledger.entries:
            ...         raise RuntimeError("not planned")
            >>> with ledger.guarded(only_one):
            ...     _ = ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="first")
            ...     ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="second")
            Traceback (most recent call last):
            ...
            RuntimeError: not planned
            >>> len(ledger.entries)
            1
        """
        if self._guard is not None:
            raise RuntimeError("This ledger is already guarded by a running fit; fits on one ledger run one after another.")
        self._guard = guard
        try:
            yield self
        finally:
            self._guard = None

    def charge(self, event: Event, *, label: str, coalesce: bool = False) -> Budget:
        """Record ``event`` if the budget allows it; call this *before* drawing noise.

        With ``coalesce=True``, a :class:`SubsampledGaussianEvent` with the same label, noise and
        sampling rate as the last entry extends that entry's ``steps`` instead of adding one
        (identical accounting; a DP-SGD run then takes one certificate entry, not thousands).

        Returns:
            The spend after the charge.

        Raises:
            BudgetExceededError: the charge would exceed the budget (nothing is recorded).
            TypeError: the accountant cannot compose this kind of event.
        """
        if not isinstance(label, str) or not label:
            raise ValueError("Every charge needs a non-empty label saying what was released.")
        if not self.accountant.supports(event):
            raise TypeError(f"The {self.accountant.name!r} accountant cannot compose {event!r}; use accountant='rdp'.")
        if self._guard is not None:
            self._guard(event, label)
        eps = self.cost_with(event)
        if not eps <= self.budget.epsilon:
            raise BudgetExceededError(
                f"Charging {label!r} would bring the spend to epsilon={eps:.6g} at delta={self.budget.delta:.3g}, "
                f"over the budget {self.budget} (already spent epsilon={self._spent_epsilon:.6g} in "
                f"{len(self._entries)} charges). Nothing was released. Give this mechanism less epsilon, "
                "raise the budget, or add noise."
            )
        last = self._entries[-1] if self._entries else None
        if (
            coalesce and last is not None and last.label == label and isinstance(event, SubsampledGaussianEvent)
            and isinstance(last.event, SubsampledGaussianEvent)
            and (last.event.noise_multiplier, last.event.sampling_rate) == (event.noise_multiplier, event.sampling_rate)
        ):
            merged = SubsampledGaussianEvent(noise_multiplier=event.noise_multiplier, sampling_rate=event.sampling_rate,
                                             steps=last.event.steps + event.steps)
            self._counts[last.event] -= 1
            self._counts += Counter()  # drop zero counts
            self._counts[merged] += 1
            self._entries[-1] = LedgerEntry(label=label, event=merged)
        else:
            self._entries.append(LedgerEntry(label=label, event=event))
            self._counts[event] += 1
        self._spent_epsilon = eps
        return self.spent()

    def extend(self, entries: Iterable[LedgerEntry]) -> Budget:
        """Charge saved entries again, in order, each checked like any charge (e.g. resuming a
        checkpointed fit, or taking over a worker's charges); DP-SGD steps coalesce as usual."""
        for entry in entries:
            self.charge(entry.event, label=entry.label, coalesce=True)
        return self.spent()

    def record_leak(self, label: str, reason: str) -> None:
        """Record that something data-dependent was released *without* DP.

        Emits :class:`PrivacyLeakWarning`; every certificate built from this ledger is invalid.
        """
        message = f"{label}: {reason}"
        self._leaks.append(message)
        warnings.warn(f"Non-private release recorded ({message}); the certificate will be invalid.", PrivacyLeakWarning, stacklevel=2)

    @classmethod
    def restore(
        cls,
        budget: Budget,
        entries: Iterable[LedgerEntry],
        *,
        accountant: "str | Mapping[str, Any] | Accountant" = "rdp",
        leaks: Iterable[str] = (),
    ) -> "Ledger":
        """Rebuild a ledger from saved entries (e.g. a checkpoint), re-checking the budget.

        Raises:
            BudgetExceededError: the saved entries already exceed ``budget``.
        """
        ledger = cls(budget, accountant=accountant)
        entries = list(entries)
        eps = ledger.accountant.epsilon([e.event for e in entries], budget.delta) if entries else 0.0
        if not eps <= budget.epsilon:
            raise BudgetExceededError(f"The saved entries spend epsilon={eps:.6g}, over the budget {budget}.")
        ledger._entries, ledger._spent_epsilon, ledger._leaks = entries, eps, list(leaks)
        ledger._counts = Counter(e.event for e in entries)
        return ledger

    def __repr__(self) -> str:
        return f"Ledger(budget={self.budget}, spent={self.spent()}, entries={len(self._entries)}, accountant={self.accountant!r})"
