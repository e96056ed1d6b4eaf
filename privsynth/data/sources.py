"""Which engine reads a source: :func:`open_table`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError
from privsynth.data.files import is_parquet, read_table
from privsynth.data.table import FrameTable, Table, same_domain

__all__ = ["open_table", "ENGINES"]

#: The engines a source can be read with (``engine=``, ``privsynth fit --engine``).
ENGINES = ("auto", "pandas", "duckdb", "spark")


def _is_spark(obj: Any) -> bool:
    from privsynth.data.engine_spark import is_spark_frame

    return is_spark_frame(obj)


def open_table(source: Any, domain: Domain, *, engine: str = "auto", clip: bool = False, **options: Any) -> Table:
    """The records of ``source`` as a :class:`Table` under ``domain``.

    ``engine="auto"`` reads a DataFrame in memory (pandas), a Spark DataFrame or a
    ``spark:<table>`` name with Spark, a Parquet file or folder and a
    ``duckdb:///file.db?table=t`` URI with DuckDB (out of core), and a CSV file in memory
    (``engine="duckdb"`` reads a CSV larger than memory). ``engine="spark"`` reads a file path
    with the active SparkSession.

    Args:
        source: A pandas DataFrame, a path, a ``duckdb://`` or ``spark:`` URI, a Spark DataFrame,
            or a :class:`Table` (returned as it is).
        domain: The public domain.
        engine: One of :data:`ENGINES`.
        clip: Count numbers beyond the public bounds in the end cells instead of refusing them.
        **options: For files: ``na_values``, ``sep``, ``encoding``; for DuckDB also ``threads``,
            ``memory_limit`` and ``progress``; for Spark ``spark`` (a SparkSession).

    Raises:
        FileNotFoundError: no such file.
        DomainError: the source lacks a declared column (values are checked by ``Table.check``).
        ValueError: an unknown engine, or one that cannot read this source.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(10, random_state=0)
        >>> open_table(df, domain).engine
        'pandas'
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}.")
    if not isinstance(domain, Domain):
        raise DomainError(f"Expected a privsynth.Domain, got {type(domain).__name__}; load one with Domain.from_file.")
    if isinstance(source, Table):
        same_domain(source, domain)
        return source
    if isinstance(source, pd.DataFrame):
        if engine not in ("auto", "pandas"):
            raise ValueError(f"A pandas DataFrame is read in memory; engine={engine!r} reads files and Spark sources.")
        return FrameTable(source, domain, clip=clip)
    if _is_spark(source) or (isinstance(source, str) and source.startswith("spark:")):
        from privsynth.data.engine_spark import SparkTable

        name = source[len("spark:"):].lstrip("/") if isinstance(source, str) else source
        return SparkTable(name, domain, clip=clip, spark=options.get("spark"))
    if not isinstance(source, (str, os.PathLike)):
        raise DomainError(f"Expected a DataFrame, a file path, a duckdb:// URI or a Spark DataFrame as data, got "
                          f"{type(source).__name__}.")
    text = str(source)
    if engine == "spark":
        return _spark_file(text, domain, clip=clip, **options)
    csv = not (text.startswith("duckdb://") or is_parquet(text) or Path(text).is_dir() or any(ch in text for ch in "*?["))
    if engine == "pandas" or (engine == "auto" and csv):
        if text.startswith("duckdb://") or Path(text).is_dir():
            raise ValueError(f"engine='pandas' reads one CSV or Parquet file; use engine='duckdb' for {text!r}.")
        keep = {k: v for k, v in options.items() if k in ("na_values", "sep", "encoding") and v is not None}
        return FrameTable(read_table(text, domain, clip=clip, **keep), domain)
    from privsynth.data.engine_duckdb import DuckDBTable

    keep = {k: v for k, v in options.items()
            if k in ("na_values", "sep", "encoding", "threads", "memory_limit", "progress") and v is not None}
    return DuckDBTable(text, domain, clip=clip, **keep)


def _spark_file(path: str, domain: Domain, *, clip: bool, **options: Any) -> Table:
    from pyspark.sql import SparkSession

    from privsynth.data.engine_spark import SparkTable

    spark = options.get("spark") or SparkSession.getActiveSession()
    if spark is None:
        raise ValueError("engine='spark' reads with the active SparkSession; start one first (SparkSession.builder...getOrCreate()).")
    if is_parquet(path) or Path(path).is_dir():
        frame = spark.read.parquet(path)
    else:
        frame = spark.read.csv(path, header=True, sep=options.get("sep") or ",", encoding=options.get("encoding") or "utf-8")
    return SparkTable(frame, domain, clip=clip)
