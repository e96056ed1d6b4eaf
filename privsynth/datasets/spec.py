"""A data set for an experiment, as one value: where it comes from and the roles evaluators need.

It is what the ``dataset`` config group instantiates (``_target_: privsynth.datasets.DatasetSpec``),
and what :func:`privsynth.pipeline.run_config` builds from a plain dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from privsynth.core.domain import Domain

__all__ = ["DatasetSpec", "LOADERS"]

LOADERS = ("census", "adult", "adult_discretized", "arx_adult", "benchmark", "file")


@dataclass(frozen=True)
class DatasetSpec:
    """How to load a data set, and its roles for the evaluators.

    Args:
        name: A label for reports.
        loader: ``census`` (built-in, generated: ``rows``, ``seed``), ``adult`` (shipped with
            privsynth; ``data_dir`` to read ``adult.csv`` from a folder instead),
            ``adult_discretized``, ``arx_adult`` (shared data: ``data_dir``, default
            ``$PRIVSYNTH_DATA`` or ``../shared/data``), ``benchmark`` (a benchmark table's
            training split by ``table`` name, see :func:`privsynth.datasets.load`) or ``file``
            (your own data: ``path`` to a
            CSV/Parquet file and its public ``domain`` file; ``read`` options for
            :func:`privsynth.datasets.read_table`, e.g. ``{"na_values": ["?"], "encoding": "latin-1"}``;
            ``engine``: ``duckdb`` or ``spark`` to leave the records in that engine, for tables
            larger than memory: ``path`` is then also a folder of Parquet files, a
            ``duckdb:///file.db?table=t`` URI or ``spark:<table>``; see :func:`privsynth.data.open_table`).
        target, positive: Label column and positive class for utility (TSTR).
        quasi_identifiers, sensitive: For k-anonymity, l-diversity and t-closeness (default:
            the domain's roles).

    Example:
        >>> spec = DatasetSpec(name="census", loader="census", rows=300)
        >>> data, domain = spec.load()
        >>> len(data), spec.problems()
        (300, [])
    """

    name: str
    loader: str
    path: str | None = None
    domain: str | None = None
    data_dir: str | None = None
    rows: int = 5000
    seed: int = 0
    target: str | None = None
    positive: Any = None
    quasi_identifiers: tuple | None = None
    sensitive: str | None = None
    read: Mapping[str, Any] | None = None
    table: str | None = None
    engine: str | None = None

    def __post_init__(self) -> None:
        if self.quasi_identifiers is not None:
            object.__setattr__(self, "quasi_identifiers", tuple(self.quasi_identifiers))
        if self.read is not None:
            object.__setattr__(self, "read", dict(self.read))

    @classmethod
    def from_mapping(cls, spec: "Mapping[str, Any] | DatasetSpec") -> "DatasetSpec":
        """From a config mapping (a ``_target_`` key is ignored); unknown keys are refused."""
        if isinstance(spec, DatasetSpec):
            return spec
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(spec).items() if k != "_target_"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}; a dataset takes {sorted(known)}.")
        values.setdefault("name", str(values.get("loader")))
        return cls(**values)

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong with the spec, as ``(key, message)`` pairs (empty: it can be loaded)."""
        if self.loader not in LOADERS:
            return [("loader", f"unknown loader {self.loader!r}; use one of {', '.join(LOADERS)}.")]
        if self.engine not in (None, "pandas", "duckdb", "spark"):
            return [("engine", f"unknown engine {self.engine!r}; use duckdb, spark or pandas (in memory, the default).")]
        if self.engine not in (None, "pandas") and self.loader != "file":
            return [("engine", "an engine reads your own files (loader: file); the other loaders are in memory.")]
        if self.loader == "file":
            what = {"path": "the data file (CSV or Parquet)", "domain": "its public domain file (privsynth profile writes a draft)"}
            out = []
            for key in ("path", "domain"):
                value = getattr(self, key)
                if value in (None, "", "???"):
                    out.append((key, f"not set; give {what[key]}, e.g. dataset.{key}=..."))
                elif key == "path" and self.engine and ("://" in str(value) or str(value).startswith("spark:")
                                                       or Path(str(value)).is_dir()):
                    continue
                elif not Path(str(value)).is_file():
                    out.append((key, f"file {value!r} does not exist."))
            return out
        if self.loader == "adult" and not self.data_dir:
            return []  # the packaged copy
        if self.loader == "benchmark":
            from privsynth.datasets.benchmark import SHARED_TABLES, TABLES, shared_tables_available

            if self.table not in TABLES:
                return [("table", f"unknown benchmark table {self.table!r}; use one of {', '.join(TABLES)}.")]
            if self.table in SHARED_TABLES and not shared_tables_available(self.data_dir):
                return [("data_dir", "the shared benchmark tables are not there; set PRIVSYNTH_DATA or dataset.data_dir.")]
            return []
        if self.loader != "census":
            from privsynth.datasets.loaders import data_dir

            try:
                data_dir(self.data_dir)
            except FileNotFoundError as exc:
                return [("data_dir", str(exc))]
        return []

    def load(self) -> tuple[Any, Domain]:
        """``(data, domain)``, validated against the public domain: a DataFrame, or for a file
        with ``engine`` a :class:`privsynth.data.Table` in that engine."""
        from privsynth import datasets

        if self.loader == "census":
            return datasets.make_census(int(self.rows), random_state=int(self.seed))
        if self.loader == "adult":
            return datasets.load_adult(path=Path(self.data_dir) / "adult.csv" if self.data_dir else None)
        if self.loader == "adult_discretized":
            return datasets.load_adult_discretized(folder=self.data_dir)
        if self.loader == "arx_adult":
            return datasets.load_arx_adult(folder=self.data_dir)
        if self.loader == "benchmark":
            table = datasets.load(str(self.table), data_dir=self.data_dir)
            return table.train, table.domain
        if self.loader == "file":
            domain = Domain.from_file(str(self.domain))
            if self.engine in ("duckdb", "spark"):
                from privsynth.data import open_table

                return open_table(str(self.path), domain, engine=self.engine, **dict(self.read or {})), domain
            return datasets.read_table(str(self.path), domain, **dict(self.read or {})), domain
        raise ValueError(f"unknown loader {self.loader!r}; use one of {', '.join(LOADERS)}.")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["quasi_identifiers"] is not None:
            out["quasi_identifiers"] = list(out["quasi_identifiers"])
        return out
