"""A domain read off the data *with differential privacy*: no hand-written domain needed.

:func:`estimate_domain` releases, for each column,

* a categorical (text) column: its categories by **differentially private partition
  selection**: each value's count gets discrete Gaussian noise and the value is released only
  when the noisy count reaches ``1 + sigma * sqrt(2 ln(1/delta_key))``, so a value held by one
  record appears with probability at most ``delta_key`` (the discrete Gaussian is
  sub-Gaussian: Canonne, Kamath, Steinke 2020, Cor. 9). Unreleased values are read as the
  column's ``other`` category (``"(other)"``);
* a numeric column: public-looking bounds from a noisy histogram over fixed logarithmic bins
  (``... 1, 2, 5, 10, 20, 50 ...`` and their negatives, and zero), the bounds being the outer
  edges of the outermost bins whose noisy count passes a threshold; values outside are clipped.
  The same counts find point masses (0, and for integers 1, -1, -2, each alone in a bin) that
  hold at least 5% of the noisy total: they become the column's ``points``. An integer column
  whose range has at most 64 values gets one bin per value (``bins``): counts keep their shape.

**Column kinds** (text, integer or fractional numbers) are public only when *declared*: by
``kinds=`` (a mapping the user writes, e.g. ``privsynth profile --dp --kinds age=integer``), or
``kinds="schema"`` for a table whose dtypes are a declaration (a Parquet file's schema). A CSV's
values are private, and one record with ``unknown``, ``41.5`` or ``042`` in a column of ages
must not change the published domain with certainty, so every other column's kind is decided
**with DP**: a noisy count (discrete Gaussian) of its text, whole-number and fractional cells;
the column is text when the noisy text cells pass ``1% of the numbers + 3 sigma`` (so codes such
as ZIPs with leading zeros stay text), else integer unless the noisy fractional cells pass that
margin. Such a column is charged for the
decision and, whatever it decides, for a partition selection (the costlier of the two value
releases), so what is charged never depends on the data. Cells that are not numbers in a
numeric column are read as missing.

Every release is charged to a ledger (:class:`~privsynth.privacy.events.PartitionSelectionEvent`
or :class:`~privsynth.privacy.events.GaussianEvent`), one noise level for all of them, calibrated
so the whole estimation spends at most ``(epsilon, delta)``; the per-key delta depends only on
how many columns could be text (never on a kind read off the data). The domain has
``provenance="dp"`` and carries those entries; a fit on it charges them first, so its
certificate is valid and covers domain and model together. Column names are public; every
column is nullable (a data-independent choice); roles come from column names only.

Example:
    >>> import pandas as pd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.integers(18, 90, 5000), "plan": rng.choice(["a", "b"], 5000)})
    >>> d = estimate_domain(df, epsilon=0.5, random_state=1)
    >>> d.provenance, d["plan"].categories, (d["age"].lower, d["age"].upper), d["age"].integer
    ('dp', ('(other)', 'a', 'b'), (10, 100), True)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.binning import SMALL_INTEGER_RANGE
from privsynth.core.domain import Categorical, Column, Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.core.rng import PrivateRandomness
from privsynth.data.column_stats import FRACTION, TEXT, WHOLE, ColumnStats, FrameStats
from privsynth.mechanisms._samplers import discrete_gaussian_exact, discrete_gaussian_numpy
from privsynth.privacy.accountants import get_accountant
from privsynth.privacy.budget import Budget, check_delta
from privsynth.privacy.calibrate import calibrate_noise_multiplier
from privsynth.privacy.events import ComposedEvent, GaussianEvent, PartitionSelectionEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["estimate_domain", "OTHER", "bin_edges", "KINDS", "parse_kinds", "schema_kinds"]

#: The category that takes every value the partition selection did not release.
OTHER = "(other)"
#: Column kinds a user may declare.
KINDS = ("categorical", "integer", "float")
_KIND_ALIASES = {"text": "categorical", "string": "categorical", "category": "categorical", "int": "integer",
                 "numeric": "float", "number": "float", "real": "float", "double": "float"}
_MANTISSAS = (1, 2, 5)
_DECADES = range(-3, 13)


def bin_edges() -> np.ndarray:
    """The fixed, data-independent edges of the bounds histogram: ``0``, ``±{1,2,5} x 10^k``
    for ``k`` in ``-3..12``, sorted."""
    positive = sorted(m * 10.0**k for k in _DECADES for m in _MANTISSAS)
    return np.array([-p for p in reversed(positive)] + [0.0] + positive)


def _noise(sigma: float, size: int, rng: np.random.Generator, secure: bool) -> np.ndarray:
    if secure:
        return discrete_gaussian_exact(Fraction(sigma) ** 2, size)
    return discrete_gaussian_numpy(sigma, size, rng)


def parse_kinds(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """Declared column kinds from a mapping, or from text ``"age=integer,plan=categorical"``.

    Example:
        >>> parse_kinds("age=int, plan=text")
        {'age': 'integer', 'plan': 'categorical'}
    """
    if spec is None:
        return {}
    items = spec.items() if isinstance(spec, Mapping) else (part.split("=", 1) for part in str(spec).split(",") if part.strip())
    out = {}
    for item in items:
        if len(item) != 2:
            raise DomainError(f"Column kinds are written NAME=KIND, comma-separated (e.g. age=integer,plan=categorical); got {spec!r}.")
        name, kind = str(item[0]).strip(), str(item[1]).strip().lower()
        kind = _KIND_ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise DomainError(f"Column {name!r}: kind {item[1]!r} is not one of {list(KINDS)}.")
        out[name] = kind
    return out


def schema_kinds(df: pd.DataFrame) -> dict[str, str]:
    """The kinds a *declared* schema gives the columns (a Parquet file's; never the dtypes pandas
    guessed from a CSV's values).

    Example:
        >>> schema_kinds(pd.DataFrame({"a": [1], "b": [0.5], "c": ["x"]}))
        {'a': 'integer', 'b': 'float', 'c': 'categorical'}
    """
    return FrameStats(df, schema=True).schema_kinds()


def _numeric_bounds(counts: np.ndarray, sigma: float, threshold: float, rng: np.random.Generator, secure: bool,
                    integer: bool) -> tuple[Any, Any, tuple]:
    """``(lower, upper, points)`` from one noisy histogram on the fixed log-scale bins. Its bins
    ``[0, 0.001)``, ``[1, 2)``, ``[-1, -0.5)`` and ``[-2, -1)`` hold one whole number each, so
    the same noisy counts say whether 0 (and, for integers, 1, -1, -2) is a point mass: one
    holding at least 5% of the noisy total (and passing the threshold)."""
    edges = bin_edges()
    # counts: (-inf, e0), [e0, e1), ..., [e_last, inf): one record counts in one bin (L2 sensitivity 1)
    noisy = counts + _noise(sigma, len(counts), rng, secure)
    passing = np.flatnonzero(noisy >= threshold)
    if len(passing) == 0:
        passing = np.array([int(np.argmax(noisy))])
    lo_bin, hi_bin = int(passing.min()), int(passing.max())
    lower = float(edges[max(lo_bin - 1, 0)])
    upper = float(edges[min(hi_bin, len(edges) - 1)])
    if integer:  # whole-number bounds around the bins (a bin [0, 0.001) of an all-zero count column gives [0, 1])
        lower, upper = math.floor(lower), math.ceil(upper)
    if upper <= lower:  # a collapsed range: one unit wide
        upper = lower + 1
    spike = max(threshold, 0.05 * max(float(noisy.sum()), 0.0))
    candidates = (0, 1, -1, -2) if integer else (0,)
    points = tuple(sorted(v for v in candidates if lower <= v <= upper
                          and noisy[int(np.searchsorted(edges, v, side="right"))] >= spike))
    if integer:
        return int(lower), int(upper), points
    return float(lower), float(upper), points


def estimate_domain(
    df: pd.DataFrame,
    *,
    epsilon: float,
    delta: float = 1e-9,
    ledger: Ledger | None = None,
    accountant: str = "rdp",
    roles: dict[str, str] | None = None,
    exclude: Sequence[str] = (),
    kinds: "Mapping[str, str] | str | None" = None,
    random_state: Any = None,
    secure: bool = False,
    allow_large_delta: bool = False,
) -> Domain:
    """Estimate a public domain for ``df`` with ``(epsilon, delta)``-differential privacy.

    Args:
        df: The private table (e.g. every CSV cell as text: :func:`privsynth.profiling.read_raw`
            with ``typed=False``).
        epsilon, delta: The estimation's budget (``delta > 0``: partition selection needs it).
        ledger: Charge this ledger instead of a fresh one (its certificate then covers the
            estimation; a later ``fit(..., ledger=ledger)`` does not charge it twice).
        accountant: ``"rdp"`` or ``"pld"`` for a fresh ledger.
        roles: Public roles by column name (e.g. from :func:`privsynth.profiling.profile` run
            on *column names*); ``"identifier"`` columns are left out and listed as identifiers.
        exclude: Columns to leave out entirely (not estimated, not in the domain).
        kinds: Declared kinds (``"categorical"``, ``"integer"``, ``"float"``) by column name, or
            ``"schema"``: the DataFrame's dtypes *are* a declaration (a Parquet schema; never the
            dtypes pandas guessed from a CSV's values). Undeclared columns are decided with DP.
        random_state: A *secret* seed for reproducible research runs (see
            :class:`~privsynth.core.rng.PrivateRandomness`); ``None``: fresh OS entropy.
        secure: Exact discrete Gaussian sampling on the OS CSPRNG.
        allow_large_delta: Accept ``delta`` above 1e-4 (see :func:`~privsynth.privacy.budget.check_delta`).

    Returns:
        A :class:`Domain` with ``provenance="dp"`` whose ``estimation`` block holds the ledger
        entries; every categorical column has the category ``"(other)"`` (values not released)
        and every column is nullable. A text column none of whose values was released (an
        identifier, a date, free text) is not a column of the domain: it is listed in
        ``identifiers`` (readers drop it) and in the estimation's ``dropped``.

    Raises:
        DomainError: no column to estimate, ``delta`` is 0, or ``kinds`` names an unknown kind
            or column.
        BudgetExceededError: a shared ledger cannot afford the estimation (nothing is charged).
    """
    if isinstance(df, pd.DataFrame):
        stats: ColumnStats = FrameStats(df, schema=isinstance(kinds, str) and kinds == "schema")
    elif isinstance(df, ColumnStats):
        stats = df
    else:
        raise DomainError(f"estimate_domain needs a pandas DataFrame or column statistics (privsynth.data.column_stats), "
                          f"got {type(df).__name__}.")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise DomainError(f"DP domain estimation needs 0 < delta < 1 (partition selection releases keys with probability "
                          f"up to delta); got {delta!r}.")
    check_delta(float(delta), allow_large_delta=allow_large_delta, what="estimate_domain: delta")
    roles = dict(roles or {})
    identifiers = tuple(c for c in stats.columns if roles.get(c) == "identifier" and c not in exclude)
    names = [c for c in stats.columns if c not in exclude and c not in identifiers]
    if not names:
        raise DomainError("No column left to estimate a domain for (all excluded or identifiers).")
    declared = stats.schema_kinds() if isinstance(kinds, str) and kinds == "schema" else parse_kinds(kinds)
    unknown = sorted(set(declared) - set(stats.columns))
    if unknown:
        raise DomainError(f"kinds names columns that are not in the table: {unknown}.")
    declared = {n: k for n, k in declared.items() if n in names}
    n_keys = sum(declared.get(n, "categorical") == "categorical" for n in names)  # columns that may be text: public
    key_delta = delta / 2 / n_keys if n_keys else None  # half of delta for the keys, half for the Gaussian part

    def events(nm: float) -> ComposedEvent:
        out: list = []
        for n in names:
            if n not in declared:
                out.append(GaussianEvent(nm, discrete=True))  # the kind decision
            out.append(PartitionSelectionEvent(nm, key_delta) if declared.get(n, "categorical") == "categorical"  # type: ignore[arg-type]
                       else GaussianEvent(nm, discrete=True))
        return ComposedEvent(tuple(out))

    acc = ledger.accountant if ledger is not None else get_accountant(accountant)
    nm = calibrate_noise_multiplier(events, epsilon=epsilon, delta=delta, accountant=acc)  # the accountant takes the keys' delta off
    if ledger is None:
        ledger = Ledger(Budget(epsilon=epsilon, delta=delta), accountant=acc)
    plan = list(events(nm).events)
    ledger.check_plan(plan, what="estimate_domain")
    start = len(ledger.entries)
    randomness = PrivateRandomness(random_state, secure=secure)
    sigma = float(nm)
    charges = iter(plan)
    columns: list[Column] = []
    decided: dict[str, str] = {}
    dropped: list[str] = []
    for j, name in enumerate(names):
        rng = randomness.generator("domain", j)
        kind = declared.get(name)
        if kind is None:
            ledger.charge(next(charges), label=f"domain: kind of {name!r} (noisy counts of text, whole and fractional cells)")
            noisy = stats.classes(name) + _noise(sigma, 3, randomness.generator("domain", j, 1), secure)
            numbers = noisy[WHOLE] + noisy[FRACTION]
            margin = 0.01 * max(numbers, 0) + 3 * sigma  # more than noise and 1% of the numbers
            kind = "categorical" if noisy[TEXT] > margin else "integer" if noisy[FRACTION] <= margin else "float"
            decided[name] = kind
        event = next(charges)
        if kind == "categorical":
            ledger.charge(event, label=f"domain: categories of {name!r} (partition selection)")
            threshold = 1 + sigma * math.sqrt(2 * math.log(1 / key_delta))  # type: ignore[operator]
            released = []
            for keys, counts in stats.value_counts(name):  # in chunks: a column may hold as many values as records
                noisy_counts = counts + _noise(sigma, len(counts), rng, secure)
                released += [k for k, v in zip(keys, noisy_counts) if v >= threshold and k != OTHER]
            released.sort()
            if not released:  # nothing but '(other)': an identifier, a date or free text -- dropped, kept by name
                dropped.append(name)
                continue
            columns.append(Categorical(name, (OTHER, *released), nullable=True, role=roles.get(name), other=OTHER))
        else:
            what = "partition-selection budget, released as bounds" if name in decided else "noisy log-scale histogram"
            ledger.charge(event, label=f"domain: bounds of {name!r} ({what})")
            threshold = sigma * math.sqrt(2 * math.log(100 * (len(bin_edges()) + 1)))  # an empty bin passes w.p. < 1%
            integer = kind == "integer"
            lo, hi, points = _numeric_bounds(stats.histogram(name, bin_edges()), sigma, threshold, rng, secure, integer)
            small = integer and hi - lo + 1 <= SMALL_INTEGER_RANGE  # counts and codes: one level per value
            columns.append(Numeric(name, lo, hi, integer=integer, nullable=True, role=roles.get(name),
                                   bins=hi - lo + 1 if small else None, points=() if small else points))
    entries = ledger.entries[start:]
    spent = acc.epsilon([e.event for e in entries], delta)
    kinds_note = (f"column kinds declared for {sorted(declared)}" if declared else "no column kind declared")
    if decided:
        kinds_note += (f"; decided with DP for {sorted(decided)} (noisy counts of text / whole / fractional cells: text when "
                       "text cells pass 1% of the numbers + 3 sigma, else integer unless fractional cells do; non-numbers in a "
                       "numeric column read as missing)")
    if not columns:
        raise DomainError(f"The DP estimation released no value of any column ({names}): at this epsilon every column looks "
                          "like an identifier. Raise epsilon, or declare the domain.")
    if dropped:
        kinds_note += (f"; dropped {dropped}: no value passed the partition selection (identifiers, dates, free text), so "
                       "they are kept by name as identifiers and never synthesized")
    estimation = {
        "accountant": ledger.accountant.to_dict(),
        "epsilon": spent,
        "delta": delta,
        "entries": [e.to_dict() for e in entries],
        "assumptions": ["DP domain: categories by partition selection (a value held by one record is released with "
                        f"probability <= {key_delta:.3g}); numeric bounds from a noisy histogram on fixed log-scale bins; "
                        "values outside are read as '(other)' or clipped" if key_delta else
                        "DP domain: numeric bounds from a noisy histogram on fixed log-scale bins; values outside are clipped",
                        kinds_note],
    }
    if dropped:
        estimation["dropped"] = list(dropped)
    return Domain(tuple(columns), provenance="dp", identifiers=(*identifiers, *dropped), estimation=estimation)
