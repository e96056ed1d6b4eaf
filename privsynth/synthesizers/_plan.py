"""A fit's plan: every charge it will make, computed from parameters and the public domain only.

DESIGN.md rule 3: a fit plans all its charges and checks the whole plan against the ledger
before its first charge, so a refused fit spends nothing. The plan is public (it depends on no
record), goes into the certificate's parameters, and :meth:`Synthesizer.fit` checks afterwards
that the fit charged exactly the planned events.

An *adaptive* fit (AIM: how many rounds it runs depends on what it measures) plans an envelope
instead: one Gaussian event with the fit's whole zCDP budget ``rho``. Every event it charges is
``rho_i``-zCDP with an RDP curve ``alpha * rho_i`` under the RDP accountant (Gaussian, discrete
Gaussian, exponential as a bounded-range mechanism), so charges whose ``rho_i`` sum to at most
``rho`` compose, with anything else on the ledger, to at most what the envelope does: checking
the envelope before the first charge is checking the fit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from privsynth.core.errors import PrivsynthError
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.calibrate import calibrate_noise_multiplier, gaussian_noise_multiplier, laplace_noise_multiplier, split_epsilon
from privsynth.privacy.events import ComposedEvent, Event, ExponentialEvent, GaussianEvent, LaplaceEvent, SubsampledGaussianEvent

__all__ = ["FitPlan", "PlanGuard", "histogram_noise", "count_event", "same_charges", "zcdp_budget", "zcdp_rho", "within_envelope"]


@dataclass(frozen=True)
class FitPlan:
    """What a fit will charge, and the public settings it uses to do so.

    Attributes:
        events: Every event the fit charges (DP-SGD steps as one event with ``steps``).
        delta: The delta the fit is calibrated for (the budget's delta for its own ledger).
        settings: Noise levels and other public values the fit reads back (``plan["key"]``).
        parameters: Public values worth stating in the certificate.
        assumptions: Plan-specific assumption lines for the certificate.
        adaptive: ``events`` is an envelope (see the module docstring): the fit charges other
            events whose zCDP parameters sum to at most the envelope's.
    """

    events: Sequence[Event]
    delta: float
    settings: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    assumptions: Sequence[str] = ()
    adaptive: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]


def count_event(epsilon: float) -> LaplaceEvent:
    """The event :func:`privsynth.mechanisms.noisy_count` charges at ``epsilon``."""
    return LaplaceEvent(noise_multiplier=laplace_noise_multiplier(epsilon), discrete=True)


def histogram_noise(*, epsilon: float, delta: float, count: int, accountant: Accountant,
                    noise: str = "auto") -> tuple[list[dict[str, float]], list[Event]]:
    """Noise for ``count`` histograms that share ``(epsilon, delta)``, as mechanism keyword
    arguments and the events they charge.

    ``"laplace"`` (or ``"auto"`` with ``delta = 0`` or an accountant that cannot model the
    discrete Gaussian): discrete Laplace at ``epsilon / count`` each. ``"gaussian"`` (``"auto"``
    otherwise): one discrete-Gaussian noise multiplier calibrated for all ``count`` together,
    which is much better when ``count`` is large.

    Example:
        >>> from privsynth.privacy.accountants import RdpAccountant
        >>> kwargs, events = histogram_noise(epsilon=1.0, delta=0.0, count=2, accountant=RdpAccountant())
        >>> kwargs
        [{'epsilon': 0.5}, {'epsilon': 0.5}]
    """
    gaussian = noise == "gaussian" or (
        noise == "auto" and delta > 0 and accountant.supports(GaussianEvent(noise_multiplier=1.0, discrete=True)))
    if gaussian:
        nm = gaussian_noise_multiplier(epsilon=epsilon, delta=delta, count=count, accountant=accountant, discrete=True)
        return [{"noise_multiplier": nm}] * count, [GaussianEvent(noise_multiplier=nm, discrete=True)] * count
    parts = split_epsilon(epsilon, [1.0] * count)
    return [{"epsilon": e} for e in parts], [LaplaceEvent(noise_multiplier=laplace_noise_multiplier(e), discrete=True) for e in parts]


def _expanded(events: Iterable[Event]) -> Counter:
    """Events as a multiset with DP-SGD steps counted one by one (coalescing does not matter)."""
    out: Counter = Counter()
    for e in events:
        if isinstance(e, SubsampledGaussianEvent):
            out[SubsampledGaussianEvent(noise_multiplier=e.noise_multiplier, sampling_rate=e.sampling_rate, steps=1)] += e.steps
        else:
            out[e] += 1
    return out


def same_charges(planned: Iterable[Event], charged: Iterable[Event]) -> bool:
    """Whether ``charged`` are exactly the ``planned`` events (order and step coalescing aside)."""
    return _expanded(planned) == _expanded(charged)


def zcdp_budget(*, epsilon: float, delta: float, accountant: Accountant, prior: Sequence[Event] = (),
                prior_budget: tuple[float, float] = (0.0, 0.0)) -> float:
    """The largest zCDP ``rho`` whose Gaussian mechanism the ``accountant`` certifies at
    ``(epsilon, delta)`` (the accountant's own conversion, tighter than ``rho + 2 sqrt(rho log 1/delta)``).

    With ``prior`` events charged first on the same ledger (a DP domain's estimation) and the
    ``prior_budget`` ``(epsilon, delta)`` they were granted: the ``rho`` whose Gaussian composes
    with them within the sum of both budgets, as the fit's ledger checks -- the accountant's
    composition of a pure-DP prior with a Gaussian calibrated alone can exceed the sum a little.

    Example:
        >>> from privsynth.privacy.accountants import RdpAccountant
        >>> round(zcdp_budget(epsilon=1.0, delta=1e-9, accountant=RdpAccountant()), 4)
        0.015
    """
    if accountant.name != "rdp":
        raise ValueError("zCDP budgets (MST, AIM) are composed with the RDP accountant; use accountant='rdp'.")
    if prior:
        nm = calibrate_noise_multiplier(lambda x: GaussianEvent(noise_multiplier=x), epsilon=epsilon + float(prior_budget[0]),
                                        delta=delta + float(prior_budget[1]), accountant=accountant, already_spent=tuple(prior))
    else:
        nm = gaussian_noise_multiplier(epsilon=epsilon, delta=delta, accountant=accountant)
    return 1.0 / (2.0 * nm**2)


def zcdp_rho(event: Event) -> float:
    """The zCDP parameter the RDP accountant composes ``event`` with (``alpha * rho`` at every order)."""
    if isinstance(event, GaussianEvent):
        return event.rho
    if isinstance(event, ExponentialEvent):
        return event.epsilon**2 / 8.0
    if isinstance(event, LaplaceEvent) and event.discrete:
        return event.epsilon**2 / 2.0
    if isinstance(event, ComposedEvent):
        return sum(zcdp_rho(e) for e in event.events)
    raise TypeError(f"{type(event).__name__} has no zCDP parameter in the RDP accountant.")


def within_envelope(envelope: Iterable[Event], charged: Iterable[Event]) -> bool:
    """Whether ``charged`` events spend at most the zCDP ``rho`` of the ``envelope``."""
    return sum(zcdp_rho(e) for e in charged) <= sum(zcdp_rho(e) for e in envelope)


class PlanGuard:
    """Refuses, *before* it happens, any charge a fit did not plan (see :meth:`Ledger.guarded`).

    A planned fit may charge each planned event once (DP-SGD steps counted one by one); an
    adaptive one may charge events whose zCDP ``rho`` add up to at most its envelope's. So the
    plan checked against the ledger before the first charge bounds the fit, whatever its
    parameters, even on a shared ledger with budget to spare.

    Example:
        >>> guard = PlanGuard(FitPlan(events=[LaplaceEvent(noise_multiplier=2.0)], delta=0.0), owner="Demo")
        >>> guard(LaplaceEvent(noise_multiplier=2.0), "count")
        >>> guard(LaplaceEvent(noise_multiplier=2.0), "count again")
        Traceback (most recent call last):
        ...
        privsynth.core.errors.PrivsynthError: ...
    """

    def __init__(self, plan: FitPlan, *, owner: str) -> None:
        self.owner, self.adaptive = owner, plan.adaptive
        self._left = _expanded(plan.events) if not plan.adaptive else Counter()
        self._rho_left = sum(zcdp_rho(e) for e in plan.events) if plan.adaptive else 0.0

    def __call__(self, event: Event, label: str) -> None:
        if self.adaptive:
            rho = zcdp_rho(event)
            if rho > self._rho_left * (1 + 1e-9):
                self._refuse(event, label, f"it would take the fit past its envelope (rho {rho:.6g} asked, {self._rho_left:.6g} left)")
            self._rho_left -= rho
            return
        wanted = _expanded([event])
        if any(self._left[e] < k for e, k in wanted.items()):
            self._refuse(event, label, "it is not in the plan, or the plan's charges of it are used up")
        self._left -= wanted

    def _refuse(self, event: Event, label: str, why: str) -> None:
        raise PrivsynthError(f"Internal error: {self.owner} tried to charge {label!r} ({event!r}), but {why}; it was refused "
                             "before anything was released. Please report it with the fit's parameters.")
