"""The data room: the only code that reads records.

A :class:`Table` answers what the synthesizers ask of private records -- the exact record count,
exact counts over the domain's public cells, and (for DP-SGD) the validated records -- from
pandas in memory (:class:`FrameTable`), DuckDB on files out of core (:class:`DuckDBTable`) or
Spark on a cluster (:class:`SparkTable`). :func:`open_table` picks the engine for a source.
"""

from privsynth.data.files import check_header, read_raw, read_table
from privsynth.data.sources import ENGINES, open_table
from privsynth.data.table import FrameTable, Table

__all__ = ["Table", "FrameTable", "DuckDBTable", "SparkTable", "open_table", "ENGINES", "read_table", "read_raw", "check_header"]


def __getattr__(name: str):  # the engines import their libraries only when asked for
    if name == "DuckDBTable":
        from privsynth.data.engine_duckdb import DuckDBTable

        return DuckDBTable
    if name == "SparkTable":
        from privsynth.data.engine_spark import SparkTable

        return SparkTable
    raise AttributeError(name)
