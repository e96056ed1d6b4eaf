"""Pure accountants: a sequence of events and a ``delta`` in, the composed ``epsilon`` out.

An accountant holds configuration only; every call builds a fresh dp_accounting accountant, so
the same events always give the same answer and calibration can try noise levels freely.
Both accountants assume add/remove-one neighbours.

Each takes the smallest of these valid bounds:

* the full Renyi (or privacy-loss-distribution) composition of every event, pure ones included
  (an ``eps``-DP event is ``eps^2/2``-zCDP; an exponential mechanism ``eps^2/8``-zCDP),
* basic composition: the sum of the pure events' epsilons plus the composition of the others
  (exact for Laplace-only ledgers and the only finite bound at ``delta = 0``), and (RDP) the
  same with only the Laplace and generic pure-DP events summed, the exponential mechanisms staying
  in the Renyi composition -- a DP domain's pure charges (PrivTree bins, rare-category merge)
  before an AIM or MST fit, whose many exponential mechanisms are far cheaper as zCDP.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from functools import lru_cache
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
from dp_accounting import dp_event as dpe
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

from privsynth.core import checks
from privsynth.privacy.events import (
    ComposedEvent,
    Event,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PartitionSelectionEvent,
    PureDpEvent,
    SubsampledGaussianEvent,
    approximate_delta,
    pure_epsilon,
)

__all__ = [
    "Accountant",
    "RdpAccountant",
    "PldAccountant",
    "get_accountant",
    "NEIGHBOURING",
    "NEIGHBOURING_PERSON",
    "DEFAULT_RDP_ORDERS",
]

NEIGHBOURING = "add_remove_one"
#: A database certificate's relation (:mod:`privsynth.relational`): one person and every row linked to them.
NEIGHBOURING_PERSON = "add_remove_one_person_with_linked_rows"


class _QuietExcludedOrders(logging.Filter):
    """dp_accounting logs a warning each time a series for a fractional Renyi order does not
    converge and that order is left out of the minimum (a valid, slightly looser bound). During a
    calibration search that is dozens of lines of noise per fit; they are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to converge" not in record.getMessage()


logging.getLogger("absl").addFilter(_QuietExcludedOrders())
DEFAULT_RDP_ORDERS: tuple[float, ...] = tuple(float(a) for a in rdp_privacy_accountant.DEFAULT_RDP_ORDERS)


@runtime_checkable
class Accountant(Protocol):
    """What a ledger needs from an accountant."""

    name: str

    def supports(self, event: Event) -> bool:
        """Whether this accountant can compose ``event``."""

    def epsilon(self, events: "Sequence[Event] | Mapping[Event, int]", delta: float) -> float:
        """Composed epsilon of ``events`` (a sequence, or a multiset ``{event: count}``) at
        ``delta`` (``inf`` if none is finite)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON configuration; :func:`get_accountant` rebuilds the accountant from it."""


def _leaves(events: "Iterable[Event] | Mapping[Event, int]") -> Counter:
    """Flatten composed events and count identical leaves (events are hashable values).

    ``events`` is a sequence, or a multiset ``{event: count}`` (how a ledger keeps its entries).
    """
    counts: Counter = Counter()
    stack = list(events.items()) if isinstance(events, Mapping) else [(e, 1) for e in events]
    while stack:
        e, n = stack.pop()
        if isinstance(e, ComposedEvent):
            stack.extend((sub, n) for sub in e.events)
        else:
            counts[e] += n
    return counts


def _canonical(leaves: Counter) -> list:
    """Leaves in a fixed order, so that floating-point composition does not depend on the order
    in which events were recorded (a ledger and a certificate's verifier agree bit for bit)."""
    return sorted(leaves.items(), key=lambda item: repr(item[0]))


_LEAF_TYPES = (LaplaceEvent, GaussianEvent, ExponentialEvent, PureDpEvent, SubsampledGaussianEvent, PartitionSelectionEvent)


def _gaussian_part_delta(leaves: Counter, delta: float) -> float | None:
    """The delta left for the Gaussian/RDP part once partition selections take theirs (``None``:
    they take it all, so no finite epsilon holds at ``delta``)."""
    extra = approximate_delta(leaves)
    if extra == 0:
        return delta
    return delta - extra if delta > extra else None


def _check_delta(delta: float) -> float:
    return float(checks.number(delta, "delta", low=0, high=1, high_open=True))  # type: ignore[arg-type]


def _sampled_gaussian(e: SubsampledGaussianEvent) -> dpe.DpEvent:
    inner = dpe.PoissonSampledDpEvent(e.sampling_rate, dpe.GaussianDpEvent(e.noise_multiplier))
    return dpe.SelfComposedDpEvent(inner, e.steps) if e.steps > 1 else inner


@lru_cache(maxsize=4096)
def _rdp_curve(event: dpe.DpEvent, orders: tuple[float, ...]) -> np.ndarray:
    """RDP of one event at ``orders``, from a fresh dp_accounting accountant (memoized: events
    are immutable values, so composing a long ledger costs one vector sum)."""
    acc = rdp_privacy_accountant.RdpAccountant(orders=list(orders))
    acc.compose(event)
    curve = np.array(acc._rdp, dtype=float)  # noqa: SLF001 - dp_accounting exposes no getter
    curve.setflags(write=False)
    return curve


class RdpAccountant:
    """Renyi-DP accountant (Mironov 2017) on dp_accounting, with the conversion to
    ``(epsilon, delta)`` of Canonne, Kamath, Steinke (2020).

    Args:
        orders: Renyi orders to optimize over (default: dp_accounting's). Opacus's default
            orders give Opacus's numbers exactly.

    Example:
        >>> from privsynth.privacy.events import GaussianEvent, LaplaceEvent
        >>> acc = RdpAccountant()
        >>> acc.epsilon([LaplaceEvent(noise_multiplier=2.0)] * 2, delta=0.0)
        1.0
        >>> round(acc.epsilon([GaussianEvent(noise_multiplier=1.0)], delta=1e-5), 3)
        4.729
    """

    name = "rdp"

    def __init__(self, *, orders: Sequence[float] | None = None) -> None:
        self.orders = tuple(float(a) for a in (orders if orders is not None else DEFAULT_RDP_ORDERS))
        if not self.orders or min(self.orders) <= 1:
            raise ValueError("RDP orders must be a non-empty list of numbers > 1.")

    def supports(self, event: Event) -> bool:
        return all(isinstance(e, _LEAF_TYPES) for e in _leaves([event]))

    def _dp_event(self, e: Event) -> dpe.DpEvent:
        if isinstance(e, LaplaceEvent):
            # Discrete Laplace is covered by its pure-DP guarantee, not the continuous RDP curve.
            return dpe.ZCDpEvent(e.epsilon**2 / 2) if e.discrete else dpe.LaplaceDpEvent(e.noise_multiplier)
        if isinstance(e, (GaussianEvent, PartitionSelectionEvent)):
            return dpe.GaussianDpEvent(e.noise_multiplier)
        if isinstance(e, ExponentialEvent):
            return dpe.ZCDpEvent(e.epsilon**2 / 8)
        if isinstance(e, PureDpEvent):
            return dpe.ZCDpEvent(e.epsilon**2 / 2)
        if isinstance(e, SubsampledGaussianEvent):  # one step; _compose multiplies by the steps
            return dpe.PoissonSampledDpEvent(e.sampling_rate, dpe.GaussianDpEvent(e.noise_multiplier))
        raise TypeError(f"The RDP accountant does not support {type(e).__name__}.")

    def _compose(self, leaves: Counter, delta: float) -> float:
        if not leaves:
            return 0.0
        if delta == 0:
            return math.inf
        rdp = sum(count * getattr(e, "steps", 1) * _rdp_curve(self._dp_event(e), self.orders) for e, count in _canonical(leaves))
        eps, _ = rdp_privacy_accountant.compute_epsilon(self.orders, rdp, delta)
        return float(eps)

    def epsilon(self, events: "Sequence[Event] | Mapping[Event, int]", delta: float) -> float:
        delta = _check_delta(delta)
        leaves = _leaves(events)
        unsupported = [type(e).__name__ for e in leaves if not isinstance(e, _LEAF_TYPES)]
        if unsupported:
            raise TypeError(f"The RDP accountant does not support {sorted(set(unsupported))}.")
        remaining = _gaussian_part_delta(leaves, delta)
        if remaining is None:
            return math.inf
        delta = remaining
        full = self._compose(leaves, delta)
        pure = Counter({e: c for e, c in leaves.items() if pure_epsilon(e) is not None})
        rest = leaves - pure
        basic = math.fsum(pure_epsilon(e) * c for e, c in pure.items()) + (self._compose(rest, delta) if rest else 0.0)  # type: ignore[operator]
        summed = Counter({e: c for e, c in pure.items() if not isinstance(e, ExponentialEvent)})
        if not summed or summed == pure:
            return min(full, basic)
        mixed = math.fsum(pure_epsilon(e) * c for e, c in summed.items()) + self._compose(leaves - summed, delta)  # type: ignore[operator]
        return min(full, basic, mixed)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.orders != DEFAULT_RDP_ORDERS:
            out["orders"] = list(self.orders)
        return out

    def __repr__(self) -> str:
        return "RdpAccountant()" if self.orders == DEFAULT_RDP_ORDERS else f"RdpAccountant(orders={list(self.orders)})"


class PldAccountant:
    """Privacy-loss-distribution accountant (dp_accounting's PLD; Koskela et al., Doroshenko et
    al.): tighter than RDP for many compositions of Gaussian and subsampled Gaussian events.

    Pure events it cannot model exactly (discrete Laplace, exponential mechanism, generic pure
    DP) are added by basic composition. The discrete Gaussian is not supported: use the RDP
    accountant for it.

    Args:
        value_discretization_interval: PLD discretization (smaller is tighter and slower).

    Example:
        >>> from privsynth.privacy.events import GaussianEvent
        >>> round(PldAccountant().epsilon([GaussianEvent(noise_multiplier=1.0)], delta=1e-5), 2)
        4.38
    """

    name = "pld"

    def __init__(self, *, value_discretization_interval: float = 1e-4) -> None:
        if not 0 < value_discretization_interval < 1:
            raise ValueError("value_discretization_interval must be in (0, 1).")
        self.value_discretization_interval = float(value_discretization_interval)

    @staticmethod
    def _supports_leaf(e: Event) -> bool:
        return isinstance(e, _LEAF_TYPES) and not (isinstance(e, GaussianEvent) and e.discrete)

    def supports(self, event: Event) -> bool:
        return all(self._supports_leaf(e) for e in _leaves([event]))

    def epsilon(self, events: "Sequence[Event] | Mapping[Event, int]", delta: float) -> float:
        delta = _check_delta(delta)
        leaves = _leaves(events)
        bad = [type(e).__name__ for e in leaves if not self._supports_leaf(e)]
        if bad:
            raise TypeError(
                f"The PLD accountant does not support {sorted(set(bad))} (discrete Gaussian "
                "noise needs the RDP accountant: accountant='rdp')."
            )
        remaining = _gaussian_part_delta(leaves, delta)
        if remaining is None:
            return math.inf
        delta = remaining
        modelled: Counter = Counter()
        basic_pure: list[float] = []
        for e, c in leaves.items():
            if isinstance(e, (GaussianEvent, SubsampledGaussianEvent, PartitionSelectionEvent)) or (
                    isinstance(e, LaplaceEvent) and not e.discrete):
                modelled[e] = c
            else:
                basic_pure.append(pure_epsilon(e) * c)  # type: ignore[operator]
        eps = math.fsum(basic_pure)
        if modelled:
            acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=self.value_discretization_interval)
            for e, c in _canonical(modelled):
                ev = _sampled_gaussian(e) if isinstance(e, SubsampledGaussianEvent) else (
                    dpe.GaussianDpEvent(e.noise_multiplier) if isinstance(e, (GaussianEvent, PartitionSelectionEvent))
                    else dpe.LaplaceDpEvent(e.noise_multiplier)
                )
                acc.compose(ev if c == 1 else dpe.SelfComposedDpEvent(ev, c))
            eps += max(0.0, float(acc.get_epsilon(delta)))
        all_pure = [pure_epsilon(e) for e in leaves]
        if all(p is not None for p in all_pure):
            eps = min(eps, math.fsum(p * c for p, c in zip(all_pure, leaves.values())))  # type: ignore[operator]
        return eps

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value_discretization_interval": self.value_discretization_interval}

    def __repr__(self) -> str:
        return f"PldAccountant(value_discretization_interval={self.value_discretization_interval})"


def get_accountant(spec: "str | Mapping[str, Any] | Accountant" = "rdp") -> Accountant:
    """An accountant from a name (``"rdp"``, ``"pld"``), its ``to_dict()`` form, or itself."""
    if isinstance(spec, (RdpAccountant, PldAccountant)) or (not isinstance(spec, (str, Mapping)) and isinstance(spec, Accountant)):
        return spec  # type: ignore[return-value]
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise TypeError(f"accountant must be 'rdp', 'pld', a dict or an Accountant; got {type(spec).__name__}.")
    params = dict(spec)
    name = params.pop("name", None)
    if name == "rdp":
        return RdpAccountant(**params)
    if name == "pld":
        return PldAccountant(**params)
    raise ValueError(f"Unknown accountant {name!r}; use 'rdp' (Renyi DP) or 'pld' (privacy loss distributions).")
