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

Every column's release is charged to a ledger (:class:`~privsynth.privacy.events.PartitionSelectionEvent`
or :class:`~privsynth.privacy.events.GaussianEvent`), one noise level for all columns, calibrated
so the whole estimation spends at most ``(epsilon, delta)``. The domain has
``provenance="dp"`` and carries those entries; a fit on it charges them first, so its
certificate is valid and covers domain and model together. Column names and kinds (numeric or
text, integer or not) come from the table's schema and are treated as public; every column is
nullable (a data-independent choice); roles come from column names only.

Example:
    >>> import pandas as pd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.integers(18, 90, 5000), "plan": rng.choice(["a", "b"], 5000)})
    >>> d = estimate_domain(df, epsilon=0.5, random_state=1)
    >>> d.provenance, d["plan"].categories, (d["age"].lower, d["age"].upper)
    ('dp', ('(other)', 'a', 'b'), (10, 100))
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import pandas as pd

from privsynth.core.domain import Categorical, Column, Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.core.rng import PrivateRandomness
from privsynth.mechanisms._samplers import discrete_gaussian_exact, discrete_gaussian_numpy
from privsynth.privacy.accountants import get_accountant
from privsynth.privacy.budget import Budget
from privsynth.privacy.calibrate import calibrate_noise_multiplier
from privsynth.privacy.events import ComposedEvent, GaussianEvent, PartitionSelectionEvent
from privsynth.privacy.ledger import Ledger

__all__ = ["estimate_domain", "OTHER", "bin_edges"]

#: The category that takes every value the partition selection did not release.
OTHER = "(other)"
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


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _numeric_bounds(values: np.ndarray, sigma: float, threshold: float, rng: np.random.Generator, secure: bool,
                    integer: bool) -> tuple[float, float]:
    edges = bin_edges()
    # bins: (-inf, e0), [e0, e1), ..., [e_last, inf): one record counts in one bin (L2 sensitivity 1)
    idx = np.searchsorted(edges, values, side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    noisy = counts + _noise(sigma, len(counts), rng, secure)
    passing = np.flatnonzero(noisy >= threshold)
    if len(passing) == 0:
        passing = np.array([int(np.argmax(noisy))])
    lo_bin, hi_bin = int(passing.min()), int(passing.max())
    lower = edges[max(lo_bin - 1, 0)]
    upper = edges[min(hi_bin, len(edges) - 1)]
    if upper <= lower:
        upper = lower + (1 if integer else 1.0)
    return (int(lower), int(upper)) if integer else (float(lower), float(upper))


def estimate_domain(
    df: pd.DataFrame,
    *,
    epsilon: float,
    delta: float = 1e-9,
    ledger: Ledger | None = None,
    accountant: str = "rdp",
    roles: dict[str, str] | None = None,
    exclude: Sequence[str] = (),
    random_state: Any = None,
    secure: bool = False,
) -> Domain:
    """Estimate a public domain for ``df`` with ``(epsilon, delta)``-differential privacy.

    Args:
        df: The private table. Numeric dtypes become :class:`Numeric` columns (integer when the
            dtype is), everything else :class:`Categorical`.
        epsilon, delta: The estimation's budget (``delta > 0``: partition selection needs it).
        ledger: Charge this ledger instead of a fresh one (its certificate then covers the
            estimation; a later ``fit(..., ledger=ledger)`` does not charge it twice).
        accountant: ``"rdp"`` or ``"pld"`` for a fresh ledger.
        roles: Public roles by column name (e.g. from :func:`privsynth.profiling.profile` run
            on *column names*); ``"identifier"`` columns are left out and listed as identifiers.
        exclude: Columns to leave out entirely (not estimated, not in the domain).
        random_state: A *secret* seed for reproducible research runs (see
            :class:`~privsynth.core.rng.PrivateRandomness`); ``None``: fresh OS entropy.
        secure: Exact discrete Gaussian sampling on the OS CSPRNG.

    Returns:
        A :class:`Domain` with ``provenance="dp"`` whose ``estimation`` block holds the ledger
        entries; every categorical column has the category ``"(other)"`` (values not released)
        and every column is nullable.

    Raises:
        DomainError: no column to estimate, or ``delta`` is 0.
        BudgetExceededError: a shared ledger cannot afford the estimation (nothing is charged).
    """
    if not isinstance(df, pd.DataFrame):
        raise DomainError(f"estimate_domain needs a pandas DataFrame, got {type(df).__name__}.")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise DomainError(f"DP domain estimation needs 0 < delta < 1 (partition selection releases keys with probability "
                          f"up to delta); got {delta!r}.")
    roles = dict(roles or {})
    identifiers = tuple(str(c) for c in df.columns if roles.get(str(c)) == "identifier" and str(c) not in exclude)
    names = [str(c) for c in df.columns if str(c) not in exclude and str(c) not in identifiers]
    if not names:
        raise DomainError("No column left to estimate a domain for (all excluded or identifiers).")
    numeric = {n: _is_numeric(df[n]) for n in names}
    n_categorical = sum(not v for v in numeric.values())
    key_delta = delta / 2 / n_categorical if n_categorical else None  # half of delta for the keys, half for the Gaussian part

    def events(nm: float) -> ComposedEvent:
        return ComposedEvent(tuple(GaussianEvent(nm, discrete=True) if numeric[n]
                                   else PartitionSelectionEvent(nm, key_delta) for n in names))  # type: ignore[arg-type]

    acc = ledger.accountant if ledger is not None else get_accountant(accountant)
    nm = calibrate_noise_multiplier(events, epsilon=epsilon, delta=delta, accountant=acc)  # the accountant takes the keys' delta off
    if ledger is None:
        ledger = Ledger(Budget(epsilon=epsilon, delta=delta), accountant=acc)
    plan = list(events(nm).events)
    ledger.check_plan(plan, what="estimate_domain")
    start = len(ledger.entries)
    randomness = PrivateRandomness(random_state, secure=secure)
    sigma = float(nm)
    columns: list[Column] = []
    for j, (name, event) in enumerate(zip(names, plan)):
        rng = randomness.generator("domain", j)
        s = df[name]
        if numeric[name]:
            values = s.dropna().to_numpy(dtype=float)
            integer = pd.api.types.is_integer_dtype(s)
            ledger.charge(event, label=f"domain: bounds of {name!r} (noisy log-scale histogram)")
            threshold = sigma * math.sqrt(2 * math.log(100 * (len(bin_edges()) + 1)))  # an empty bin passes w.p. < 1%
            lo, hi = _numeric_bounds(values, sigma, threshold, rng, secure, integer)
            columns.append(Numeric(name, lo, hi, integer=integer, nullable=True, role=roles.get(name)))
        else:
            counts = s.dropna().astype(str).value_counts(sort=False)
            ledger.charge(event, label=f"domain: categories of {name!r} (partition selection)")
            threshold = 1 + sigma * math.sqrt(2 * math.log(1 / key_delta))  # type: ignore[operator]
            noisy = counts.to_numpy() + _noise(sigma, len(counts), rng, secure)
            released = sorted(str(k) for k, v in zip(counts.index, noisy) if v >= threshold and str(k) != OTHER)
            columns.append(Categorical(name, (OTHER, *released), nullable=True, role=roles.get(name), other=OTHER))
    estimation = {
        "accountant": ledger.accountant.to_dict(),
        "epsilon": acc.epsilon(plan, delta),
        "delta": delta,
        "entries": [e.to_dict() for e in ledger.entries[start:]],
        "assumptions": ["DP domain: categories by partition selection (a value held by one record is released with "
                        f"probability <= {key_delta:.3g}); numeric bounds from a noisy histogram on fixed log-scale bins; "
                        "values outside are read as '(other)' or clipped" if key_delta else
                        "DP domain: numeric bounds from a noisy histogram on fixed log-scale bins; values outside are clipped"],
    }
    return Domain(tuple(columns), provenance="dp", identifiers=identifiers, estimation=estimation)
