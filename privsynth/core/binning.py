"""How a numeric column is cut into cells: public edges, declared point masses, small integer ranges.

Everything here comes from the declared domain (bounds, ``bins``, ``points``), never from the
data. A :class:`~privsynth.core.domain.Numeric` column is discretized into

* ``bins`` equal-width bins between its bounds, or the bins between a declared list of edges
  (``bins: [0, 1, 5, 10, 100]``);
* plus one cell per declared **point mass** (``points: [0, -1]``: a count's zero, a "not
  applicable" code, a top code), so a value that holds most records keeps its share exactly
  instead of being spread uniformly over a wide bin. An integer point ``p`` is the bin
  ``[p - 0.5, p + 0.5)``; a fractional point is a bin ``1e-9`` of the range wide, decoded to the
  point itself.

Drafts (:func:`privsynth.profiling.profile`, :func:`privsynth.profiling.estimate_domain`) give an
integer column whose range has at most :data:`SMALL_INTEGER_RANGE` values one bin per value
(``bins: <number of values>``), by that one rule: counts keep their shape.

Example:
    >>> numeric_edges(0, 100, integer=True, bins=4, points=(0,), default=16).tolist()
    [-0.5, 0.5, 25.0, 50.0, 75.0, 100.0]
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from privsynth.core.errors import DomainError

__all__ = ["SMALL_INTEGER_RANGE", "numeric_edges", "cell_of", "check_binning", "point_width", "describe_binning"]

#: Integer columns with at most this many values get one bin per value in drafted domains.
SMALL_INTEGER_RANGE = 64
_POINT_WIDTH = 1e-9


def point_width(lower: float, upper: float) -> float:
    """The width of a fractional point's bin."""
    return (float(upper) - float(lower)) * _POINT_WIDTH


def check_binning(name: str, lower: float, upper: float, integer: bool, bins: Any, points: Any) -> tuple[Any, tuple]:
    """``(bins, points)`` validated and normalized (an int or a tuple of edges; a sorted tuple)."""
    if isinstance(bins, (list, tuple)):
        try:
            edges = tuple(float(e) for e in bins)
        except (TypeError, ValueError):
            raise DomainError(f"Column {name!r}: bins must be a count or a list of numbers (edges), got {bins!r}.") from None
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] > lower or edges[-1] < upper:
            raise DomainError(f"Column {name!r}: bin edges must increase and reach from the lower bound {lower} to the "
                              f"upper bound {upper} (e.g. [{lower}, ..., {upper}]), got {list(bins)}.")
        bins = tuple(int(e) if e.is_integer() else e for e in edges)
    elif bins is not None and (isinstance(bins, bool) or not isinstance(bins, (int, float)) or int(bins) != bins or bins < 1):
        raise DomainError(f"Column {name!r}: bins must be a positive integer or a list of edges, got {bins!r}.")
    elif bins is not None:
        bins = int(bins)
    if points is None:
        points = ()
    if isinstance(points, (str, bytes)) or not isinstance(points, (list, tuple)):
        raise DomainError(f"Column {name!r}: points must be a list of numbers (point masses such as 0 or -1), got {points!r}.")
    out = []
    for p in points:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not lower <= p <= upper:
            raise DomainError(f"Column {name!r}: point {p!r} must be a number within the bounds [{lower}, {upper}].")
        if integer and p != int(p):
            raise DomainError(f"Column {name!r}: an integer column's points are whole numbers, got {p!r}.")
        out.append(int(p) if integer or float(p).is_integer() else float(p))
    if len(set(out)) != len(out):
        raise DomainError(f"Column {name!r}: points must be distinct, got {list(points)}.")
    return bins, tuple(sorted(out))


def _base_edges(lower: float, upper: float, integer: bool, bins: Any, default: int) -> np.ndarray:
    if isinstance(bins, tuple):
        return np.asarray(bins, dtype=float)
    count = bins if bins is not None else default
    if integer:
        count = min(count, int(upper - lower) + 1)
        if count == int(upper - lower) + 1:
            return np.arange(lower, upper + 2, dtype=float) - 0.5
    return np.linspace(float(lower), float(upper), int(count) + 1)


def numeric_edges(lower: float, upper: float, *, integer: bool, bins: Any, points: Sequence[float], default: int) -> np.ndarray:
    """The column's bin edges: the base bins, with every point isolated in a bin of its own
    (integer point ``p``: ``[p - 0.5, p + 0.5)``; fractional: ``[p, p + w)``, ``w`` = 1e-9 of the
    range, or ``[p - w, p]`` at the upper bound). A bin left without any value of an integer
    column is merged into its neighbour."""
    edges = _base_edges(lower, upper, integer, bins, default)
    if not len(points):
        return edges
    w = point_width(lower, upper)
    for p in points:
        lo, hi = (p - 0.5, p + 0.5) if integer else ((p - w, p) if p == upper else (p, p + w))
        keep = edges[(edges <= lo) | (edges >= hi)]
        edges = np.unique(np.concatenate([keep, [lo, hi]]))
    first, last = (lower - 0.5, upper + 0.5) if integer else (float(lower), float(upper))
    edges = np.unique(np.clip(edges, min(first, edges[0]), max(last, edges[-1])))
    if integer:  # drop edges that leave a bin holding no whole number, keeping the points' own edges
        pinned = {p + d for p in points for d in (-0.5, 0.5)}
        out = [edges[0]]
        for e in edges[1:]:
            if math.ceil(out[-1]) <= math.ceil(e) - 1 or (e == edges[-1]):
                out.append(e)
            elif e in pinned and out[-1] not in pinned and len(out) > 1:
                out[-1] = e
        edges = np.asarray(out)
    return edges


def cell_of(edges: np.ndarray, values: Any) -> Any:
    """The cell (bin index) of each value: ``[e_k, e_k+1)``, values past the ends in the end cells.

    Example:
        >>> cell_of(np.array([0.0, 1.0, 2.0]), [-5, 0.5, 1.0, 9]).tolist()
        [0, 0, 1, 1]
    """
    return np.clip(np.searchsorted(edges[1:-1], values, side="right"), 0, len(edges) - 2)


def describe_binning(lower: float, upper: float, *, integer: bool, bins: Any, points: Sequence[float], default: int) -> str:
    """How the column will be modelled, in a few words (drafts and reports say it)."""
    edges = numeric_edges(lower, upper, integer=integer, bins=bins, points=points, default=default)
    n = len(edges) - 1
    if integer and n == int(upper - lower) + 1:
        return f"one level per value ({n})"
    kind = "declared bins" if isinstance(bins, tuple) else "equal bins"
    spike = f" + points {list(points)}" if len(points) else ""
    return f"{n - len(points)} {kind}{spike}, uniform inside a bin"
