"""Tables over sets of attributes: a factor is ``(attrs, values)`` with ``attrs`` a sorted tuple
of attribute indices and ``values`` an array with one axis per attribute, in that order.

Plain functions over numpy arrays (``expand``, ``sum_to`` and ``logsumexp_to`` also over the torch
backend's tensors); no data, only public sizes and DP outputs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from privsynth.graphical.backend import NUMPY, Backend

__all__ = ["Attrs", "normalize_attrs", "expand", "sum_to", "logsumexp_to", "table_size"]

Attrs = tuple[int, ...]


def normalize_attrs(attrs: Sequence[int]) -> Attrs:
    """Attributes as a sorted tuple without repeats.

    Example:
        >>> normalize_attrs([3, 1, 3])
        (1, 3)
    """
    return tuple(sorted({int(a) for a in attrs}))


def table_size(attrs: Sequence[int], sizes: Sequence[int]) -> int:
    """Number of cells of a table over ``attrs``."""
    return int(np.prod([sizes[a] for a in attrs], dtype=np.int64)) if len(attrs) else 1


def expand(values: np.ndarray, attrs: Attrs, target: Attrs) -> np.ndarray:
    """A view of ``values`` (over ``attrs``) that broadcasts over ``target`` (a superset).

    Example:
        >>> expand(np.arange(3.0), (1,), (0, 1, 2)).shape
        (1, 3, 1)
    """
    position = {a: i for i, a in enumerate(attrs)}
    missing = [a for a in attrs if a not in target]
    if missing:
        raise ValueError(f"attributes {missing} are not in the target {target}.")
    shape = [values.shape[position[a]] if a in position else 1 for a in target]
    return values.reshape(shape)


def sum_to(values: np.ndarray, attrs: Attrs, keep: Attrs) -> np.ndarray:
    """Sum ``values`` (over ``attrs``) down to the attributes ``keep`` (a subset, sorted)."""
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    return values.sum(axis=axes) if axes else values


def logsumexp_to(values: np.ndarray, attrs: Attrs, keep: Attrs, backend: Backend = NUMPY) -> np.ndarray:
    """``log(sum(exp(values)))`` over the attributes not in ``keep``, stably (arrays of ``backend``)."""
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    return backend.logsumexp(values, axes) if axes else values
