"""The exact per-column statistics a DP domain estimation releases noisy versions of, in memory
or in DuckDB.

For each column: how many present cells are text, whole numbers and fractional numbers (as a
CSV writes them: a leading zero such as ``042`` makes a code, hence text), a histogram of its
numbers on fixed public edges, and the count of each distinct (stripped) text value, streamed in
sorted chunks so a column with as many values as records never sits in memory. Each record
counts once in each statistic (sensitivity 1): :mod:`privsynth.profiling.dp_domain` adds the
noise. Everything here is private.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Iterator

import numpy as np
import pandas as pd

__all__ = ["ColumnStats", "FrameStats", "DuckDBStats", "column_stats", "TEXT", "WHOLE", "FRACTION"]

#: A number as a CSV cell writes it; a leading zero (``042``, a code) makes it text.
NUMBER = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
LEADING_ZERO = r"[-+]?0\d"
TEXT, WHOLE, FRACTION = 0, 1, 2
_NUMBER, _LEADING_ZERO = re.compile(f"^{NUMBER}$"), re.compile(f"^{LEADING_ZERO}")


class ColumnStats(ABC):
    """Exact statistics of each column of a private table (see the module docstring)."""

    columns: list[str]

    @abstractmethod
    def schema_kinds(self) -> dict[str, str]:
        """The kinds a *declared* schema gives the columns (Parquet, a database); empty for a CSV."""

    @abstractmethod
    def classes(self, name: str) -> np.ndarray:
        """Counts of present text, whole-number and fractional-number cells."""

    @abstractmethod
    def histogram(self, name: str, edges: np.ndarray) -> np.ndarray:
        """Counts of the column's numbers in ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""

    @abstractmethod
    def value_counts(self, name: str, *, chunk: int = 100_000) -> Iterator[tuple[list[str], np.ndarray]]:
        """``(values, counts)`` of the present cells' text forms, in chunks."""


def _cells(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each present cell's class and its value as a number (NaN for text), as a CSV would give them."""
    present = series.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        values = present.to_numpy(dtype=float)
    else:
        text = present.astype(str).str.strip()
        numeric = text.str.match(_NUMBER) & ~text.str.match(_LEADING_ZERO)
        values = pd.to_numeric(text.where(numeric), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    classes = np.where(~finite, TEXT, np.where(np.mod(np.where(finite, values, 0.0), 1.0) == 0, WHOLE, FRACTION))
    return classes, values


class FrameStats(ColumnStats):
    """Statistics of a DataFrame in memory.

    Example:
        >>> FrameStats(pd.DataFrame({"x": ["1", "2.5", "042", None]})).classes("x").tolist()
        [1, 1, 1]
    """

    def __init__(self, df: pd.DataFrame, *, schema: bool = False) -> None:
        self._df, self._schema = df, schema
        self.columns = [str(c) for c in df.columns]

    def schema_kinds(self) -> dict[str, str]:
        if not self._schema:
            return {}
        out = {}
        for c in self._df.columns:
            s = self._df[c]
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            out[str(c)] = ("integer" if pd.api.types.is_integer_dtype(s) else "float") if numeric else "categorical"
        return out

    def classes(self, name: str) -> np.ndarray:
        return np.bincount(_cells(self._df[name])[0], minlength=3)

    def histogram(self, name: str, edges: np.ndarray) -> np.ndarray:
        values = _cells(self._df[name])[1]
        values = values[np.isfinite(values)]
        return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)

    def value_counts(self, name: str, *, chunk: int = 100_000) -> Iterator[tuple[list[str], np.ndarray]]:
        present = self._df[name].dropna()
        numeric = pd.api.types.is_numeric_dtype(present)
        counts = (present.astype(str) if numeric else present.astype(str).str.strip()).value_counts(sort=False)
        yield [str(k) for k in counts.index], counts.to_numpy()


class DuckDBStats(ColumnStats):
    """Statistics computed by DuckDB on a file or database table, out of core.

    Args:
        source: A :class:`~privsynth.data.engine_duckdb.DuckDBSource`.
    """

    def __init__(self, source: Any) -> None:
        self._db = source
        self._kinds = source.kinds()
        self.columns = list(self._kinds)

    def _q(self, name: str) -> str:
        return str(self._db.dialect.ident(name))

    def _number_expr(self, name: str) -> tuple[str, str]:
        """(SQL of the cell's value as a double or NULL for text, SQL of 'present')."""
        col = self._q(name)
        if self._kinds[name] == "number":
            return f"CAST({col} AS DOUBLE)", f"{col} IS NOT NULL"
        text = f"trim(CAST({col} AS VARCHAR))"
        number = f"(regexp_full_match({text}, '{NUMBER}') AND NOT regexp_matches({text}, '^{LEADING_ZERO}'))"
        return f"CASE WHEN {number} THEN TRY_CAST({text} AS DOUBLE) END", f"{col} IS NOT NULL"

    def schema_kinds(self) -> dict[str, str]:
        if self._db.text:  # a CSV: nothing is declared
            return {}
        integer = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")
        return {n: "categorical" if k != "number" else ("integer" if self._db.types()[n].upper() in integer else "float")
                for n, k in self._kinds.items()}

    def classes(self, name: str) -> np.ndarray:
        value, present = self._number_expr(name)
        finite = f"({value} IS NOT NULL AND isfinite({value}))"
        sql = (f"SELECT COUNT(*) FILTER (WHERE NOT {finite}) AS t, COUNT(*) FILTER (WHERE {finite} AND {value} = floor({value})) AS w, "
               f"COUNT(*) FILTER (WHERE {finite} AND {value} <> floor({value})) AS f FROM {self._db.from_} WHERE {present}")
        got = self._db.run(sql)
        return np.array([int(np.asarray(got[k])[0]) for k in ("t", "w", "f")], dtype=np.int64)

    def histogram(self, name: str, edges: np.ndarray) -> np.ndarray:
        from privsynth.data.sql import _bin_tree

        value, present = self._number_expr(name)
        padded = np.concatenate([[-np.inf], edges, [np.inf]])  # cells 0..len(edges): how many edges are <= the value
        cell = _bin_tree(value, padded, 0, len(edges), self._db.dialect)
        sql = (f"SELECT {cell} AS b, COUNT(*) AS n FROM {self._db.from_} WHERE {present} AND {value} IS NOT NULL "
               f"AND isfinite({value}) GROUP BY b")
        got = self._db.run(sql)
        out = np.zeros(len(edges) + 1, dtype=np.int64)
        np.add.at(out, np.asarray(got["b"], dtype=np.int64), np.asarray(got["n"], dtype=np.int64))
        return out

    def value_counts(self, name: str, *, chunk: int = 100_000) -> Iterator[tuple[list[str], np.ndarray]]:
        col = self._q(name)
        text = f"CAST({col} AS VARCHAR)" if self._kinds[name] == "number" else f"trim(CAST({col} AS VARCHAR))"
        sql = f"SELECT {text} AS k, COUNT(*) AS n FROM {self._db.from_} WHERE {col} IS NOT NULL GROUP BY k ORDER BY k"
        for batch in self._db.stream(sql, chunk):
            yield [str(k) for k in batch.column("k").to_pylist()], np.asarray(batch.column("n").to_numpy(), dtype=np.int64)


def column_stats(source: object, **options: object) -> ColumnStats:
    """Statistics of a DataFrame (in memory) or of a Parquet/CSV file or ``duckdb://`` table (DuckDB).

    Options for files: ``na_values``, ``sep``, ``encoding``, ``memory_limit``.
    """
    if isinstance(source, pd.DataFrame):
        return FrameStats(source, schema=bool(options.get("schema", False)))
    from privsynth.data.engine_duckdb import DuckDBSource

    keep = {k: v for k, v in options.items() if k in ("na_values", "sep", "encoding", "memory_limit") and v is not None}
    return DuckDBStats(DuckDBSource(str(source), **keep))  # type: ignore[arg-type]
