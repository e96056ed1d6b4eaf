"""Reading a CSV or Parquet file into memory: by its declared domain (:func:`read_table`) or,
for profiling, as it comes (:func:`read_raw`).

A CSV's values are private: nothing here decides a column's type from them when a domain is
given (the domain decides), and errors name the column, never counts or values.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import DomainError

__all__ = ["read_table", "read_raw", "check_header", "is_parquet", "typed_by_domain", "type_numbers"]

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a Parquet file or folder (by its suffix)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def read_table(path: str | os.PathLike, domain: Domain, *, clip: bool = False, na_values: Iterable[str] | str = (),
               encoding: str = "utf-8", **read_kwargs: Any) -> pd.DataFrame:
    """Read a CSV or Parquet file *by its declared domain* and validate it (see
    :func:`privsynth.core.validate`).

    A CSV is read as text, and the domain decides every type: nothing is guessed from the private
    file (one odd record must not change how a whole column is read). A cell is missing when it
    is empty or one of ``na_values``; a categorical column's text must be the text form of a
    declared category (``"02134"`` stays a ZIP code, ``"1"`` becomes the category ``1``); a
    numeric column is converted explicitly. Errors name the column, never counts or values.

    Args:
        path: ``.csv`` (or other text) or ``.parquet``/``.pq`` file.
        domain: The public domain.
        clip: Clip numbers to the public bounds instead of refusing them.
        na_values: Strings that mean "missing" besides the empty cell (e.g. ``"?"``).
        encoding: Text encoding of a CSV (e.g. ``"latin-1"``).
        **read_kwargs: More options for ``pandas.read_csv`` (e.g. ``sep=";"``,
            ``skipinitialspace=True``) or ``pandas.read_parquet``.

    Raises:
        FileNotFoundError: no such file.
        DomainError: the file does not conform to the domain, or is not text in ``encoding``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Data file {str(path)!r} does not exist.")
    if is_parquet(path):
        return validate(pd.read_parquet(path, **read_kwargs), domain, clip=clip)
    markers = [na_values] if isinstance(na_values, str) else list(na_values)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", *markers], encoding=encoding, **read_kwargs)
    except UnicodeDecodeError:
        raise DomainError(f"{str(path)!r} is not {encoding} text; give its encoding (encoding=..., CLI --encoding), "
                          "e.g. 'latin-1' or 'cp1252'.") from None
    except LookupError:
        raise DomainError(f"Unknown text encoding {encoding!r}; use e.g. 'utf-8', 'latin-1' or 'cp1252'.") from None
    except pd.errors.EmptyDataError:
        raise DomainError(f"{str(path)!r} is empty: not even a header row with the column names.") from None
    check_header(path, encoding=encoding, **read_kwargs)
    _note_dropped_columns(df, domain, path)
    return validate(typed_by_domain(df, domain), domain, clip=clip)


def read_raw(path: str | Path, *, encoding: str = "utf-8", sep: str | None = None, na_values: Any = (),
             typed: bool = True) -> pd.DataFrame:
    """Read a CSV/Parquet file for profiling: every CSV cell as text, then (``typed``) each column
    typed as numbers only when every value is a number without a leading zero (so ``02134`` stays
    text). That typing reads the private values, so it is for the draft (:func:`profile`) only;
    DP estimation reads ``typed=False`` and decides kinds with DP or takes them declared.

    Raises:
        FileNotFoundError: no such file.
        DomainError: not text in ``encoding``, or a header without records.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Data file {str(path)!r} does not exist.")
    if is_parquet(path):
        return pd.read_parquet(path)
    markers = [na_values] if isinstance(na_values, str) else list(na_values or ())
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", *markers], encoding=encoding,
                         **({"sep": sep} if sep else {}))
    except UnicodeDecodeError:
        raise DomainError(f"{str(path)!r} is not {encoding} text; give its encoding (--encoding latin-1, cp1252 ...).") from None
    except LookupError:
        raise DomainError(f"Unknown text encoding {encoding!r}; use e.g. utf-8, latin-1 or cp1252.") from None
    except pd.errors.EmptyDataError:
        raise DomainError(f"{str(path)!r} is empty: no header and no records.") from None
    check_header(path, encoding=encoding, **({"sep": sep} if sep else {}))
    if df.empty:
        raise DomainError(f"{str(path)!r} has a header but no records; there is nothing to profile.")
    return type_numbers(df) if typed else df


def type_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a number without a leading zero, as numbers (for a
    profile's draft only: it reads the private values)."""
    df = df.copy()
    for name in df.columns:
        if pd.api.types.is_numeric_dtype(df[name]):
            continue
        text = df[name].dropna().str.strip()
        if len(text) and not text.str.match(r"^[-+]?0\d").any():
            numbers = pd.to_numeric(text, errors="coerce")
            if numbers.notna().all():
                df[name] = pd.to_numeric(df[name].str.strip(), errors="coerce")
    return df


def check_header(path: str | os.PathLike, *, encoding: str = "utf-8", **read_kwargs: Any) -> list[str]:
    """The CSV's column names as written; a name that appears twice is a :class:`DomainError`
    naming it (pandas would silently read the second as ``name.1``)."""
    options = {k: v for k, v in read_kwargs.items() if k in ("sep", "delimiter", "quotechar")}
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding=encoding, **options)
    names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    if twice:
        listed = "; ".join(f"{name!r} in columns {', '.join(map(str, where))}" for name, where in twice.items())
        raise DomainError(f"{str(path)!r} names a column more than once ({listed}); rename them so each name is unique.")
    return names


def _note_dropped_columns(df: pd.DataFrame, domain: Domain, path: Path) -> None:
    """Say once which columns of the file are not read: identifiers, and columns the domain lacks."""
    identifiers = [c for c in df.columns if c in domain.identifiers]
    extra = [c for c in df.columns if c not in domain and c not in domain.identifiers]
    if identifiers:
        warnings.warn(f"{path.name}: identifier columns {identifiers} (role: identifier) are dropped, never synthesized.",
                      UserWarning, stacklevel=3)
    if extra:
        warnings.warn(f"{path.name}: columns {extra} are not in the domain and are ignored; declare them to synthesize them.",
                      UserWarning, stacklevel=3)


def typed_by_domain(df: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Text columns to the domain's types: categories by their text form, numbers explicitly."""
    out = df.copy()
    for col in domain:
        if col.name not in df.columns:
            continue  # validate() names the missing columns
        text = df[col.name]
        if isinstance(col, Categorical):
            mapping = {str(c): c for c in col.categories}
            if len(mapping) != len(col.categories):
                raise DomainError(f"Column {col.name!r}: two declared categories have the same text form; they cannot "
                                  "be told apart in a CSV file.")
            typed = text.map(mapping)
            if col.other is not None:
                typed = typed.where(text.isna() | typed.notna(), col.other)
            if (text.notna() & typed.isna()).any():
                raise DomainError(
                    f"Column {col.name!r} has values outside its declared categories; add the categories to the domain "
                    "file (from public knowledge), map those values to declared ones, or declare the missing-value "
                    "markers (na_values / --na-values)."
                )
            out[col.name] = typed.astype(object)
        else:
            typed = pd.to_numeric(text, errors="coerce")
            if (text.notna() & typed.isna()).any():
                raise DomainError(
                    f"Column {col.name!r} is declared numeric but holds text that is not a number; fix the file, declare "
                    "the missing-value markers (na_values / --na-values), or declare the column categorical."
                )
            out[col.name] = typed.astype(float)
    return out
