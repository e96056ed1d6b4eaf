"""The benchmark tables of the field, by name: ``ps.datasets.load("shoppers")``.

Six tables of SynMeter's benchmark (Du & Li, CCS 2025: shoppers, magic, phishing, bean, obesity,
abalone) are read from the shared data folder (``$PRIVSYNTH_DATA`` or ``../shared/data``, its
``benchmark/NAME/``) with their published train/val/test split; Adult ships with privsynth; the
census table is generated. Each comes with its declared public domain, its prediction target and
task.

The benchmark tables' domains are built from the metadata published with the benchmark
(``NAME.json``: per column its ``min``/``max`` or its category list): its authors read those
bounds off the full table, as the literature does, so the domain records that as its ``source``
and every certificate of a fit on it says so. A column whose published bounds are both whole
numbers is an integer column.

Example:
    >>> table = load("census")
    >>> table.task, table.target, len(table.train), len(table.test)
    ('binary_classification', 'sex', 4000, 1000)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from privsynth.core.domain import Categorical, Column, Domain, Numeric
from privsynth.core.errors import DomainError

__all__ = ["BenchmarkTable", "load", "TABLES", "SHARED_TABLES", "benchmark_domain", "shared_tables_available"]

#: The SynMeter tables in the shared data folder.
SHARED_TABLES = ("shoppers", "magic", "phishing", "bean", "obesity", "abalone")
#: Every name :func:`load` knows.
TABLES = ("adult", "census", *SHARED_TABLES)
_TASKS = ("binary_classification", "multiclass_classification", "regression")


@dataclass(frozen=True)
class BenchmarkTable:
    """A benchmark table: its splits, declared domain, target and task.

    Attributes:
        name: The table's name.
        domain: The declared public domain (``source`` says where it comes from).
        train, val, test: The splits (fit on ``train``, tune on ``val``, score utility on
            ``test``); ``val`` is empty where the benchmark publishes none.
        target: The column to predict (``label`` in the SynMeter files).
        task: ``binary_classification``, ``multiclass_classification`` or ``regression``.
        source: Where the rows and the split come from.
    """

    name: str
    domain: Domain
    train: pd.DataFrame = field(repr=False)
    val: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    target: str
    task: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """What the table is, without its rows."""
        return {"name": self.name, "target": self.target, "task": self.task, "source": self.source,
                "rows": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
                "columns": list(self.domain.names), "domain_source": self.domain.source}


def benchmark_domain(meta: Mapping[str, Any], *, name: str) -> Domain:
    """The declared domain of a SynMeter table from its published metadata (``NAME.json``).

    Example:
        >>> meta = {"columns": [{"name": "n", "type": "continuous", "min": 0, "max": 27},
        ...                     {"name": "label", "type": "categorical", "i2s": ["False", "True"]}]}
        >>> d = benchmark_domain(meta, name="demo")
        >>> d["n"].integer, d["label"].categories
        (True, ('False', 'True'))
    """
    columns: list[Column] = []
    try:
        for entry in meta["columns"]:
            col_name = str(entry["name"])
            if entry["type"] == "categorical":
                columns.append(Categorical(col_name, tuple(str(c) for c in entry["i2s"])))
            elif entry["type"] == "continuous":
                lo, hi = entry["min"], entry["max"]
                integer = isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool)
                columns.append(Numeric(col_name, lo, hi if hi > lo else lo + 1, integer=integer))
            else:
                raise DomainError(f"column {col_name!r}: unknown type {entry['type']!r}")
    except (KeyError, TypeError) as exc:
        raise DomainError(f"The metadata of benchmark table {name!r} is malformed (missing {exc}).") from None
    source = (f"the metadata published with SynMeter's benchmark table {name!r} (Du & Li, CCS 2025): bounds and categories "
              "read off the full table by the benchmark's authors, used as its declared domain as the literature does")
    return Domain(tuple(columns), source=source)


def _shared(name: str, data_dir: str | os.PathLike | None) -> BenchmarkTable:
    from privsynth.datasets.loaders import data_dir as shared_dir
    from privsynth.datasets.loaders import read_table

    folder = shared_dir(data_dir) / "benchmark" / name
    if not (folder / f"{name}.json").is_file():
        raise FileNotFoundError(f"Benchmark table {name!r} not found in {str(folder)!r}; set PRIVSYNTH_DATA to the folder "
                                "holding benchmark/ (the shared data).")
    meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    domain = benchmark_domain(meta, name=name)
    splits = {part: read_table(folder / f"{part}.csv", domain) for part in ("train", "val", "test")}
    task = str(meta.get("task"))
    if task not in _TASKS:
        raise DomainError(f"Benchmark table {name!r}: unknown task {task!r} (expected one of {list(_TASKS)}).")
    return BenchmarkTable(name=name, domain=domain, target="label", task=task,
                          source=f"SynMeter benchmark table {name!r} with its published train/val/test split "
                                 f"(UCI ML Repository, CC BY 4.0), read from {str(folder)!r}", **splits)


def _adult() -> BenchmarkTable:
    from privsynth.datasets.loaders import load_adult

    df, domain = load_adult()
    empty = df.iloc[:0]
    return BenchmarkTable(name="adult", domain=domain, train=df, val=empty, test=empty, target="earning-class",
                          task="binary_classification",
                          source="UCI Adult training file (shipped with privsynth); UCI's adult.test is not shipped, so val "
                                 "and test are empty: score utility with a split of your own")


def _census() -> BenchmarkTable:
    from privsynth.datasets.census import make_census

    train, domain = make_census(4000, random_state=0)
    val, _ = make_census(1000, random_state=1)
    test, _ = make_census(1000, random_state=2)
    return BenchmarkTable(name="census", domain=domain, train=train, val=val, test=test, target="sex",
                          task="binary_classification", source="privsynth's generated census data (seeds 0, 1, 2)")


def load(name: str, *, data_dir: str | os.PathLike | None = None) -> BenchmarkTable:
    """A benchmark table by name (see :data:`TABLES`).

    Args:
        name: ``adult``, ``census``, or one of the shared tables (:data:`SHARED_TABLES`).
        data_dir: The shared data folder (default ``$PRIVSYNTH_DATA``, else ``../shared/data``).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        FileNotFoundError: a shared table whose files are not there (the message says where it looked).
    """
    if name == "adult":
        return _adult()
    if name == "census":
        return _census()
    if name in SHARED_TABLES:
        return _shared(name, data_dir)
    raise ValueError(f"Unknown benchmark table {name!r}; choose from {list(TABLES)}.")


def shared_tables_available(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the shared benchmark tables can be read here."""
    from privsynth.datasets.loaders import data_dir as shared_dir

    try:
        return (shared_dir(data_dir) / "benchmark" / SHARED_TABLES[0] / f"{SHARED_TABLES[0]}.json").is_file()
    except FileNotFoundError:
        return False

