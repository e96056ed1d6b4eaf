"""The three risks of the GDPR's anonymisation criteria, measured as anonymeter does.

Article 29 Working Party Opinion 05/2014 asks whether a release still allows *singling out* a
person, *linking* records of a person, or *inferring* an attribute of a person. Giomi et al.,
"A Unified Framework for Quantifying Privacy Risk in Synthetic Data" (PoPETs 2023; the
``anonymeter`` package) turn each into an attack on the synthetic data whose success on the
original (training) records is compared with two references: a **baseline** attacker who guesses
without the synthetic data's help (a sanity check: the real attack must beat it), and the same
attack on **control** records that were not used for the fit (the risk is the excess over it,
``(attack - control) / (1 - control)``). Rates are Wilson score estimates with a confidence
interval; the risk is bounded to [0, 1].

* :func:`singling_out_risk`: predicates built from the synthetic records that match exactly one
  synthetic record (univariate: rare values and extremes; multivariate: ``n_cols`` columns of a
  synthetic record, ``>=``/``<=`` its value on numeric columns by the side of the median); a
  success is a predicate that matches exactly one original record.
* :func:`linkability_risk`: the attacker holds two sets of columns of a target; each half finds its
  ``n_neighbors`` nearest synthetic records; a success is a synthetic record among both.
* :func:`inference_risk`: the attacker holds ``aux_cols`` of a target and guesses its ``secret``
  from the nearest synthetic record (exact match, or within a relative tolerance for a numeric
  secret, anonymeter's ``|guess - secret| / guess <= 0.05``).

Distances are anonymeter's Gower-style distance: per numeric column the absolute difference
divided by the column's range over both tables, per categorical column 0 or 1 (two missing values
count 1, as in anonymeter; a missing value against a present one counts 1 here, where anonymeter's
distance becomes undefined). Ties between equally near records are broken by row order.

These evaluators read real records: their outputs are not private and spend no budget. Randomness
comes from ``seed`` (anonymeter draws from an unseeded generator).

Example:
    >>> from privsynth.datasets import make_census
    >>> real, domain = make_census(600, random_state=0)
    >>> ori, control = real.iloc[:300], real.iloc[300:]
    >>> r = inference_risk(ori, ori, domain, aux_cols=["age", "sex"], secret="income", control=control, n_attacks=200)
    >>> r.attack_rate > r.control_rate  # synthetic data that copies its training records leaks
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from privsynth.core.domain import Domain, Numeric
from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_frame
from privsynth.evaluation._singling_out import (
    count_matches,
    multivariate_queries,
    random_queries,
    size_correction,
    univariate_queries,
)

__all__ = ["AnonymisationRisk", "singling_out_risk", "linkability_risk", "inference_risk", "success_rate"]


def success_rate(n_total: int, n_success: float, confidence_level: float = 0.95) -> tuple[float, float]:
    """Wilson's score estimate of a success rate and its error bound (anonymeter's ``success_rate``).

    Example:
        >>> [round(v, 4) for v in success_rate(100, 10)]
        [0.1148, 0.0596]
    """
    if not 0 <= confidence_level <= 1:
        raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level}.")
    z = float(norm.ppf(0.5 * (1.0 + confidence_level)))
    z2 = z * z
    denominator = n_total + z2
    rate = (n_success + 0.5 * z2) / denominator
    error = (z / denominator) * math.sqrt(n_success * (n_total - n_success) / n_total + 0.25 * z2)
    return rate, error


@dataclass(frozen=True)
class AnonymisationRisk:
    """One anonymeter-style risk: its value and confidence interval, and the rates behind them.

    Attributes:
        risk: The excess of the attack over the control attack (or the attack rate without
            control records), bounded to [0, 1].
        ci: Its confidence interval.
        attack_rate, baseline_rate, control_rate: Wilson estimates of the success rates.
        n_attacks, n_success, n_baseline, n_control: The counts.
        trustworthy: ``False`` when the attack does not beat the baseline (anonymeter then warns
            that the analysis cannot be trusted).
    """

    kind: str
    risk: float
    ci: tuple
    attack_rate: float
    baseline_rate: float
    control_rate: float | None
    n_attacks: int
    n_success: int
    n_baseline: int
    n_control: float | None
    confidence_level: float
    trustworthy: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = list(self.ci)
        return out


def _risk(kind: str, n_attacks: int, n_success: int, n_baseline: int, n_control: float | None,
          confidence_level: float) -> AnonymisationRisk:
    if n_attacks < 1:
        raise DomainError(f"The {kind} attack could not make a single attempt; use larger tables or more attacks.")
    attack, attack_err = success_rate(n_attacks, n_success, confidence_level)
    baseline, _ = success_rate(n_attacks, n_baseline, confidence_level)
    control: tuple[float, float] | None = None
    value, error = attack, attack_err
    if n_control is not None:
        control = success_rate(n_attacks, n_control, confidence_level)
        if control[0] < 1:
            value = (attack - control[0]) / (1.0 - control[0])
            error = math.hypot(attack_err / abs(1 - control[0]), control[1] * (attack - 1) / (1 - control[0]) ** 2)
    clip = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    return AnonymisationRisk(kind=kind, risk=clip(value), ci=(clip(value - error), clip(value + error)), attack_rate=attack,
                             baseline_rate=baseline, control_rate=None if control is None else control[0],
                             n_attacks=int(n_attacks), n_success=int(n_success), n_baseline=int(n_baseline),
                             n_control=n_control, confidence_level=confidence_level, trustworthy=bool(baseline < attack))


def _checked(frames: dict[str, pd.DataFrame | None], domain: Domain, columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in domain.names]
    if unknown:
        raise DomainError(f"Columns {unknown} are not in the domain ({list(domain.names)}).")
    for what, frame in frames.items():
        if frame is not None:
            check_frame(frame, list(columns), what=what)


def _encoded(frames: list[pd.DataFrame], domain: Domain, columns: Sequence[str]) -> tuple[list[np.ndarray], int]:
    """Numeric columns scaled by their range over every frame, then categorical codes; the split index."""
    numeric = [c for c in columns if isinstance(domain[c], Numeric)]
    categorical = [c for c in columns if c not in numeric]
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for c in numeric:
        values = [pd.to_numeric(f[c], errors="coerce").to_numpy(dtype=float) for f in frames]
        both = np.concatenate(values)
        span = np.nanmax(both) - np.nanmin(both) if np.isfinite(both).any() else 0.0
        for b, v in zip(blocks, values):
            b.append(v / (span if span > 0 else 1.0))
    for c in categorical:
        joined = pd.concat([f[c].astype(object) for f in frames], ignore_index=True)
        codes, _ = pd.factorize(joined, use_na_sentinel=True)
        start = 0
        for b, f in zip(blocks, frames):
            b.append(np.where(codes[start:start + len(f)] < 0, np.nan, codes[start:start + len(f)]).astype(float))
            start += len(f)
    return [np.column_stack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)], len(numeric)


def nearest(queries: np.ndarray, candidates: np.ndarray, n_numeric: int, k: int, *, chunk: int = 256) -> np.ndarray:
    """Indices of the ``k`` nearest candidates of every query under the Gower-style distance."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        dist = np.zeros((len(q), len(candidates)))
        for j in range(q.shape[1]):
            a, b = q[:, j][:, None], candidates[:, j][None, :]
            both_missing = np.isnan(a) & np.isnan(b)
            one_missing = np.isnan(a) ^ np.isnan(b)
            part = np.abs(a - b) if j < n_numeric else (a != b).astype(float)
            dist += np.where(both_missing | one_missing, 1.0, part)
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        out[start:start + len(q)] = order
    return out


def _sample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return frame.iloc[rng.choice(len(frame), size=min(n, len(frame)), replace=False)]


def linkability_risk(ori: pd.DataFrame, syn: pd.DataFrame, domain: Domain, *, aux_cols: tuple[Sequence[str], Sequence[str]],
                     control: pd.DataFrame | None = None, n_attacks: int = 500, n_neighbors: int = 1, seed: int = 0,
                     confidence_level: float = 0.95) -> AnonymisationRisk:
    """anonymeter's linkability risk: can the synthetic data join two halves of a person's record?

    Args:
        ori: The original (training) records.
        syn: The synthetic records.
        domain: Says which columns are numeric (distance scaled by range) and categorical.
        aux_cols: The two sets of columns the attacker holds (the two "datasets" to link).
        control: Real records not used for the fit (recommended: the risk is measured against them).
        n_attacks: Targets attacked (at most the number of records).
        n_neighbors: Nearest synthetic records per half that count as a link.
        seed: Seed of the target draw and the baseline guesses.
        confidence_level: Of the intervals.
    """
    left, right = (list(a) for a in aux_cols)
    if not left or not right:
        raise DomainError("aux_cols must be two non-empty lists of columns.")
    _checked({"original data": ori, "synthetic data": syn, "control data": control}, domain, left + right)
    if not 1 <= n_neighbors <= len(syn):
        raise DomainError(f"n_neighbors must be between 1 and the synthetic rows ({len(syn)}), got {n_neighbors}.")
    rng = np.random.default_rng(seed)
    n = min(int(n_attacks), len(ori), len(control) if control is not None else len(ori))

    def links(targets: pd.DataFrame) -> int:
        found = []
        for cols in (left, right):
            (t, s), n_num = _encoded([targets, syn], domain, cols)
            found.append(nearest(t, s, n_num, n_neighbors))
        return sum(bool(set(a) & set(b)) for a, b in zip(*found))

    n_success = links(_sample(ori, n, rng))
    guesses = [np.array([rng.choice(len(syn), size=n_neighbors, replace=False) for _ in range(n)]) for _ in range(2)]
    n_baseline = sum(bool(set(a) & set(b)) for a, b in zip(*guesses))
    n_control = None if control is None else links(_sample(control, n, rng))
    return _risk("linkability", n, n_success, n_baseline, n_control, confidence_level)


def inference_risk(ori: pd.DataFrame, syn: pd.DataFrame, domain: Domain, *, aux_cols: Sequence[str], secret: str,
                   control: pd.DataFrame | None = None, n_attacks: int = 500, tolerance: float = 0.05, seed: int = 0,
                   confidence_level: float = 0.95) -> AnonymisationRisk:
    """anonymeter's attribute-inference risk: does the synthetic data reveal ``secret`` given ``aux_cols``?

    Args:
        ori, syn, domain, control, n_attacks, seed, confidence_level: As in :func:`linkability_risk`.
        aux_cols: The columns the attacker knows about the target.
        secret: The column guessed (numeric secrets are right within ``tolerance``).
        tolerance: Relative tolerance of a numeric guess (anonymeter: 0.05).
    """
    aux = list(aux_cols)
    if secret in aux or not aux:
        raise DomainError(f"aux_cols must be a non-empty list without the secret {secret!r}.")
    _checked({"original data": ori, "synthetic data": syn, "control data": control}, domain, aux + [secret])
    rng = np.random.default_rng(seed)
    n = min(int(n_attacks), len(ori), len(syn), len(control) if control is not None else len(ori))
    numeric = isinstance(domain[secret], Numeric)

    def correct(guesses: pd.Series, secrets: pd.Series) -> int:
        g, s = guesses.to_numpy(), secrets.to_numpy()
        if numeric:
            g, s = g.astype(float), s.astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                match = np.abs(g - s) / (g + 1e-12) <= tolerance
        else:
            match = g.astype(object) == s.astype(object)
        return int(np.sum(match | (pd.isna(g) & pd.isna(s))))

    def attack(target_frame: pd.DataFrame) -> int:
        targets = _sample(target_frame, n, rng)
        (t, s), n_num = _encoded([targets, syn], domain, aux)
        guesses = syn[secret].iloc[nearest(t, s, n_num, 1)[:, 0]]
        return correct(guesses, targets[secret])

    n_baseline = correct(_sample(syn, n, rng)[secret], _sample(ori, n, rng)[secret])
    n_success = attack(ori)
    n_control = None if control is None else attack(control)
    return _risk("inference", n, n_success, n_baseline, n_control, confidence_level)


def singling_out_risk(ori: pd.DataFrame, syn: pd.DataFrame, domain: Domain, *, mode: str = "multivariate",
                      control: pd.DataFrame | None = None, n_attacks: int = 500, n_cols: int = 3,
                      max_attempts: int = 100_000, seed: int = 0, confidence_level: float = 0.95) -> AnonymisationRisk:
    """anonymeter's singling-out risk: do predicates unique in the synthetic data isolate one real person?

    Duplicate records are dropped from every table first, as anonymeter does. With control records
    of another size than ``ori``, the control successes are rescaled by anonymeter's fitted model
    of how singling out grows with the table size.

    Args:
        ori, syn, domain, control, n_attacks, seed, confidence_level: As in :func:`linkability_risk`.
        mode: ``univariate`` (one column per predicate) or ``multivariate`` (``n_cols`` columns).
        n_cols: Columns per multivariate predicate.
        max_attempts: Records tried when building multivariate predicates.
    """
    if mode not in ("univariate", "multivariate"):
        raise DomainError(f"mode must be 'univariate' or 'multivariate', got {mode!r}.")
    names = list(domain.names)
    _checked({"original data": ori, "synthetic data": syn, "control data": control}, domain, names)
    if mode == "multivariate" and not 1 <= n_cols <= len(names):
        raise DomainError(f"n_cols must be between 1 and the number of columns ({len(names)}), got {n_cols}.")
    ori, syn = ori[names].drop_duplicates(), syn[names].drop_duplicates()
    control = None if control is None else control[names].drop_duplicates()
    rng = np.random.default_rng(seed)
    baseline_queries = random_queries(syn, domain, n_attacks, n_cols if mode == "multivariate" else 1, rng)
    n_baseline = int(np.sum(count_matches(ori, domain, baseline_queries) == 1))
    if mode == "univariate":
        queries = univariate_queries(syn, domain, n_attacks, rng)
    else:
        queries = multivariate_queries(syn, domain, n_attacks, n_cols, max_attempts, rng)
    n_success = int(np.sum(count_matches(ori, domain, queries) == 1))
    n_control: float | None = None
    if control is not None:
        n_control = float(np.sum(count_matches(control, domain, queries) == 1))
        if len(control) != len(ori) and queries:
            n_control *= size_correction(control, domain, queries, len(ori), rng)
    return _risk("singling_out", int(n_attacks), n_success, n_baseline, n_control, confidence_level)
