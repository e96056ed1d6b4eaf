"""The SQL that counts records in an engine: the domain's cells as expressions, validation as
codes, and many marginals per pass.

One pass over the source builds the *cube*: every distinct combination of cell codes with its
number of records (``GROUP BY`` all code columns). Each code expression gives a value its cell
on the public domain exactly as :func:`privsynth.core.dataset.encode` does (the same bin edges,
compared as doubles, so a value on an edge falls in the same cell) -- or a negative code naming
what is wrong with it (missing, outside the categories or bounds, not a number, not a whole
number). Validation then reads the cube, never the source again, and says which column is wrong
and how, never how many records. Marginals are ``GROUPING SETS`` over the cube: many per pass.

:class:`SQLTable` holds everything the engines share; :mod:`privsynth.data.engine_duckdb` and
:mod:`privsynth.data.engine_spark` add how to run a query and read a schema.
"""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from privsynth.core.categories import category_cells
from privsynth.core.dataset import problem
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.data.table import Table, check_sets

__all__ = ["Dialect", "DUCKDB", "SPARK", "SQLTable", "code_expression", "PROBLEM_CODES", "MARGINALS_PER_QUERY"]

#: Negative cell codes: what is wrong with a value (checked in this order, as ``validate`` does).
PROBLEM_CODES = {-4: "not_numbers", -1: "missing", -2: "categories", -5: "bounds", -3: "integer"}
#: Grouping sets in one query.
MARGINALS_PER_QUERY = 64
#: Source column kinds an engine's schema maps to: ``text`` is untyped text to be read by the domain
#: (a CSV), ``string`` a column its source types as text (refused where numbers are declared).
SOURCE_KINDS = ("text", "string", "number", "bool", "other")


@dataclass(frozen=True)
class Dialect:
    """How an engine spells identifiers, text, numbers and arrays."""

    name: str
    quote: str
    text_type: str
    array: str  # a format string with one {} for the items

    def ident(self, name: str) -> str:
        return f"{self.quote}{name.replace(self.quote, self.quote * 2)}{self.quote}"

    def text(self, value: str) -> str:
        if self.name == "spark":  # Spark SQL escapes with backslashes
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"

    @staticmethod
    def number(value: float) -> str:
        """A double parsed from its shortest exact text (correctly rounded in both engines)."""
        value = float(value)
        if not math.isfinite(value):
            raise DomainError(f"A domain bound or edge is not finite ({value}).")
        return f"CAST('{value!r}' AS DOUBLE)"


DUCKDB = Dialect("duckdb", '"', "VARCHAR", "[{}]")
SPARK = Dialect("spark", "`", "STRING", "array({})")


def _bin_tree(value: str, edges: np.ndarray, lo: int, hi: int, sql: Dialect) -> str:
    """The cell of ``value`` among cells ``lo..hi`` (a balanced tree of comparisons with the
    interior edges: cell = how many interior edges are <= value, as ``cell_of`` computes)."""
    if lo == hi:
        return str(lo)
    mid = (lo + hi + 1) // 2
    return (f"CASE WHEN {value} < {sql.number(edges[mid])} THEN {_bin_tree(value, edges, lo, mid - 1, sql)} "
            f"ELSE {_bin_tree(value, edges, mid, hi, sql)} END")


def _categorical(col: Categorical, kind: str, sql: Dialect) -> str:
    name = sql.ident(col.name)
    numeric = kind == "number" and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in col.categories)
    if numeric:
        value, items = f"CAST({name} AS DOUBLE)", [sql.number(c) for c in col.categories]
        missing = f"{name} IS NULL OR isnan(CAST({name} AS DOUBLE))"
    else:
        texts = [str(c) for c in col.categories]
        if len(set(texts)) != len(texts):
            raise DomainError(f"Column {col.name!r}: two declared categories have the same text form; they cannot be told "
                              "apart in this source.")
        value = (f"CASE WHEN {name} THEN 'True' ELSE 'False' END" if kind == "bool"
                 else f"CAST({name} AS {sql.text_type})")
        items, missing = [sql.text(t) for t in texts], f"{name} IS NULL"
    cells = category_cells(col.categories, col.merged)
    position = f"COALESCE(array_position({sql.array.format(', '.join(items))}, {value}), 0)"
    absent = int(cells[col.categories.index(col.other)]) if col.other is not None else -2
    cell = f"{position} - 1"
    if col.merged:  # a category's index to its cell
        cell = f"CASE {position} {' '.join(f'WHEN {i + 1} THEN {c}' for i, c in enumerate(cells) if c != i)} ELSE {position} - 1 END"
    return (f"CASE WHEN {missing} THEN {col.cells if col.nullable else -1} "
            f"WHEN {position} > 0 THEN {cell} ELSE {absent} END")


def _numeric(col: Numeric, kind: str, bins: int, clip: bool, sql: Dialect) -> str:
    name = sql.ident(col.name)
    if kind not in ("number", "text"):
        raise problem("not_numbers", col)
    value = f"CAST({name} AS DOUBLE)" if kind == "number" else f"try_cast({name} AS DOUBLE)"
    edges = col.edges(bins)
    cells = len(edges) - 1
    lower, upper = sql.number(col.lower), sql.number(col.upper)
    whens = []
    if kind == "text":
        whens.append(f"WHEN {name} IS NOT NULL AND {value} IS NULL THEN -4")
    whens.append(f"WHEN {value} IS NULL OR isnan({value}) THEN {cells if col.nullable else -1}")
    kept = value
    if clip:
        kept = f"LEAST(GREATEST({value}, {lower}), {upper})"
    else:
        whens.append(f"WHEN {value} < {lower} OR {value} > {upper} THEN -5")
    if col.integer:
        whens.append(f"WHEN {kept} <> floor({kept}) THEN -3")
    return f"CASE {' '.join(whens)} ELSE {_bin_tree(value, edges, 0, cells - 1, sql)} END"


def code_expression(col: Any, kind: str, *, bins: int = DEFAULT_BINS, clip: bool = False, sql: Dialect = DUCKDB) -> str:
    """The SQL expression of a column's cell code (negative: see :data:`PROBLEM_CODES`).

    Args:
        col: The domain's column.
        kind: The source column's kind (one of :data:`SOURCE_KINDS`).
        bins: Default bins of numeric columns that declare none.
        clip: Numbers beyond the bounds count in the end cells instead of being refused.
        sql: The engine's dialect.

    Example:
        >>> from privsynth.core.domain import Numeric
        >>> code_expression(Numeric("x", 0, 2, bins=2), "number")  # doctest: +ELLIPSIS
        'CASE WHEN CAST("x" AS DOUBLE) IS NULL ... ELSE CASE WHEN CAST("x" AS DOUBLE) < CAST(\\'1.0\\' AS DOUBLE) THEN 0 ELSE 1 END END'
    """
    if isinstance(col, Categorical):
        return _categorical(col, kind, sql)
    return _numeric(col, kind, bins, clip, sql)


class SQLTable(Table):
    """Records in a SQL engine, counted through the cube (see the module docstring).

    Subclasses give the dialect, the source's schema, and how to run a query and keep a result.
    """

    dialect: Dialect = DUCKDB

    def __init__(self, domain: Domain, *, clip: bool = False) -> None:
        self.domain = domain
        self.clip = clip or domain.provenance == "dp"  # a DP domain's bounds are estimates: values beyond them are clipped
        self._cubes: dict[int, str] = {}
        self._count: int | None = None

    def reopened(self, domain: Domain, *, clip: bool = False) -> "SQLTable":
        """The same source under ``domain``: the engine's connection (or Spark view) is shared, the
        cubes are built anew for the new domain's cells."""
        table = copy.copy(self)
        SQLTable.__init__(table, domain, clip=clip)
        return table

    # -- what an engine provides -----------------------------------------------------------------
    @abstractmethod
    def _schema(self) -> Mapping[str, str]:
        """Source column name -> kind (one of ``SOURCE_KINDS``)."""

    @abstractmethod
    def _source(self) -> str:
        """The FROM clause of the source records."""

    @abstractmethod
    def _run(self, query: str) -> dict[str, np.ndarray]:
        """Run a query; its columns as arrays (SQL NULL as a masked or NaN entry)."""

    @abstractmethod
    def _keep(self, name: str, query: str) -> str:
        """Materialize a query's result under a fresh name and return how to select from it."""

    # -- counting ---------------------------------------------------------------------------------
    def _kinds(self) -> dict[str, str]:
        schema = dict(self._schema())
        missing = [n for n in self.domain.names if n not in schema]
        if missing:
            raise DomainError(f"Columns {missing} are declared in the domain but missing from the data; rename the data's "
                              "columns, or remove those columns from the domain file.")
        return {n: schema[n] for n in self.domain.names}

    def cube(self, *, bins: int = DEFAULT_BINS) -> str:
        """The cube's name for ``bins`` (built and validated on first use)."""
        if bins not in self._cubes:
            kinds = self._kinds()
            codes = ", ".join(f"{code_expression(col, kinds[col.name], bins=bins, clip=self.clip, sql=self.dialect)} AS c{j}"
                              for j, col in enumerate(self.domain))
            keys = ", ".join(f"c{j}" for j in range(len(self.domain)))
            query = f"SELECT {keys}, COUNT(*) AS n FROM (SELECT {codes} FROM {self._source()}) AS coded GROUP BY {keys}"
            name = self._keep(f"privsynth_cube_{bins}", query)
            self._validate(name)
            self._cubes[bins] = name
        return self._cubes[bins]

    def _validate(self, cube: str) -> None:
        flags = [(j, code) for j in range(len(self.domain)) for code in PROBLEM_CODES]
        parts = ", ".join(f"MAX(CASE WHEN c{j} = {code} THEN 1 ELSE 0 END) AS f{i}" for i, (j, code) in enumerate(flags))
        got = self._run(f"SELECT {parts} FROM {cube}")
        for j, col in enumerate(self.domain):
            for i, (jj, code) in enumerate(flags):
                if jj == j and _scalar(got[f"f{i}"]) == 1:
                    raise problem(PROBLEM_CODES[code], col)

    def check(self, *, bins: int = DEFAULT_BINS) -> None:
        self.cube(bins=bins)

    def __len__(self) -> int:
        if self._count is None:
            cube = self.cube(bins=next(iter(self._cubes), DEFAULT_BINS))
            self._count = int(_scalar(self._run(f"SELECT COALESCE(SUM(n), 0) AS n FROM {cube}")["n"]))
        return self._count

    def marginals(self, sets: Sequence[Sequence[int]], *, bins: int = DEFAULT_BINS) -> list[np.ndarray]:
        wanted = check_sets(sets, len(self.domain))
        sizes = self.sizes(bins=bins)
        unique = list(dict.fromkeys(wanted))
        found: dict[tuple[int, ...], np.ndarray] = {}
        for start in range(0, len(unique), MARGINALS_PER_QUERY):
            found.update(self._grouping_sets(unique[start:start + MARGINALS_PER_QUERY], sizes, bins))
        return [found[s].copy() for s in wanted]

    def _grouping_sets(self, sets: list[tuple[int, ...]], sizes: Sequence[int], bins: int) -> dict[tuple[int, ...], np.ndarray]:
        cube = self.cube(bins=bins)
        used = sorted({a for s in sets for a in s})
        groups = ", ".join("(" + ", ".join(f"c{a}" for a in s) + ")" for s in sets)
        cols = ", ".join(f"c{a}" for a in used)
        got = self._run(f"SELECT {cols}, SUM(n) AS n FROM {cube} GROUP BY GROUPING SETS ({groups})")
        present = {a: ~_null_mask(got[f"c{a}"]) for a in used}
        weights = np.asarray(np.ma.filled(got["n"], 0), dtype=np.int64) if len(used) else np.zeros(0, dtype=np.int64)
        out = {}
        for s in sets:
            rows = np.ones(len(weights), dtype=bool)
            for a in used:
                rows &= present[a] if a in s else ~present[a]
            shape = tuple(int(sizes[a]) for a in s)
            index = tuple(np.asarray(np.ma.filled(got[f"c{a}"], 0), dtype=np.int64)[rows] for a in s)
            flat = np.ravel_multi_index(index, shape) if rows.any() else np.zeros(0, dtype=np.int64)
            out[s] = np.bincount(flat, weights=weights[rows], minlength=int(np.prod(shape))).astype(np.int64).reshape(shape)
        return out


def _null_mask(values: Any) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):
        return np.ma.getmaskarray(values)
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype == object:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _scalar(values: Any) -> Any:
    value = np.ma.filled(values, 0)[0] if isinstance(values, np.ma.MaskedArray) else np.asarray(values)[0]
    return value.item() if hasattr(value, "item") else value
