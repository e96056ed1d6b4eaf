"""Empirical DP auditing: a lower bound on a synthesizer's epsilon from a distinguishing game.

The game (Jagielski, Ullman, Oprea 2020; Annamalai, Ganev, De Cristofaro, USENIX Security 2024):
in each of ``n_trials`` independent trials, a fair coin picks a neighbouring dataset -- ``data``
or ``data`` plus one *canary* record (add/remove-one) -- the synthesizer is fitted on it and
samples a release, and an attacker scores the release for the canary's presence. If the
synthesizer is ``(epsilon, delta)``-DP, every threshold test has
``TPR <= e^epsilon FPR + delta`` and ``1 - FPR <= e^epsilon (1 - TPR) + delta``; Clopper-Pearson
intervals on TPR and FPR turn the observed rates into an epsilon that holds with the stated
confidence. The threshold is chosen on half of the trials and evaluated on the other half.

The default canary is a worst case for marginal-based synthesizers: in every column, the value
(category, or numeric bin) that is rarest in ``data``. The default attack statistic is the
canary's log-likelihood under the release's one-way frequencies (smoothed), plus a bonus for
exact matches.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.stats import beta

from privsynth.core.dataset import decode, encode, levels, validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError
from privsynth.core.progress import progress as progress_bar

__all__ = ["AuditResult", "audit", "clopper_pearson", "epsilon_lower_bound", "worst_case_canary"]


@dataclass(frozen=True)
class AuditResult:
    """The empirical epsilon lower bound beside the certificate's claim."""

    epsilon_lower_bound: float
    claimed_epsilon: float
    claimed_delta: float
    tpr: float
    fpr: float
    tpr_interval: tuple
    fpr_interval: tuple
    n_trials: int
    confidence: float
    threshold: float

    @property
    def exceeds_claim(self) -> bool:
        """True when the measured lower bound is above the claimed epsilon: the claim is false."""
        return self.epsilon_lower_bound > self.claimed_epsilon

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tpr_interval"], out["fpr_interval"] = list(self.tpr_interval), list(self.fpr_interval)
        out["exceeds_claim"] = self.exceeds_claim
        return out


def clopper_pearson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion."""
    alpha = 1 - confidence
    lo = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lo, hi


def epsilon_lower_bound(tpr_interval: tuple[float, float], fpr_interval: tuple[float, float], delta: float) -> float:
    """The largest epsilon the rates rule out: ``max(log((TPR_lo - delta) / FPR_hi),
    log((1 - FPR_hi - delta) / (1 - TPR_lo)))``, at least 0."""
    tpr_lo, _ = tpr_interval
    _, fpr_hi = fpr_interval
    bounds = [0.0]
    if tpr_lo - delta > 0 and fpr_hi > 0:
        bounds.append(math.log((tpr_lo - delta) / fpr_hi))
    if 1 - fpr_hi - delta > 0 and 1 - tpr_lo > 0:
        bounds.append(math.log((1 - fpr_hi - delta) / (1 - tpr_lo)))
    return max(bounds)


def worst_case_canary(data: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """One record whose every column takes its rarest value (category or public bin) in ``data``."""
    checked = validate(data, domain)
    codes = encode(checked, domain)
    sizes = levels(domain)
    rare = np.array([[int(np.argmin(np.bincount(codes[:, j], minlength=k)[: k - int(col.nullable)]))
                      for j, (k, col) in enumerate(zip(sizes, domain))]])
    return decode(rare, domain, rng=np.random.default_rng(0))


def _statistic(release: pd.DataFrame, canary_codes: np.ndarray, domain: Domain, sizes: tuple[int, ...]) -> float:
    codes = encode(release, domain)
    m = len(codes)
    loglik = sum(math.log((np.count_nonzero(codes[:, j] == canary_codes[j]) + 0.5) / (m + 0.5 * k)) for j, k in enumerate(sizes))
    exact = np.count_nonzero(np.all(codes == canary_codes, axis=1))
    return loglik + exact


def _trial(factory: Callable[[int], Any], dataset: pd.DataFrame, domain: Domain, seed: int, n_synthetic: int,
           canary_codes: np.ndarray, sizes: tuple[int, ...]) -> tuple[float, float, float]:
    synth = factory(seed).fit(dataset, domain)
    release = synth.sample(n_synthetic, random_state=seed)
    cert = synth.certificate_
    return _statistic(release, canary_codes, domain, sizes), cert.spent.epsilon, cert.limit.delta


def audit(
    synthesizer_factory: Callable[[int], Any],
    data: pd.DataFrame,
    domain: Domain,
    *,
    target: pd.DataFrame | None = None,
    n_trials: int = 200,
    n_synthetic: int | None = None,
    confidence: float = 0.95,
    n_jobs: int = 1,
    random_state: int = 0,
    progress: bool | None = None,
) -> AuditResult:
    """Audit a synthesizer's claimed epsilon with the distinguishing game.

    Args:
        synthesizer_factory: ``seed -> unfitted synthesizer`` (the claim is read from the fitted
            certificate; every trial must claim the same).
        data: The dataset without the canary.
        domain: Public domain.
        target: The canary (one record); default :func:`worst_case_canary`.
        n_trials: Independent fits (half choose the threshold, half measure).
        n_synthetic: Records sampled per fit (default 20,000: large samples remove the sampling
            noise from the statistic, which makes the attack -- and so the bound -- stronger).
        confidence: Of the Clopper-Pearson intervals (jointly, by a union bound).
        n_jobs: Parallel fits (joblib).
        progress: Show a progress bar (``None``: only in a terminal).

    Returns:
        An :class:`AuditResult`; ``exceeds_claim`` flags a false privacy claim.
    """
    if n_trials < 20:
        raise ValueError("n_trials must be at least 20 for a meaningful bound.")
    data = validate(data, domain)
    if len(data) == 0:
        raise DomainError("audit needs a non-empty dataset.")
    canary = worst_case_canary(data, domain) if target is None else validate(target, domain)
    if len(canary) != 1:
        raise DomainError("target must be exactly one record.")
    sizes = levels(domain)
    canary_codes = encode(canary, domain)[0]
    with_canary = pd.concat([data, canary], ignore_index=True)
    rng = np.random.default_rng(random_state)
    labels = rng.permutation(np.arange(n_trials) % 2)
    seeds = rng.integers(0, 2**31, size=n_trials)
    n_syn = 20_000 if n_synthetic is None else int(n_synthetic)

    from joblib import Parallel, delayed

    jobs = (delayed(_trial)(synthesizer_factory, with_canary if b else data, domain, int(s), n_syn, canary_codes, sizes)
            for b, s in zip(labels, seeds))
    out = []
    with progress_bar(total=n_trials, desc="audit", unit="fit", enabled=progress) as bar:
        for result in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
            out.append(result)
            bar.update(1)
    stats = np.array([o[0] for o in out])
    claims = {(round(o[1], 12), o[2]) for o in out}
    claimed_eps, claimed_delta = max(o[1] for o in out), max(o[2] for o in out)
    if len(claims) > 1:
        raise ValueError(f"The factory's synthesizers claim different budgets {sorted(claims)}; audit one claim at a time.")

    half = n_trials // 2
    cal_s, cal_y, ev_s, ev_y = stats[:half], labels[:half], stats[half:], labels[half:]
    candidates = np.unique(cal_s)

    def point_epsilon(th: float) -> float:
        tpr = (np.count_nonzero(cal_s[cal_y == 1] >= th) + 0.5) / (np.count_nonzero(cal_y == 1) + 1)
        fpr = (np.count_nonzero(cal_s[cal_y == 0] >= th) + 0.5) / (np.count_nonzero(cal_y == 0) + 1)
        return max(math.log(tpr / fpr), math.log((1 - fpr) / (1 - tpr)))

    threshold = float(max(candidates, key=point_epsilon))
    pos, neg = ev_s[ev_y == 1], ev_s[ev_y == 0]
    tp, fp = int(np.count_nonzero(pos >= threshold)), int(np.count_nonzero(neg >= threshold))
    joint = 1 - (1 - confidence) / 2  # union bound over the two intervals
    tpr_ci, fpr_ci = clopper_pearson(tp, len(pos), joint), clopper_pearson(fp, len(neg), joint)
    return AuditResult(
        epsilon_lower_bound=epsilon_lower_bound(tpr_ci, fpr_ci, claimed_delta),
        claimed_epsilon=claimed_eps, claimed_delta=claimed_delta,
        tpr=tp / max(len(pos), 1), fpr=fp / max(len(neg), 1), tpr_interval=tpr_ci, fpr_interval=fpr_ci,
        n_trials=n_trials, confidence=confidence, threshold=threshold,
    )
