"""Loaders for tables with a declared domain: local CSV/Parquet, the Adult data sets, and a real
download-and-cache path for UCI Adult.

UCI Adult (CC BY 4.0) ships inside the package, compressed, with its attribution
(``privsynth/datasets/data/``), so :func:`load_adult` works on a fresh install. The other data
sets are found in ``$PRIVSYNTH_DATA`` or ``../shared/data`` (relative to the working directory or
to the repository). Domain files ship with the package (``configs/domains``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import DomainError

__all__ = [
    "read_table",
    "read_raw",
    "check_header",
    "data_dir",
    "domain_file",
    "load_adult",
    "load_adult_discretized",
    "load_arx_adult",
    "load_arx_hierarchies",
    "download_adult",
    "packaged_adult",
    "ADULT_URL",
    "ADULT_COLUMNS",
]

ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data"
ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "earning-class",
)


def domain_file(name: str) -> Path:
    """Path of a domain file shipped with privsynth (``"adult"``, ``"arx_adult"``)."""
    path = Path(str(resources.files("privsynth.configs") / "domains" / f"{name}.yaml"))
    if not path.is_file():
        raise FileNotFoundError(f"No shipped domain named {name!r} (looked for {path}).")
    return path


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The shared data folder: ``path``, else ``$PRIVSYNTH_DATA``, else ``../shared/data``.

    Raises:
        FileNotFoundError: with where it looked and how to point at the data.
    """
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get("PRIVSYNTH_DATA"):
        candidates.append(Path(os.environ["PRIVSYNTH_DATA"]))
    else:
        candidates += [Path.cwd() / ".." / "shared" / "data", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    raise FileNotFoundError(
        f"Shared data folder not found (looked in {[str(c) for c in candidates]}); set PRIVSYNTH_DATA "
        "to the folder holding adult.csv, or use privsynth.datasets.download_adult()."
    )


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
    if path.suffix.lower() in (".parquet", ".pq"):
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
    return validate(_typed_by_domain(df, domain), domain, clip=clip)


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
    if path.suffix.lower() in (".parquet", ".pq"):
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
    if not typed:
        return df
    for name in df.columns:
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


def _typed_by_domain(df: pd.DataFrame, domain: Domain) -> pd.DataFrame:
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


def packaged_adult() -> Path:
    """Path of the UCI Adult training split shipped with privsynth (``adult.csv.gz``, CC BY 4.0;
    attribution in ``ADULT-ATTRIBUTION.md`` beside it)."""
    return Path(str(resources.files("privsynth.datasets") / "data" / "adult.csv.gz"))


def load_adult(*, path: str | os.PathLike | None = None) -> tuple[pd.DataFrame, Domain]:
    """UCI Adult (raw, mixed types, ``?`` as missing; 32,561 records) with its public domain.

    Args:
        path: A CSV in the UCI layout with a header (e.g. from :func:`download_adult`); default:
            the copy shipped with privsynth (:func:`packaged_adult`).

    Example:
        >>> df, domain = load_adult()
        >>> df.shape, domain["age"].lower
        ((32561, 15), 17)
    """
    domain = Domain.from_file(domain_file("adult"))
    csv = Path(path) if path is not None else packaged_adult()
    return read_table(csv, domain, na_values="?", skipinitialspace=True), domain


def load_adult_discretized(*, folder: str | os.PathLike | None = None) -> tuple[pd.DataFrame, Domain]:
    """Adult pre-discretized to integer codes, with the public domain used by private-pgm."""
    root = data_dir(folder)
    domain = Domain.from_file(root / "adult_discretized-domain.json")
    return read_table(root / "adult_discretized.csv", domain), domain


def load_arx_adult(*, folder: str | os.PathLike | None = None) -> tuple[pd.DataFrame, Domain]:
    """ARX's Adult subset (9 columns, no missing values) with its public domain."""
    root = data_dir(folder)
    domain = Domain.from_file(domain_file("arx_adult"))
    return read_table(root / "arx" / "adult.csv", domain, sep=";"), domain


def load_arx_hierarchies(*, folder: str | os.PathLike | None = None, prefix: str = "adult",
                         subfolder: str = "arx") -> dict[str, pd.DataFrame]:
    """ARX generalization hierarchies (one row per value, one column per level) by column name,
    from ``folder/subfolder/{prefix}_hierarchy_*.csv`` (default: the shared data's ``arx/``)."""
    root = data_dir(folder) / subfolder
    out = {}
    for f in sorted(root.glob(f"{prefix}_hierarchy_*.csv")):
        name = f.stem[len(f"{prefix}_hierarchy_") :]
        out[name] = pd.read_csv(f, sep=";", header=None, dtype=str, keep_default_na=False)
    if not out:
        raise FileNotFoundError(f"No {prefix}_hierarchy_*.csv files in {root}.")
    return out


def download_adult(
    *,
    cache_dir: str | os.PathLike | None = None,
    url: str = ADULT_URL,
    sha256: str | None = None,
    force: bool = False,
) -> Path:
    """Download UCI Adult's ``adult.data`` once, convert it to a CSV with a header, and cache it.

    Args:
        cache_dir: Where to keep it (default ``~/.cache/privsynth``).
        url: Source (``file://`` URLs work too, which is how the tests exercise this offline).
        sha256: Expected hash of the downloaded file; a mismatch raises and caches nothing.
        force: Download again even if cached.

    Returns:
        Path of the cached ``adult.csv`` (readable by :func:`load_adult`).
    """
    cache = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "privsynth"
    target = cache / "adult.csv"
    if target.is_file() and not force:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        raw = Path(tmp) / "adult.data"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(raw, "wb") as fh:  # noqa: S310 - user-chosen URL
                shutil.copyfileobj(resp, fh)
        except OSError as exc:
            raise ConnectionError(f"Could not download Adult from {url}: {exc}. Use load_adult(path=...) with a local copy.") from None
        digest = hashlib.sha256(raw.read_bytes()).hexdigest()
        if sha256 is not None and digest != sha256:
            raise ValueError(f"Downloaded file has sha256 {digest}, expected {sha256}; not cached.")
        df = pd.read_csv(raw, header=None, names=list(ADULT_COLUMNS), skipinitialspace=True, dtype=str)
        df = df.dropna(how="all")
        df["earning-class"] = df["earning-class"].str.rstrip(".")
        out = Path(tmp) / "adult.csv"
        df.to_csv(out, index=False)
        os.replace(out, target)
    return target
