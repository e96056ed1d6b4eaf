"""The :class:`Table`: private records behind an engine, asked only for what the marginal
methods need -- the exact record count and exact counts over the domain's public cells.

Every answer is private (release it only through a mechanism). Every backend answers the same
questions on the same records with the same numbers: the counts are exact, the cells come from
the public domain (:func:`privsynth.core.dataset.levels`), so a synthesizer's noisy
measurements are identical whichever engine counted, for the same private randomness.

:class:`FrameTable` is the in-memory backend (a pandas DataFrame, today's path);
:class:`~privsynth.data.engine_duckdb.DuckDBTable` (files, out of core) and
:class:`~privsynth.data.engine_spark.SparkTable` (clusters) run the same queries as SQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Iterator, Sequence

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, levels, validate
from privsynth.core.domain import DEFAULT_BINS, Domain
from privsynth.core.errors import DomainError

__all__ = ["Table", "FrameTable", "Attrs", "marginal_counts"]

#: A marginal: attribute positions in the domain, in the order of the table's axes.
Attrs = tuple[int, ...]


def marginal_counts(codes: np.ndarray, attrs: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    """Exact counts of ``codes[:, attrs]`` over their grid (one ``bincount``). Private: release
    only through a mechanism.

    Example:
        >>> marginal_counts(np.array([[0, 1], [1, 1], [0, 1]]), (0, 1), (2, 2))
        array([[0, 2],
               [0, 1]])
    """
    if not len(attrs):
        raise ValueError("a marginal needs at least one attribute.")
    shape = [int(sizes[a]) for a in attrs]
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in attrs), shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)


def check_sets(sets: Sequence[Sequence[int]], d: int) -> list[Attrs]:
    """Marginal attribute sets as tuples of distinct positions in ``range(d)``."""
    out = []
    for s in sets:
        attrs = tuple(int(a) for a in s)
        if not attrs or len(set(attrs)) != len(attrs) or not all(0 <= a < d for a in attrs):
            raise ValueError(f"a marginal is a non-empty set of distinct column positions below {d}, got {s!r}.")
        out.append(attrs)
    return out


class Table(ABC):
    """Private records conforming to a public domain, read only through this interface.

    Subclasses answer three questions: the exact record count (``len``), exact counts over
    the domain's cells (:meth:`marginals`, many per pass) and, for the code that needs records
    themselves (DP-SGD, evaluation), the validated records (:meth:`to_frame`). :meth:`check`
    validates the records against the domain in the engine: an out-of-domain value raises a
    :class:`DomainError` naming the column, never a count.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(100, random_state=0)
        >>> table = FrameTable(df, domain)
        >>> len(table), int(table.marginal((1,)).sum())
        (100, 100)
    """

    #: The engine's name, as ``--engine`` spells it.
    engine: ClassVar[str] = ""
    domain: Domain

    @abstractmethod
    def __len__(self) -> int:
        """The exact number of records (private)."""

    @abstractmethod
    def check(self, *, bins: int = DEFAULT_BINS) -> None:
        """Validate every record against the domain (and prepare counting on ``bins``).

        Raises:
            DomainError: a record breaks the domain; the message names the column and what is
                wrong, never how many records.
        """

    @abstractmethod
    def marginals(self, sets: Sequence[Sequence[int]], *, bins: int = DEFAULT_BINS) -> list[np.ndarray]:
        """Exact counts for each attribute set, shaped by the domain's levels (missing values
        in a nullable column's last cell). Private: release only through a mechanism."""

    def marginal(self, attrs: Sequence[int], *, bins: int = DEFAULT_BINS) -> np.ndarray:
        """Exact counts of one attribute set (see :meth:`marginals`)."""
        return self.marginals([attrs], bins=bins)[0]

    def sizes(self, *, bins: int = DEFAULT_BINS) -> tuple[int, ...]:
        """Cells per column (public: from the domain)."""
        return levels(self.domain, bins=bins)

    @abstractmethod
    def head(self, n: int) -> pd.DataFrame:
        """The first ``n`` records as stored (for the data owner's identifier check and a
        profile's draft; never released)."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """Every record, validated, in memory (for code that needs the records themselves)."""

    @abstractmethod
    def sample_frame(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """A uniform random sample of ``min(n, len)`` records, validated, in memory (for
        evaluations that read the real records; ``seed`` is public: the sample is never released)."""

    @abstractmethod
    def batches(self, rows: int = 100_000) -> Iterator[pd.DataFrame]:
        """Every record once, validated, about ``rows`` at a time (in the engine's order, which
        need not be the source's): memory bounded by the batch."""

    @abstractmethod
    def reopened(self, domain: Domain, *, clip: bool = False) -> "Table":
        """The same records under another domain (one refined from this table's, say), read by
        the same engine with the same options; the source is not opened again where the engine
        keeps it. Validate it with :meth:`check` before counting."""


class FrameTable(Table):
    """Records in memory: a pandas DataFrame validated against the domain (the default for
    DataFrames). Counting encodes the records once per binning and counts with ``bincount``.

    Args:
        data: The records.
        domain: The public domain.
        clip: Clip numbers to the public bounds instead of refusing them.
    """

    engine = "pandas"

    def __init__(self, data: pd.DataFrame, domain: Domain, *, clip: bool = False) -> None:
        self.domain = domain
        self._frame = validate(data, domain, clip=clip)
        self._codes: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._frame)

    def check(self, *, bins: int = DEFAULT_BINS) -> None:
        self.codes(bins=bins)  # validation happened on construction; encoding is the preparation

    def codes(self, *, bins: int = DEFAULT_BINS) -> np.ndarray:
        """The records' integer codes on the public cells (cached per binning). Private."""
        if bins not in self._codes:
            self._codes[bins] = encode(self._frame, self.domain, bins=bins)
        return self._codes[bins]

    def marginals(self, sets: Sequence[Sequence[int]], *, bins: int = DEFAULT_BINS) -> list[np.ndarray]:
        codes, sizes = self.codes(bins=bins), self.sizes(bins=bins)
        return [marginal_counts(codes, attrs, sizes) for attrs in check_sets(sets, len(self.domain))]

    def head(self, n: int) -> pd.DataFrame:
        return self._frame.iloc[: max(int(n), 0)]

    def to_frame(self) -> pd.DataFrame:
        return self._frame

    def sample_frame(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        if n >= len(self._frame):
            return self._frame
        return self._frame.sample(n=int(n), random_state=np.random.default_rng(seed)).reset_index(drop=True)

    def batches(self, rows: int = 100_000) -> Iterator[pd.DataFrame]:
        for start in range(0, len(self._frame), max(int(rows), 1)):
            yield self._frame.iloc[start:start + rows]

    def reopened(self, domain: Domain, *, clip: bool = False) -> "FrameTable":
        return FrameTable(self._frame, domain, clip=clip)


def same_domain(table: Table, domain: Domain) -> None:
    """Refuse a table prepared for another domain."""
    if table.domain.fingerprint() != domain.fingerprint():
        raise DomainError("The table was opened with another domain than the one given to fit; open it with this domain "
                          "(privsynth.data.open_table(source, domain)) or pass the source itself.")
