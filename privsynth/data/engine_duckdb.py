"""DuckDB: records in files (Parquet, CSV) or a DuckDB database, counted out of core.

DuckDB scans the source once to build the cube of cell codes (:mod:`privsynth.data.sql`) with a
bounded memory (``memory_limit``, spilling to a private temporary folder), on every core; each
batch of marginals is then one ``GROUPING SETS`` query over the cube. Memory is bounded by the
number of distinct coded records, never by the number of rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError
from privsynth.core.progress import progress
from privsynth.data.files import check_header, is_parquet, typed_by_domain
from privsynth.data.sql import DUCKDB, SQLTable

__all__ = ["DuckDBTable", "DuckDBSource", "DEFAULT_MEMORY_LIMIT"]

#: DuckDB's memory limit unless given (``memory_limit=`` or ``$PRIVSYNTH_DUCKDB_MEMORY``); it spills beyond it.
DEFAULT_MEMORY_LIMIT = "1GB"
_PROGRESS_AFTER = 3.0
#: Suffixes that keep each table's temporary results apart on a shared connection.
_kept = itertools.count()
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                 "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ImportError("Reading files out of core needs DuckDB: pip install 'privsynth[scale]' (or pip install duckdb).") from None
    return duckdb


def _kind(sql_type: str) -> str:
    t = sql_type.upper()
    if t.startswith(("VARCHAR", "STRING", "TEXT")):
        return "string"  # typed as text by the file: not numbers, as pandas reads it
    if t == "BOOLEAN":
        return "bool"
    return "number" if t.startswith(_NUMBER_TYPES) else "other"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBSource:
    """A DuckDB connection to one source of records: a Parquet file or folder, a CSV file, or a
    table of a DuckDB database (what :class:`DuckDBTable` and the DP domain estimation's
    statistics query).

    Args: as :class:`DuckDBTable`'s, without the domain.
    """

    dialect = DUCKDB

    def __init__(self, source: str | os.PathLike, *, na_values: Iterable[str] = (), sep: str | None = None,
                 encoding: str = "utf-8", threads: int | None = None, memory_limit: str | None = None,
                 progress: bool | None = None) -> None:
        duckdb = _duckdb()
        self._temp = tempfile.mkdtemp(prefix="privsynth-duckdb-")
        weakref.finalize(self, shutil.rmtree, self._temp, True)
        config = {"threads": int(threads or os.cpu_count() or 1),
                  "memory_limit": memory_limit or os.environ.get("PRIVSYNTH_DUCKDB_MEMORY", DEFAULT_MEMORY_LIMIT),
                  "temp_directory": self._temp, "preserve_insertion_order": False}
        self.con = duckdb.connect(":memory:", config=config)
        self.text = False  # a CSV: every column is text, typed by the domain
        self.progress = progress
        self.source = str(source)
        self.from_ = self._open(str(source), list(na_values), sep, encoding)
        self._types: dict[str, str] | None = None

    def _open(self, source: str, na_values: list[str], sep: str | None, encoding: str) -> str:
        if source.startswith("duckdb://"):
            url = urlparse(source)
            path, table = url.path, parse_qs(url.query).get("table", [None])[0]
            if not table:
                raise ValueError(f"A DuckDB source names its table: duckdb:///path/to/file.db?table=name (got {source!r}).")
            if not Path(path).is_file():
                raise FileNotFoundError(f"DuckDB database {path!r} does not exist.")
            self.con.execute(f"ATTACH {_literal(path)} AS privsynth_source (READ_ONLY)")
            return "privsynth_source." + ".".join(self.dialect.ident(p) for p in table.split("."))
        file = Path(source)
        if is_parquet(file) or file.is_dir() or any(ch in source for ch in "*?["):
            if file.is_dir():
                source = str(file / "**" / "*.parquet")
            elif not any(ch in source for ch in "*?[") and not file.is_file():
                raise FileNotFoundError(f"Data file {source!r} does not exist.")
            return f"read_parquet({_literal(source)})"
        if not file.is_file():
            raise FileNotFoundError(f"Data file {source!r} does not exist.")
        names = check_header(file, encoding=encoding, **({"sep": sep} if sep else {}))
        self.text = True
        nulls = ", ".join(_literal(v) for v in ["", *na_values])
        columns = ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names)
        # nothing sniffed from the private file: the header as pandas reads it, every cell text, a ragged row an error
        options = (f"header = true, auto_detect = false, columns = {{{columns}}}, delim = {_literal(sep or ',')}, "
                   f"quote = '\"', escape = '\"', strict_mode = true, nullstr = [{nulls}], encoding = {_literal(encoding)}")
        return f"read_csv({_literal(source)}, {options})"

    def types(self) -> dict[str, str]:
        """Column name -> DuckDB type (VARCHAR for every column of a CSV)."""
        if self._types is None:
            try:
                rows = self.con.execute(f"DESCRIBE SELECT * FROM {self.from_}").fetchall()
            except Exception as exc:  # duckdb's errors: an unreadable file, an unknown table
                raise DomainError(f"DuckDB cannot read {self.source!r}: {str(exc).splitlines()[0]}") from None
            self._types = {str(name): str(sql_type) for name, sql_type, *_ in rows}
        return self._types

    def kinds(self) -> dict[str, str]:
        """Column name -> source kind (see :data:`privsynth.data.sql.SOURCE_KINDS`)."""
        return {n: ("text" if self.text else _kind(t)) for n, t in self.types().items()}

    def run(self, query: str) -> dict[str, np.ndarray]:
        with self._readable():
            return self.con.execute(query).fetchnumpy()

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """DuckDB's read errors as a DomainError without the offending record (DuckDB quotes the
        line of a malformed CSV row; we keep where and what, never the values)."""
        duckdb = _duckdb()
        try:
            yield
        except duckdb.Error as exc:
            lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("Original Line")]
            cut = next((i for i, line in enumerate(lines) if line.startswith("Possible fixes")), len(lines))
            raise DomainError(f"DuckDB cannot read {self.source!r}: {' '.join(lines[:cut][:3])}") from None

    def sample(self, rows: int | None = None, *, seed: int = 0) -> pd.DataFrame:
        """Every record, or a uniform sample of ``rows`` of them, as stored (a CSV's cells as
        text), for a profile's draft: private, never released."""
        sample = "" if rows is None else f" USING SAMPLE reservoir({max(int(rows), 0)} ROWS) REPEATABLE ({int(seed)})"
        with self._readable():
            return self.con.execute(f"SELECT * FROM {self.from_}{sample}").df()

    def stream(self, query: str, rows: int) -> Any:
        """The result of ``query`` as Arrow record batches of about ``rows`` rows."""
        with self._readable():
            yield from self.con.cursor().sql(query).to_arrow_reader(max(int(rows), 1))

    def execute(self, statement: str) -> None:
        """Run a long statement; after a few seconds show how far DuckDB's scan is (a share of
        the work, never a count of records)."""
        if self.progress is False:
            with self._readable():
                self.con.execute(statement)
            return
        done, failure = threading.Event(), []

        def work() -> None:
            try:
                self.con.execute(statement)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        if not done.wait(_PROGRESS_AFTER):
            with progress(total=100, desc="DuckDB: counting records", unit="%", enabled=self.progress) as bar:
                while not done.wait(0.5):
                    share = self.con.query_progress()
                    if share >= 0:
                        bar.n = int(share)
                        bar.refresh()
                bar.n = 100
        thread.join()
        if failure:
            with self._readable():
                raise failure[0]

    def close(self) -> None:
        """Close the connection and remove the temporary folder."""
        self.con.close()
        shutil.rmtree(self._temp, ignore_errors=True)


class DuckDBTable(SQLTable):
    """Records read by DuckDB: a Parquet file or folder, a CSV file, or a table of a DuckDB database.

    A CSV is read as text and typed by the domain (as :func:`privsynth.datasets.read_table`
    does): nothing about a column's type is guessed from its values.

    Args:
        source: A ``.parquet``/``.pq`` file, a folder of Parquet files, a glob, a ``.csv`` file, or
            ``duckdb:///path/to/file.db?table=name``.
        domain: The public domain.
        clip: Count numbers beyond the bounds in the end cells instead of refusing them.
        na_values: CSV only: strings that mean "missing" besides the empty cell.
        sep: CSV only: the delimiter (default ``,``).
        encoding: CSV only: its text encoding.
        threads: DuckDB threads (default: every core).
        memory_limit: DuckDB's memory limit (default 1GB or ``$PRIVSYNTH_DUCKDB_MEMORY``).
        progress: Show how far a pass is when it takes more than a few seconds (``None``: a bar
            on a terminal, log lines elsewhere; ``False``: nothing).

    Example:
        >>> import privsynth as ps, tempfile, os
        >>> df, domain = ps.datasets.make_census(1000, random_state=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "census.parquet"); df.to_parquet(path)
        >>> table = DuckDBTable(path, domain)
        >>> len(table), int(table.marginal((1,)).sum())
        (1000, 1000)
    """

    engine = "duckdb"
    dialect = DUCKDB

    def __init__(self, source: str | os.PathLike, domain: Domain, *, clip: bool = False, na_values: Iterable[str] = (),
                 sep: str | None = None, encoding: str = "utf-8", threads: int | None = None,
                 memory_limit: str | None = None, progress: bool | None = None) -> None:
        super().__init__(domain, clip=clip)
        self._db = DuckDBSource(source, na_values=na_values, sep=sep, encoding=encoding, threads=threads,
                                memory_limit=memory_limit, progress=progress)
        self.source = self._db.source

    def _source(self) -> str:
        return self._db.from_

    def _schema(self) -> Mapping[str, str]:
        return self._db.kinds()

    def _run(self, query: str) -> dict[str, np.ndarray]:
        return self._db.run(query)

    def _keep(self, name: str, query: str) -> str:
        fresh = f"{name}_{next(_kept)}"  # tables reopened under another domain share the connection
        self._db.execute(f"CREATE TEMP TABLE {fresh} AS {query}")
        return fresh

    def head(self, n: int) -> pd.DataFrame:
        return self._db.con.execute(f"SELECT * FROM {self._db.from_} LIMIT {max(int(n), 0)}").df()

    def to_frame(self) -> pd.DataFrame:
        return self._validated(self._db.con.execute(self._select()).df())

    def sample_frame(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        query = f"{self._select()} USING SAMPLE reservoir({max(int(n), 0)} ROWS) REPEATABLE ({int(seed)})"
        return self._validated(self._db.con.execute(query).df())

    def batches(self, rows: int = 100_000) -> Iterator[pd.DataFrame]:
        for batch in self._db.stream(self._select(), rows):
            yield self._validated(batch.to_pandas())

    def _select(self) -> str:
        self._kinds()  # names the missing columns
        return f"SELECT {', '.join(self.dialect.ident(n) for n in self.domain.names)} FROM {self._db.from_}"

    def _validated(self, df: pd.DataFrame) -> pd.DataFrame:
        return validate(typed_by_domain(df, self.domain) if self._db.text else df, self.domain, clip=self.clip)

    def close(self) -> None:
        """Close the connection and remove the temporary folder."""
        self._db.close()
