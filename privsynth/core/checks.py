"""One vocabulary for checking parameters: a number in a range, an integer, a choice, a flag.

Every check raises ``ValueError`` with one message shape -- ``"<owner>: <name> must be <what>,
got <value>."`` -- so that a bad parameter reads the same wherever it is checked.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

__all__ = ["number", "integer", "choice", "flag"]


def _fail(owner: str | None, name: str, what: str, value: Any) -> ValueError:
    return ValueError(f"{owner + ': ' if owner else ''}{name} must be {what}, got {value!r}.")


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return "a finite number"


def number(value: Any, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, none: bool = False, owner: str | None = None) -> float | None:
    """``value`` as a float, checked to be finite and in the range (``none``: ``None`` allowed).

    Example:
        >>> number(0.5, "share", low=0, high=1, low_open=True, high_open=True)
        0.5
        >>> number(1.5, "share", low=0, high=1, owner="PrivBayes")
        Traceback (most recent call last):
        ...
        ValueError: PrivBayes: share must be a number in [0, 1], got 1.5.
    """
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise _fail(owner, name, _describe(low, high, low_open, high_open) + (" or None" if none else ""), value)
    v = float(value)
    if (low is not None and (v <= low if low_open else v < low)) or (high is not None and (v >= high if high_open else v > high)):
        raise _fail(owner, name, _describe(low, high, low_open, high_open) + (" or None" if none else ""), value)
    return v


def integer(value: Any, name: str, *, low: int = 1, none: bool = False, owner: str | None = None) -> int | None:
    """``value`` as an int ``>= low`` (``none``: ``None`` allowed)."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise _fail(owner, name, what + (" or None" if none else ""), value)
    return int(value)


def choice(value: Any, name: str, choices: Iterable[Any], *, owner: str | None = None) -> Any:
    """``value`` if it is one of ``choices``."""
    options = tuple(choices)
    if isinstance(value, (list, dict)) or value not in options:
        raise _fail(owner, name, "one of " + ", ".join(repr(c) for c in options), value)
    return value


def flag(value: Any, name: str, *, owner: str | None = None) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise _fail(owner, name, "True or False", value)
    return value
