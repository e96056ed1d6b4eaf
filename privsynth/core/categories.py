"""How a categorical column is cut into cells: one per category, or one shared by its merged categories.

A :class:`~privsynth.core.domain.Categorical` column may declare ``merged``: categories that share
one cell, as the benchmark papers merge rare categories before fitting (with differential privacy:
:func:`privsynth.profiling.dp_merge_rare`). A synthesizer then models the cells, and a record in the
merged cell decodes to one of its categories drawn uniformly, as a number is drawn uniformly inside
its bin. Cells follow the declared order; the merged cell sits where its first category does.
Everything here comes from the domain, never from the data.

Example:
    >>> category_cells(("a", "b", "c", "d"), merged=("b", "d")).tolist()
    [0, 1, 2, 1]
    >>> cell_members(("a", "b", "c", "d"), merged=("b", "d"))
    [(0,), (1, 3), (2,)]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from privsynth.core.errors import DomainError

__all__ = ["category_cells", "cell_codes", "cell_members", "check_merged", "decode_cells"]


def check_merged(name: str, categories: tuple, merged: Any, *, ordinal: bool) -> tuple:
    """``merged`` validated: at least two distinct declared categories, in declared order; ``()`` for none."""
    if merged is None or (isinstance(merged, (list, tuple)) and not merged):
        return ()
    if isinstance(merged, (str, bytes)) or not isinstance(merged, (list, tuple)):
        raise DomainError(f"Column {name!r}: merged must be a list of its categories (those sharing one cell), got {merged!r}.")
    if ordinal:
        raise DomainError(f"Column {name!r}: an ordinal column's levels keep their order, so none can be merged; "
                          "declare fewer, wider levels instead, or make the column categorical.")
    unknown = [m for m in merged if m not in categories]
    if unknown:
        raise DomainError(f"Column {name!r}: merged categories {unknown[:5]} are not among its declared categories.")
    if len(set(merged)) != len(merged) or len(merged) < 2:
        raise DomainError(f"Column {name!r}: merged needs at least two distinct categories (one cell for all of them), "
                          f"got {list(merged)}.")
    return tuple(c for c in categories if c in set(merged))


def category_cells(categories: Sequence, merged: Sequence = ()) -> np.ndarray:
    """The cell of each declared category (``int64``, one entry per category)."""
    shared = set(merged)
    cells = np.empty(len(categories), dtype=np.int64)
    merged_cell, n = -1, 0
    for i, c in enumerate(categories):
        if c in shared and merged_cell >= 0:
            cells[i] = merged_cell
            continue
        if c in shared:
            merged_cell = n
        cells[i], n = n, n + 1
    return cells


def cell_codes(category_codes: np.ndarray, categories: Sequence, merged: Sequence = (), *, missing: int) -> np.ndarray:
    """Cell codes of category indices (pandas' ``cat.codes``): ``-1`` (a missing value) becomes
    ``missing``, a merged category its shared cell.

    Example:
        >>> cell_codes(np.array([0, 3, -1, 2]), ("a", "b", "c", "d"), ("b", "d"), missing=3).tolist()
        [0, 1, 3, 2]
    """
    codes = np.asarray(category_codes, dtype=np.int64)
    if merged:
        codes = np.where(codes < 0, codes, category_cells(categories, merged)[np.maximum(codes, 0)])
    return np.where(codes < 0, missing, codes)


def cell_members(categories: Sequence, merged: Sequence = ()) -> list[tuple[int, ...]]:
    """The category indices in each cell, in cell order."""
    cells = category_cells(categories, merged)
    members: list[list[int]] = [[] for _ in range(int(cells.max()) + 1 if len(cells) else 0)]
    for i, cell in enumerate(cells):
        members[int(cell)].append(i)
    return [tuple(m) for m in members]


def decode_cells(cells: np.ndarray, categories: Sequence, merged: Sequence, rng: np.random.Generator) -> np.ndarray:
    """Category indices of cell codes (``-1`` for codes past the last cell: missing); a merged
    cell's records get one of its categories drawn uniformly (one uniform each)."""
    cells = np.asarray(cells, dtype=np.int64)
    members = cell_members(categories, merged)
    k = len(members)
    if not merged:
        return np.where(cells >= k, -1, cells)
    first = np.array([m[0] for m in members] + [-1], dtype=np.int64)
    out = first[np.minimum(cells, k)]
    shared = next(i for i, m in enumerate(members) if len(m) > 1)
    hit = cells == shared
    if hit.any():
        out[hit] = np.asarray(members[shared], dtype=np.int64)[rng.integers(0, len(members[shared]), int(hit.sum()))]
    return out
