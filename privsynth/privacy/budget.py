"""The ``(epsilon, delta)`` pair a ledger may spend, or has spent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Budget", "MAX_DELTA", "check_delta"]

#: The largest delta a fit accepts and a reader trusts by default. A mechanism that is
#: (epsilon, delta)-DP may release one record outright with probability delta, so delta must be
#: far below 1/n; n is private, so the limit is a fixed public number: 1e-4 (1/n for ten
#: thousand records) is the most that still means something for tables of a few thousand rows.
MAX_DELTA = 1e-4


def check_delta(delta: float, *, allow_large_delta: bool = False, what: str = "delta") -> None:
    """Refuse a delta above :data:`MAX_DELTA` unless the caller insists.

    Raises:
        ValueError: ``delta > MAX_DELTA`` and not ``allow_large_delta``.

    Example:
        >>> check_delta(1e-6)
        >>> check_delta(1e-3)
        Traceback (most recent call last):
        ...
        ValueError: ...
    """
    if delta > MAX_DELTA and not allow_large_delta:
        raise ValueError(
            f"{what}={delta:g} is above {MAX_DELTA:g}: an (epsilon, delta)-DP release may expose a record outright with "
            f"probability delta, so a delta near 1/n protects nobody. Use delta <= {MAX_DELTA:g} (the defaults are 1e-9 to "
            "1e-5), or pass allow_large_delta=True (--allow-large-delta) if you know why; the certificate then says so.")


@dataclass(frozen=True)
class Budget:
    """A privacy budget ``(epsilon, delta)`` under add/remove-one neighbours.

    Example:
        >>> Budget(epsilon=1.0, delta=1e-6).covers(Budget(epsilon=0.5))
        True
    """

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        eps, delta = self.epsilon, self.delta
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or math.isnan(eps) or eps < 0:
            raise ValueError(f"epsilon must be a number >= 0, got {eps!r}.")
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta < 1:
            raise ValueError(f"delta must be in [0, 1), got {delta!r}.")
        object.__setattr__(self, "epsilon", float(eps))
        object.__setattr__(self, "delta", float(delta))

    def covers(self, other: "Budget") -> bool:
        """Whether ``other`` fits inside this budget."""
        return other.epsilon <= self.epsilon and other.delta <= self.delta

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``inf`` is written as the string ``"inf"``)."""
        return {"epsilon": self.epsilon if math.isfinite(self.epsilon) else "inf", "delta": self.delta}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Budget":
        """Inverse of :meth:`to_dict`."""
        return cls(epsilon=float(data["epsilon"]), delta=float(data.get("delta", 0.0)))

    def __str__(self) -> str:
        return f"(epsilon={self.epsilon:.6g}, delta={self.delta:.3g})"
