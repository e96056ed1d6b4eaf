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
from importlib import resources
from pathlib import Path

import pandas as pd

from privsynth.core.domain import Domain
from privsynth.data.files import check_header, read_raw, read_table

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
