"""Checking a DataFrame against its public domain, and the discrete encoding built on the domain.

:func:`validate` is the only door through which private data enter a synthesizer: it refuses
anything the public domain does not allow (with a :class:`DomainError` that names the column and
what is wrong, never a count or any other statistic of the values, so that it reads the same
for neighbouring datasets) or, with ``clip=True``, clips numbers to the public bounds.
:func:`encode` / :func:`decode` map records to integer codes on the domain's
*public* bins and back; no edge is ever read off the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.core.binning import cell_of
from privsynth.core.categories import cell_codes, decode_cells
from privsynth.core.domain import DEFAULT_BINS, Categorical, Column, Domain, Numeric, Ordinal
from privsynth.core.errors import DomainError

__all__ = ["validate", "encode", "decode", "levels", "problem", "PROBLEMS"]

#: What can be wrong with a column's values, each with the message that names the column (and
#: never a count): the same words whichever engine found it.
PROBLEMS = {
    "missing": "Column {name!r} has missing values but is not nullable; declare `nullable: true` in the domain file "
               "or drop those rows.",
    "categories": "Column {name!r} has values outside its declared categories; add the categories to the domain file "
                  "(from public knowledge) or map those values to declared ones.",
    "not_numbers": "Column {name!r} is declared numeric but holds values that are not numbers; convert it with "
                   "pd.to_numeric (or read the file with privsynth.datasets.read_table) or declare it categorical.",
    "bounds": "Column {name!r} has values outside its public bounds [{lower}, {upper}]; widen the bounds in the domain "
              "file (from public knowledge, not the data's min/max) or clip them (clip=True; on the command line --clip).",
    "integer": "Column {name!r} is declared integer but has non-integer values; round them or declare `integer: false`.",
}


def problem(kind: str, col: Column) -> DomainError:
    """The :class:`DomainError` for a ``kind`` of :data:`PROBLEMS` in column ``col``."""
    return DomainError(PROBLEMS[kind].format(name=col.name, lower=getattr(col, "lower", None), upper=getattr(col, "upper", None)))


def _check_frame(df: object, domain: Domain) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DomainError(f"Expected a pandas DataFrame, got {type(df).__name__}.")
    if not isinstance(domain, Domain):
        raise DomainError(f"Expected a privsynth.Domain, got {type(domain).__name__}; load one with Domain.from_file.")
    missing = [n for n in domain.names if n not in df.columns]
    if missing:
        raise DomainError(
            f"Columns {missing} are declared in the domain but missing from the data; "
            "rename the data's columns, or remove those columns from the domain file."
        )
    return df


def _validate_categorical(s: pd.Series, col: Categorical) -> pd.Categorical:
    missing = s.isna().to_numpy()
    if missing.any() and not col.nullable:
        raise problem("missing", col)
    present = s[~missing]
    if col.other is not None:
        s = s.where(missing | s.isin(col.categories), col.other)  # undeclared values are read as the 'other' category
    elif not present.isin(col.categories).all():
        raise problem("categories", col)
    return pd.Categorical(s, categories=list(col.categories), ordered=isinstance(col, Ordinal))


def _validate_numeric(s: pd.Series, col: Numeric, clip: bool) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        raise problem("not_numbers", col)
    values = s.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any() and not col.nullable:
        raise problem("missing", col)
    present = ~missing
    out = present & ((values < col.lower) | (values > col.upper))
    if out.any():
        if not clip:
            raise problem("bounds", col)
        values = np.where(present, np.clip(values, col.lower, col.upper), np.nan)
    if col.integer and (present & (np.mod(values, 1) != 0)).any():
        raise problem("integer", col)
    return values


def validate(df: pd.DataFrame, domain: Domain, *, clip: bool = False) -> pd.DataFrame:
    """Check ``df`` against ``domain`` and return it in canonical form.

    The result has exactly the domain's columns in domain order (other columns are dropped),
    a fresh ``RangeIndex``, ``pandas.Categorical`` columns over the declared categories, and
    ``float64`` numeric columns with ``NaN`` for missing values.

    Args:
        df: The data.
        domain: The public domain.
        clip: Clip numeric values to the public bounds instead of raising (always done for a
            domain estimated with DP, whose bounds are estimates).

    Raises:
        DomainError: a declared column is missing, a value is outside the declared categories
            or bounds, a numeric column holds non-numbers or non-integers where integers are
            declared, or a non-nullable column has missing values. The message names the
            column, never how many values offend.

    Example:
        >>> from privsynth.core.domain import Domain, Numeric
        >>> d = Domain((Numeric("age", 17, 90, integer=True),))
        >>> validate(pd.DataFrame({"age": [20, 95]}), d, clip=True)["age"].tolist()
        [20.0, 90.0]
    """
    _check_frame(df, domain)
    clip = clip or domain.provenance == "dp"  # a DP domain's bounds are estimates: values beyond them are clipped
    data: dict[str, object] = {}
    for col in domain:
        s = df[col.name].reset_index(drop=True)
        if isinstance(col, Categorical):
            data[col.name] = _validate_categorical(s, col)
        else:
            data[col.name] = _validate_numeric(s, col, clip)
    return pd.DataFrame(data, columns=list(domain.names))


def levels(domain: Domain, *, bins: int = DEFAULT_BINS) -> tuple[int, ...]:
    """Number of discrete states per column (missing state included) at ``bins`` default bins."""
    out = []
    for col in domain:
        n = col.cells if isinstance(col, Categorical) else col.n_bins(bins)
        out.append(n + int(col.nullable))
    return tuple(out)


def encode(df: pd.DataFrame, domain: Domain, *, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Integer codes ``(n_rows, n_columns)`` of validated data on the domain's public bins.

    Categories map to their cell (their index, unless the column merges categories), numbers to
    their equal-width bin on the public bounds, and a missing value to the last code of a
    nullable column.

    Example:
        >>> from privsynth.core.domain import Domain, Numeric, Categorical
        >>> d = Domain((Numeric("x", 0, 10, bins=2), Categorical("c", ("a", "b"), nullable=True)))
        >>> encode(validate(pd.DataFrame({"x": [1, 9], "c": ["b", None]}), d), d).tolist()
        [[0, 1], [1, 2]]
    """
    frame = validate(df, domain) if not _is_canonical(df, domain) else df
    codes = np.empty((len(frame), len(domain)), dtype=np.int64)
    for j, col in enumerate(domain):
        s = frame[col.name]
        if isinstance(col, Categorical):
            codes[:, j] = cell_codes(s.cat.codes, col.categories, col.merged, missing=col.cells)
        else:
            v = s.to_numpy(dtype=float)
            edges = col.edges(bins)
            b = cell_of(edges, v)
            codes[:, j] = np.where(np.isnan(v), len(edges) - 1, b)
    return codes


def _is_canonical(df: pd.DataFrame, domain: Domain) -> bool:
    if list(df.columns) != list(domain.names):
        return False
    for col in domain:
        s = df[col.name]
        if isinstance(col, Categorical):
            if not isinstance(s.dtype, pd.CategoricalDtype) or list(s.cat.categories) != list(col.categories):
                return False
        elif s.dtype != np.float64:
            return False
    return True


def _decode_numeric(code: np.ndarray, col: Numeric, bins: int, rng: np.random.Generator) -> np.ndarray:
    """Numbers drawn uniformly inside their bins (whole numbers for integer columns); codes past
    the last bin are missing (NaN). The per-bin bounds are tables of ``bins + 1`` entries (the
    last one NaN, for missing), so each value costs one uniform and a few gathers."""
    edges = col.edges(bins)
    nb = len(edges) - 1
    c = np.minimum(code, nb)
    bins_ = np.arange(nb)
    lo, hi = edges[:-1], edges[1:]
    if col.integer:
        ilo = np.clip(np.ceil(lo), col.lower, col.upper)
        ihi = np.clip(np.where(bins_ == nb - 1, float(col.upper), np.ceil(hi) - 1), col.lower, col.upper)
        start, span, top = (np.append(t, np.nan) for t in (ilo, ihi - ilo + 1, ihi))
        return np.minimum(start[c] + np.floor(rng.random(len(c)) * span[c]), top[c])
    start, span = np.append(lo, np.nan), np.append(hi - lo, np.nan)
    values = start[c] + rng.random(len(c)) * span[c]
    if col.points:  # a point mass's bin decodes to the point itself
        fixed = np.full(nb + 1, np.nan)
        for p in col.points:
            fixed[int(cell_of(edges, p))] = p
        values = np.where(np.isnan(fixed[c]), values, fixed[c])
    return values


def decode(codes: np.ndarray, domain: Domain, *, bins: int = DEFAULT_BINS, rng: np.random.Generator) -> pd.DataFrame:
    """Records from integer codes: categories by cell (a merged cell's drawn uniformly among its
    categories), numbers drawn uniformly inside their bin.

    Output dtypes: ``pandas.Categorical`` over the declared categories (ordered for ordinal
    columns); ``int64`` for integer columns (``Int64`` when nullable); ``float64`` otherwise.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(domain):
        raise ValueError(f"codes must have shape (n, {len(domain)}), got {codes.shape}.")
    data: dict[str, object] = {}
    for j, col in enumerate(domain):
        c = codes[:, j]
        if isinstance(col, Categorical):
            data[col.name] = pd.Categorical.from_codes(
                decode_cells(c, col.categories, col.merged, rng), categories=list(col.categories), ordered=isinstance(col, Ordinal)
            )
        else:
            values = _decode_numeric(c, col, bins, rng)
            data[col.name] = _numeric_series(values, col)
    return pd.DataFrame(data, columns=list(domain.names))


def _numeric_series(values: np.ndarray, col: Numeric) -> pd.Series:
    if not col.integer:
        return pd.Series(values, dtype="float64")
    if col.nullable:
        return pd.Series(values, dtype="float64").astype("Int64")
    return pd.Series(values.astype(np.int64))

