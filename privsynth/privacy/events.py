"""Immutable records of mechanism calls (after dp_accounting's ``DpEvent``).

An event says *what* was released and with which noise, in unitless form (noise divided by
sensitivity), so an accountant can compose events without knowing the mechanism's code. All
events assume add/remove-one neighbouring datasets.

Events round-trip through plain JSON (:func:`event_to_dict` / :func:`event_from_dict`), which is
how certificates store them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Mapping, Union

from privsynth.core import checks

__all__ = [
    "LaplaceEvent",
    "GaussianEvent",
    "ExponentialEvent",
    "PureDpEvent",
    "SubsampledGaussianEvent",
    "ComposedEvent",
    "PartitionSelectionEvent",
    "Event",
    "event_to_dict",
    "event_from_dict",
    "pure_epsilon",
    "approximate_delta",
]


def _positive(name: str, value: float) -> float:
    return float(checks.number(value, name, low=0, low_open=True))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LaplaceEvent:
    """Laplace noise with scale ``noise_multiplier * l1_sensitivity``: ``(1/noise_multiplier)``-DP.

    ``discrete=True`` marks the discrete Laplace (two-sided geometric) mechanism on an integer
    query with integer sensitivity; it has the same pure-DP guarantee.

    Example:
        >>> LaplaceEvent(noise_multiplier=2.0).epsilon
        0.5
    """

    noise_multiplier: float
    discrete: bool = False
    kind: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", _positive("noise_multiplier", self.noise_multiplier))

    @property
    def epsilon(self) -> float:
        """Its pure-DP epsilon."""
        return 1.0 / self.noise_multiplier


@dataclass(frozen=True)
class GaussianEvent:
    """Gaussian noise with standard deviation ``noise_multiplier * l2_sensitivity``.

    ``discrete=True`` marks the discrete Gaussian on an integer query; it satisfies the same
    ``1/(2 noise_multiplier^2)``-zCDP bound (Canonne, Kamath, Steinke 2020), which is what the
    RDP accountant uses for it.
    """

    noise_multiplier: float
    discrete: bool = False
    kind: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", _positive("noise_multiplier", self.noise_multiplier))

    @property
    def rho(self) -> float:
        """Its zCDP parameter."""
        return 1.0 / (2.0 * self.noise_multiplier**2)


@dataclass(frozen=True)
class ExponentialEvent:
    """One exponential-mechanism selection at ``epsilon`` (pure DP, and ``epsilon^2/8``-zCDP
    as a bounded-range mechanism, Cesar & Rogers 2021)."""

    epsilon: float
    kind: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _positive("epsilon", self.epsilon))


@dataclass(frozen=True)
class PureDpEvent:
    """Any ``epsilon``-DP mechanism (``epsilon^2/2``-zCDP, Bun & Steinke 2016)."""

    epsilon: float
    kind: ClassVar[str] = "pure"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _positive("epsilon", self.epsilon))


@dataclass(frozen=True)
class SubsampledGaussianEvent:
    """``steps`` DP-SGD steps: Poisson sampling at ``sampling_rate``, then the Gaussian mechanism
    with ``noise_multiplier`` on the clipped-gradient sum.

    Example:
        >>> SubsampledGaussianEvent(noise_multiplier=1.1, sampling_rate=0.01, steps=100).steps
        100
    """

    noise_multiplier: float
    sampling_rate: float
    steps: int = 1
    kind: ClassVar[str] = "subsampled_gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", _positive("noise_multiplier", self.noise_multiplier))
        q = self.sampling_rate
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise ValueError(f"sampling_rate must be in (0, 1], got {q!r}.")
        object.__setattr__(self, "sampling_rate", float(q))
        if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}.")
        object.__setattr__(self, "steps", int(self.steps))


@dataclass(frozen=True)
class PartitionSelectionEvent:
    """Differentially private partition selection (keys released only when their noisy count
    passes a threshold) with Gaussian noise ``noise_multiplier`` on the counts, each record
    counting in one key.

    On neighbours with the same keys it is the Gaussian mechanism (sensitivity 1) followed by
    post-processing; a key held by the one differing record is released with probability at most
    ``delta`` (the noise's tail above the threshold), outside which the outputs have the same
    distribution. So it is the Gaussian mechanism up to an event of probability ``delta``, and
    accountants compose the Gaussian part and add ``delta`` (Bun & Steinke's approximate zCDP;
    Gopi et al. 2020, "Differentially private set union").

    Example:
        >>> PartitionSelectionEvent(noise_multiplier=4.0, delta=1e-9).delta
        1e-09
    """

    noise_multiplier: float
    delta: float
    kind: ClassVar[str] = "partition_selection"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", _positive("noise_multiplier", self.noise_multiplier))
        d = self.delta
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d < 1:
            raise ValueError(f"delta must be in (0, 1), got {d!r}.")
        object.__setattr__(self, "delta", float(d))


@dataclass(frozen=True)
class ComposedEvent:
    """Several events applied to the same data, in order."""

    events: tuple
    kind: ClassVar[str] = "composed"

    def __post_init__(self) -> None:
        evs = tuple(self.events)
        for e in evs:
            if not isinstance(e, _EVENT_TYPES):
                raise TypeError(f"ComposedEvent takes privsynth events, got {type(e).__name__}.")
        object.__setattr__(self, "events", evs)


Event = Union[LaplaceEvent, GaussianEvent, ExponentialEvent, PureDpEvent, SubsampledGaussianEvent, PartitionSelectionEvent,
              ComposedEvent]
_EVENT_TYPES = (LaplaceEvent, GaussianEvent, ExponentialEvent, PureDpEvent, SubsampledGaussianEvent, PartitionSelectionEvent,
                ComposedEvent)
_BY_KIND: dict[str, type] = {cls.kind: cls for cls in _EVENT_TYPES}


def approximate_delta(events: "Any") -> float:
    """The delta that events such as :class:`PartitionSelectionEvent` add on top of their
    Gaussian part, summed over ``events`` (a sequence or a multiset ``{event: count}``)."""
    items = events.items() if isinstance(events, Mapping) else [(e, 1) for e in events]
    total = []
    for e, c in items:
        if isinstance(e, PartitionSelectionEvent):
            total.append(e.delta * c)
        elif isinstance(e, ComposedEvent):
            total.append(approximate_delta(e.events) * c)
    return math.fsum(total)


def pure_epsilon(event: Event) -> float | None:
    """The pure-DP epsilon of ``event``, or ``None`` if it is not pure DP."""
    if isinstance(event, LaplaceEvent):
        return event.epsilon
    if isinstance(event, (ExponentialEvent, PureDpEvent)):
        return event.epsilon
    if isinstance(event, ComposedEvent):
        parts = [pure_epsilon(e) for e in event.events]
        return None if any(p is None for p in parts) else math.fsum(parts)  # type: ignore[arg-type]
    return None


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain-JSON form of an event, tagged with its ``kind``."""
    if not isinstance(event, _EVENT_TYPES):
        raise TypeError(f"Not a privsynth event: {type(event).__name__}.")
    if isinstance(event, ComposedEvent):
        return {"kind": event.kind, "events": [event_to_dict(e) for e in event.events]}
    return {"kind": event.kind, **asdict(event)}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; raises ``ValueError`` on unknown kinds or fields."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = _BY_KIND.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"Unknown event kind {kind!r}; known kinds: {sorted(_BY_KIND)}.")
    if cls is ComposedEvent:
        return ComposedEvent(tuple(event_from_dict(e) for e in data.get("events", ())))
    allowed = {f.name for f in fields(cls)}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"Unknown fields {sorted(unknown)} for a {kind} event.")
    return cls(**data)
