"""Spark: records in a ``pyspark.sql.DataFrame`` or a catalog table, counted on the cluster.

The same SQL as DuckDB (:mod:`privsynth.data.sql`) in Spark's dialect: one job builds the cube of
cell codes (kept with ``persist``), validation and each batch of marginals are small jobs on it,
and only the counts come back to the driver.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator, Mapping, cast

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.data.files import typed_by_domain
from privsynth.data.sql import SPARK, SQLTable

__all__ = ["SparkTable", "is_spark_frame", "spark_session"]

_views = itertools.count()


def is_spark_frame(obj: Any) -> bool:
    """Whether ``obj`` is a ``pyspark.sql.DataFrame`` (without importing pyspark)."""
    return any(c.__module__.startswith("pyspark.sql") and c.__name__ == "DataFrame" for c in type(obj).__mro__)


def spark_session(master: str | None = None) -> Any:
    """The active SparkSession, or a new one (``master``; default: ``spark-submit``'s, else ``local[*]``).

    Raises:
        ImportError: pyspark is not installed.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ImportError("Spark sources need pyspark: pip install 'privsynth[spark]' (and Java 17+).") from None
    builder = SparkSession.builder.appName("privsynth")
    if master:
        builder = builder.master(master)
    elif SparkSession.getActiveSession() is None and not _submitted():
        builder = builder.master("local[*]")
    return builder.getOrCreate()


def _submitted() -> bool:
    """Whether spark-submit (or PYSPARK_SUBMIT_ARGS) chose the master."""
    import os

    return bool(os.environ.get("SPARK_ENV_LOADED") or os.environ.get("SPARK_MASTER")
                or "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", ""))


def _kind(data_type: Any) -> str:
    from pyspark.sql import types as T

    if isinstance(data_type, T.StringType):
        return "text"
    if isinstance(data_type, T.BooleanType):
        return "bool"
    return "number" if isinstance(data_type, T.NumericType) else "other"


class SparkTable(SQLTable):
    """Records in Spark: a DataFrame, or the name of a table in the session's catalog.

    Args:
        source: A ``pyspark.sql.DataFrame`` or a table name (``"db.table"``).
        domain: The public domain.
        clip: Count numbers beyond the bounds in the end cells instead of refusing them.
        spark: The SparkSession for a table name (default: the active one).

    Example (with a running SparkSession ``spark``)::

        table = SparkTable(spark.read.parquet("s3://bucket/census/"), domain)
        ps.synthesizers.MST(epsilon=1.0).fit(table, domain)
    """

    engine = "spark"
    dialect = SPARK

    def __init__(self, source: Any, domain: Domain, *, clip: bool = False, spark: Any = None) -> None:
        super().__init__(domain, clip=clip)
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ImportError("Spark sources need pyspark: pip install 'privsynth[spark]'.") from None
        if isinstance(source, str):
            session = spark or SparkSession.getActiveSession()
            if session is None:
                raise ValueError(f"No active SparkSession to read the table {source!r} from; start one or pass spark=.")
            source = session.table(source)
        if not is_spark_frame(source):
            raise TypeError(f"A Spark source is a pyspark.sql.DataFrame or a table name, got {type(source).__name__}.")
        self._df = source
        self._spark = source.sparkSession
        self._view = f"privsynth_source_{next(_views)}"
        source.createOrReplaceTempView(self._view)
        self._kept: list[Any] = []

    def _source(self) -> str:
        return self.dialect.ident(self._view)

    def _schema(self) -> Mapping[str, str]:
        return {f.name: _kind(f.dataType) for f in self._df.schema.fields}

    def _run(self, query: str) -> dict[str, np.ndarray]:
        frame = self._spark.sql(query)
        names = frame.columns
        rows = frame.collect()
        out: dict[str, np.ndarray] = {}
        for i, name in enumerate(names):
            values = [r[i] for r in rows]
            mask = np.array([v is None for v in values], dtype=bool)
            filled = np.array([0 if v is None else v for v in values])
            out[name] = np.ma.masked_array(filled, mask=mask)
        return out

    def _keep(self, name: str, query: str) -> str:
        view = f"{name}_{next(_views)}"
        frame = self._spark.sql(query).persist()
        frame.createOrReplaceTempView(view)
        self._kept.append(frame)
        return self.dialect.ident(view)

    def head(self, n: int) -> pd.DataFrame:
        return self._df.limit(max(int(n), 0)).toPandas()

    def to_frame(self) -> pd.DataFrame:
        return self._validated(self._df.select(*[self._df[n] for n in self.domain.names]).toPandas())

    def sample_frame(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        total = len(self)
        fraction = 1.0 if total <= n else min(1.0, 1.2 * n / total + 1e-9)  # Bernoulli, then the first n of it
        picked = self._df.select(*self.domain.names).sample(fraction=fraction, seed=int(seed)).limit(max(int(n), 0))
        return self._validated(picked.toPandas())

    def batches(self, rows: int = 100_000) -> Iterator[pd.DataFrame]:
        names, chunk = list(self.domain.names), []
        for row in self._df.select(*names).toLocalIterator():
            chunk.append(tuple(row))
            if len(chunk) >= rows:
                yield self._validated(pd.DataFrame(chunk, columns=names))
                chunk = []
        if chunk:
            yield self._validated(pd.DataFrame(chunk, columns=names))

    def _validated(self, df: pd.DataFrame) -> pd.DataFrame:
        kinds = self._kinds()
        text = all(kinds[n] == "text" for n in self.domain.names)
        return validate(typed_by_domain(df, self.domain) if text else df, self.domain, clip=self.clip)

    def reopened(self, domain: Domain, *, clip: bool = False) -> "SparkTable":
        table = cast("SparkTable", super().reopened(domain, clip=clip))
        table._kept = []  # its own cubes, released by its own close()
        return table

    def close(self) -> None:
        """Release the cached cubes."""
        for frame in self._kept:
            frame.unpersist()
        self._kept.clear()
