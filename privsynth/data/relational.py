"""Related tables' records: reading them with their keys, checking the keys, bounding each
person's contribution, and the joined frames the per-table models are fitted on.

This is record-level code, so it lives in the data room. Everything here is either a check of
the declared schema (keys present, unique, resolving: a database that breaks them is refused,
naming the table and column, never a count or a value) or a transformation whose randomness is
private (which of a parent's rows beyond the public bound are dropped).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, IntegrityError
from privsynth.data.files import is_parquet, read_raw, typed_by_domain

__all__ = ["read_related", "check_keys", "bound_contributions", "child_counts", "with_context"]


def read_related(source: Any, domain: Domain | None, keys: tuple[str, ...], *, table: str) -> pd.DataFrame:
    """One table of a database: a DataFrame, or a CSV/Parquet path read by its domain (the key
    columns as given: text in a CSV), validated against ``domain``.

    Raises:
        DomainError: a key column is missing, or the attributes do not conform to the domain.
    """
    if isinstance(source, pd.DataFrame):
        df = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Table {table!r}: no file at {str(path)!r}.")
        raw = read_raw(path, typed=False)  # a CSV as text (the domain types it); the same errors as every reader
        if domain is None or is_parquet(path):
            df = raw
        else:
            present = [k for k in keys if k in raw]
            df = pd.concat([raw[present], typed_by_domain(raw.drop(columns=present), domain)], axis=1)
    else:
        raise TypeError(f"Table {table!r}: give a pandas DataFrame or a CSV/Parquet path, got {type(source).__name__}.")
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise DomainError(f"Table {table!r} lacks its key columns {missing}; the schema declares them.")
    if domain is None:
        return df
    attrs = validate(df.drop(columns=list(keys)), domain)
    return pd.concat([df[list(keys)].reset_index(drop=True), attrs.reset_index(drop=True)], axis=1)


def check_keys(frame: pd.DataFrame, *, table: str, primary_key: str, parent_key: str | None = None,
               parent_keys: pd.Series | None = None) -> None:
    """Refuse a table whose primary key is missing or repeated, or whose parent key does not
    resolve (the schema is part of the public declaration; the message names no value)."""
    pk = frame[primary_key]
    if pk.isna().any() or not pk.is_unique:
        raise IntegrityError(f"Table {table!r}: primary key {primary_key!r} must be present and unique in every row.")
    if parent_key is not None and parent_keys is not None:
        fk = frame[parent_key]
        if fk.isna().any() or not fk.isin(parent_keys).all():
            raise IntegrityError(f"Table {table!r}: foreign key {parent_key!r} must resolve to a row of its parent in every row; "
                                 "drop or fix the orphan rows before fitting.")


def bound_contributions(frame: pd.DataFrame, *, parent_key: str, kept_parents: pd.Series, bound: int,
                        rng: np.random.Generator | None) -> pd.DataFrame:
    """The rows of a child table kept for fitting: those whose parent was kept, at most ``bound``
    per parent, the extra ones dropped uniformly at random by ``rng`` (private randomness;
    ``None``: 64-bit priorities straight from the OS CSPRNG, for ``secure`` fits).

    Example:
        >>> df = pd.DataFrame({"pid": [1, 1, 1, 2], "x": [0, 1, 2, 3]})
        >>> out = bound_contributions(df, parent_key="pid", kept_parents=pd.Series([1, 2]), bound=2,
        ...                           rng=np.random.default_rng(0))
        >>> out.groupby("pid").size().tolist()
        [2, 1]
    """
    rows = frame[frame[parent_key].isin(kept_parents)]
    draws = rng.random(len(rows)) if rng is not None else np.frombuffer(os.urandom(8 * len(rows)), dtype=np.uint64)
    priority = pd.Series(draws, index=rows.index)
    ordered = rows.assign(_priority=priority).sort_values([parent_key, "_priority"], kind="stable")
    rank = ordered.groupby(parent_key, sort=False).cumcount()
    return ordered[rank < bound].drop(columns="_priority").sort_index()


def child_counts(parents: pd.Series, children: pd.DataFrame, parent_key: str) -> np.ndarray:
    """How many (kept) child rows each parent key has, in the order of ``parents``."""
    sizes = children.groupby(parent_key).size()
    return sizes.reindex(parents.to_numpy(), fill_value=0).to_numpy(dtype=np.int64)


def with_context(children: pd.DataFrame, parents: pd.DataFrame, *, parent_key: str, parent_primary: str,
                 columns: Mapping[str, str]) -> pd.DataFrame:
    """``children`` with the parent's columns (``{parent column: name in the child's model}``)
    joined on the foreign key, in the children's row order."""
    context = parents[[parent_primary, *columns]].rename(columns={parent_primary: parent_key, **columns})
    out = children.merge(context, on=parent_key, how="left", validate="many_to_one", sort=False)
    out.index = children.index
    return out


def frames_by_name(sources: Mapping[str, Any] | str | os.PathLike, names: tuple[str, ...],
                   reader: Callable[[str, Any], pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables ``names`` from a mapping ``{name: DataFrame or path}`` or a folder of
    ``name.csv`` / ``name.parquet`` files."""
    if isinstance(sources, (str, os.PathLike)):
        folder = Path(sources)
        if not folder.is_dir():
            raise FileNotFoundError(f"No folder at {str(folder)!r}; give a folder of <table>.csv/.parquet files or a mapping.")
        found = {}
        for name in names:
            hits = [folder / f"{name}{ext}" for ext in (".parquet", ".csv") if (folder / f"{name}{ext}").is_file()]
            if not hits:
                raise FileNotFoundError(f"No file for table {name!r} in {str(folder)!r} (looked for {name}.parquet, {name}.csv).")
            found[name] = hits[0]
        sources = found
    if not isinstance(sources, Mapping):
        raise TypeError(f"Give the tables as a mapping {{name: DataFrame or path}} or a folder, got {type(sources).__name__}.")
    missing = [n for n in names if n not in sources]
    if missing:
        raise DomainError(f"The schema's tables {missing} were not given; give every table it declares.")
    return {name: reader(name, sources[name]) for name in names}
