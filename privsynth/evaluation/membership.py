"""Membership-inference risk of a synthetic release.

Three attacks, each scoring real records (higher = "was in the training data"):

* ``"dcr"`` -- distance to the closest synthetic record (Gower-style L1 on public scales); the
  holdout (non-members) is the baseline: a private release puts members no closer than them.
* ``"density"`` -- in the spirit of DOMIAS (van Breugel et al., AISTATS 2023): the ratio of the
  synthetic data's density to a reference density at the record (Gaussian kernel density
  estimates), which targets *overfitting* to members rather than general closeness.
* shadow models -- in the spirit of Stadler, Oprisanu, Troncoso (USENIX Security 2022): for
  chosen (by default outlier) target records, refit the synthesizer (given as a factory) on
  datasets with and without the target, learn to tell the two apart from features of the
  synthetic data, and report the attack's AUC on fresh fits.

Outputs are not private (they use the real data) and spend no budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from privsynth.core.dataset import encode, validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError
from privsynth.evaluation._features import embed, nearest_distances
from privsynth.evaluation._roc import bootstrap_roc, roc_summary

__all__ = ["AttackResult", "TargetResult", "MembershipInference", "membership_inference"]


@dataclass(frozen=True)
class AttackResult:
    """One attack's ROC summary with bootstrap confidence intervals."""

    attack: str
    auc: float
    tpr_at_1pct_fpr: float
    tpr_at_0_1pct_fpr: float
    advantage: float
    ci: dict = field(default_factory=dict)
    n_members: int = 0
    n_non_members: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = {k: list(v) for k, v in self.ci.items()}
        return out


@dataclass(frozen=True)
class TargetResult:
    """A shadow-model attack on one target record (its row position in ``members``)."""

    target: int
    auc: float
    advantage: float
    n_shadow: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MembershipInference:
    """Every attack's result, per-target shadow-model results, and median closest distances."""

    attacks: dict
    targets: tuple = ()
    median_dcr_members: float = float("nan")
    median_dcr_non_members: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "attacks": {k: v.to_dict() for k, v in self.attacks.items()},
            "targets": [t.to_dict() for t in self.targets],
            "median_dcr_members": self.median_dcr_members,
            "median_dcr_non_members": self.median_dcr_non_members,
        }


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[rng.choice(len(x), size=n, replace=False)]


def _log_density(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import KernelDensity

    d = points.shape[1]
    spread = float(np.mean(points.std(axis=0))) or 0.1
    bandwidth = max(spread * len(points) ** (-1.0 / (d + 4)), 1e-3)  # Scott's rule
    return KernelDensity(bandwidth=bandwidth, algorithm="auto").fit(points).score_samples(queries)


def _shadow_features(synthetic_codes: np.ndarray, synthetic_emb: np.ndarray, target_codes: np.ndarray,
                     target_emb: np.ndarray) -> np.ndarray:
    dist = np.abs(synthetic_emb - target_emb).sum(axis=1)
    near = np.sort(dist)[: min(5, len(dist))]
    matches = (synthetic_codes == target_codes).mean(axis=0)  # frequency of the target's value per column
    return np.r_[near.min(), near.mean(), (dist < 1e-9).mean(), matches]


def _shadow_attack(factory: Callable[[int], Any], target: pd.DataFrame, pool: pd.DataFrame, domain: Domain, *, n_shadow: int,
                   shadow_size: int, n_synthetic: int, rng: np.random.Generator) -> tuple[float, float]:
    from sklearn.ensemble import RandomForestClassifier

    t_codes, t_emb = encode(target, domain)[0], embed(target, domain)[0]
    feats, labels = [], []
    for i in range(n_shadow):
        base = pool.iloc[rng.choice(len(pool), size=min(shadow_size, len(pool)), replace=False)]
        member = i % 2 == 1
        train = pd.concat([base.iloc[1:], target]) if member else base
        seed = int(rng.integers(2**31))
        synth = factory(seed).fit(train, domain).sample(n_synthetic, random_state=seed)
        feats.append(_shadow_features(encode(synth, domain), embed(synth, domain), t_codes, t_emb))
        labels.append(int(member))
    x, y = np.array(feats), np.array(labels)
    half = n_shadow // 2
    clf = RandomForestClassifier(n_estimators=100, random_state=0).fit(x[:half], y[:half])
    scores = clf.predict_proba(x[half:])[:, 1] if len(set(y[:half])) > 1 else np.zeros(len(y) - half)
    test_y = y[half:]
    if len(set(test_y)) < 2:
        return 0.5, 0.0
    s = roc_summary(scores[test_y == 1], scores[test_y == 0])
    return s["auc"], s["advantage"]


def membership_inference(
    synthetic: pd.DataFrame,
    members: pd.DataFrame,
    non_members: pd.DataFrame,
    domain: Domain,
    *,
    reference: pd.DataFrame | None = None,
    attacks: Sequence[str] = ("dcr", "density"),
    synthesizer_factory: Callable[[int], Any] | None = None,
    targets: Sequence[int] | None = None,
    n_targets: int = 3,
    n_shadow: int = 40,
    shadow_size: int = 500,
    n_eval: int = 1000,
    max_synthetic: int = 5000,
    n_bootstrap: int = 200,
    random_state: int = 0,
) -> MembershipInference:
    """Run membership-inference attacks against a synthetic release.

    Args:
        synthetic: The release.
        members: Records the synthesizer was trained on.
        non_members: Records from the same population it did not see (the holdout).
        domain: Public domain of all three.
        reference: The density attack's reference sample (default: half of ``non_members``,
            the other half being evaluated).
        attacks: Any of ``"dcr"``, ``"density"``.
        synthesizer_factory: ``seed -> unfitted synthesizer``; enables the shadow-model attack
            on ``targets`` (row positions in ``members``; default: the ``n_targets`` members
            farthest from every other real record).
        n_shadow: Shadow fits per target (half train the attack, half test it).
        shadow_size: Records per shadow training set (drawn from ``non_members``).
        n_eval: Members and non-members scored per attack (subsampled).
        max_synthetic: Synthetic records used by the attacks (subsampled).
        n_bootstrap: Bootstrap resamples for the confidence intervals.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(1200, random_state=0)
        >>> members, holdout = df.iloc[:600], df.iloc[600:]
        >>> copy = membership_inference(members, members, holdout, domain, attacks=["dcr"], n_bootstrap=0)
        >>> copy.attacks["dcr"].auc > 0.95
        True
    """
    unknown = set(attacks) - {"dcr", "density"}
    if unknown:
        raise ValueError(f"Unknown attacks {sorted(unknown)}; use 'dcr' and/or 'density'.")
    for name, frame in (("synthetic", synthetic), ("members", members), ("non_members", non_members)):
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise DomainError(f"{name} must be a non-empty DataFrame.")
    rng = np.random.default_rng(random_state)
    syn = _subsample(embed(synthetic, domain), max_synthetic, rng)
    mem_all = embed(members, domain)
    non_all = embed(non_members, domain)
    mem = _subsample(mem_all, n_eval, rng)
    if reference is None and "density" in attacks and len(non_all) >= 4:
        perm = rng.permutation(len(non_all))
        ref, non = non_all[perm[: len(perm) // 2]], _subsample(non_all[perm[len(perm) // 2 :]], n_eval, rng)
    else:
        ref = embed(reference, domain) if reference is not None else non_all
        non = _subsample(non_all, n_eval, rng)

    results: dict[str, AttackResult] = {}
    dcr_m = nearest_distances(mem, syn)[:, 0]
    dcr_n = nearest_distances(non, syn)[:, 0]
    scores = {}
    if "dcr" in attacks:
        scores["dcr"] = (-dcr_m, -dcr_n)
    if "density" in attacks:
        ref_s = _subsample(ref, max_synthetic, rng)
        scores["density"] = (_log_density(mem, syn) - _log_density(mem, ref_s), _log_density(non, syn) - _log_density(non, ref_s))
    for name, (sm, sn) in scores.items():
        summary = roc_summary(sm, sn)
        ci = bootstrap_roc(sm, sn, n_bootstrap=n_bootstrap, rng=rng) if n_bootstrap else {}
        results[name] = AttackResult(attack=name, ci=ci, n_members=len(sm), n_non_members=len(sn), **summary)

    target_results: list[TargetResult] = []
    if synthesizer_factory is not None:
        if targets is None:
            others = np.vstack([mem_all, non_all])
            isolation = nearest_distances(mem_all, others, k=2)[:, 1]  # nearest *other* record
            targets = [int(i) for i in np.argsort(-isolation)[:n_targets]]
        pool = validate(non_members, domain)
        checked_members = validate(members, domain)
        for t in targets:
            auc, adv = _shadow_attack(synthesizer_factory, checked_members.iloc[[t]], pool, domain, n_shadow=n_shadow,
                                      shadow_size=shadow_size, n_synthetic=shadow_size, rng=rng)
            target_results.append(TargetResult(target=int(t), auc=auc, advantage=adv, n_shadow=n_shadow))
    return MembershipInference(attacks=results, targets=tuple(target_results),
                               median_dcr_members=float(np.median(dcr_m)), median_dcr_non_members=float(np.median(dcr_n)))
