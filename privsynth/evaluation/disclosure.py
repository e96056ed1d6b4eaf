"""SynMeter's membership disclosure score (Du & Li, CCS 2025): the worst record's distance gap over shadow fits.

Each of ``shadow_models`` fits sees half of the (deduplicated) records, chosen so that every
record is a member of exactly half of the fits (SynMeter's balanced assignment). Every fit
releases ``synthetic_datasets`` tables of as many rows as it was fitted on; a record's distance to
a release is the Euclidean distance to its nearest synthetic record over the columns encoded as
SynMeter does (categorical one-hot, numeric min-max scaled on the real values), divided by
``sqrt(columns)``, averaged over the fit's releases. A record's **disclosure score** is the gap
between its mean distance when it was a member and when it was not; the **MDS** is the largest
over the records: how much the release moves towards the most exposed record when it is in the
training data. It is an empirical risk measure (no DP bound): run it on small tables, with a
synthesizer factory like :func:`privsynth.evaluation.audit`'s.

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.make_census(120, random_state=0)
    >>> mds = membership_disclosure_score(df, domain, lambda s: ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=s),
    ...                                   shadow_models=4, synthetic_datasets=1)
    >>> 0 <= mds.score <= 1, mds.shadow_models
    (True, 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from privsynth.core.domain import Categorical, Domain
from privsynth.core.errors import DomainError
from privsynth.evaluation._checks import check_frame

__all__ = ["MembershipDisclosure", "membership_disclosure_score", "balanced_membership"]


@dataclass(frozen=True)
class MembershipDisclosure:
    """The MDS, the record that attains it, and every record's disclosure score."""

    score: float
    worst_record: int
    shadow_models: int
    synthetic_datasets: int
    per_record: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "worst_record": self.worst_record, "shadow_models": self.shadow_models,
                "synthetic_datasets": self.synthetic_datasets, "mean_record_score": float(np.nanmean(self.per_record))}


def balanced_membership(records: int, shadow_models: int, seed: int = 0) -> np.ndarray:
    """``(shadow_models, records)`` booleans: each record a member of exactly half of the fits (SynMeter's assignment)."""
    keep = np.random.default_rng(seed).uniform(size=(shadow_models, records))
    return keep.argsort(axis=0) < shadow_models // 2


def _encoder(real: pd.DataFrame, domain: Domain) -> Callable[[pd.DataFrame], np.ndarray]:
    parts: list[tuple[str, list[str] | None, tuple[float, float] | None]] = []
    for column in domain.columns:
        if isinstance(column, Categorical):
            parts.append((column.name, [str(c) for c in column.categories], None))
        else:
            values = pd.to_numeric(real[column.name], errors="coerce")
            lo, hi = float(values.min()), float(values.max())
            parts.append((column.name, None, (lo, hi - lo if hi > lo else 1.0)))

    def encode(frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for name, categories, scale in parts:
            if categories is not None:
                text = frame[name].astype(str).to_numpy()
                blocks.append((text[:, None] == np.asarray(categories)[None, :]).astype(float))
            elif scale is not None:
                x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
                blocks.append(np.nan_to_num((x - scale[0]) / scale[1])[:, None])
        return np.hstack(blocks)

    return encode


def membership_disclosure_score(data: pd.DataFrame, domain: Domain, factory: Callable[[int], Any], *, shadow_models: int = 20,
                                synthetic_datasets: int = 5, seed: int = 0) -> MembershipDisclosure:
    """SynMeter's membership disclosure score of a synthesizer on ``data``.

    Args:
        data: The records (deduplicated first, as SynMeter does).
        domain: Their declared domain.
        factory: ``seed -> unfitted synthesizer`` (each shadow fit gets its own seed).
        shadow_models: Fits (SynMeter: 20); even, at least 2.
        synthetic_datasets: Releases per fit (SynMeter: 100; fewer cost less and add sampling noise).
        seed: Seed of the membership assignment, the fits and the releases.

    Raises:
        DomainError: fewer than 4 distinct records, or a bad count of fits.
    """
    names = list(domain.names)
    check_frame(data, names, what="data")
    if shadow_models < 2 or shadow_models % 2:
        raise DomainError(f"shadow_models must be an even number of at least 2, got {shadow_models}.")
    if synthetic_datasets < 1:
        raise DomainError(f"synthetic_datasets must be at least 1, got {synthetic_datasets}.")
    records = data[names].drop_duplicates().reset_index(drop=True)
    if len(records) < 4:
        raise DomainError(f"The membership disclosure score needs at least 4 distinct records, got {len(records)}.")
    encode = _encoder(records, domain)
    real = encode(records)
    member = balanced_membership(len(records), shadow_models, seed)
    distances = np.zeros((shadow_models, len(records)))
    # one independent stream per fit and per release (SeedSequence, not seed + k)
    streams = np.random.SeedSequence(seed).generate_state(shadow_models * (1 + synthetic_datasets), np.uint32)
    streams = streams.reshape(shadow_models, 1 + synthetic_datasets).astype(int)
    for k in range(shadow_models):
        model = factory(int(streams[k, 0]))
        if "progress" in model.get_params():
            model.set_params(progress=False)
        model.fit(records[member[k]].reset_index(drop=True), domain)
        for j in range(synthetic_datasets):
            release = model.sample(int(member[k].sum()), random_state=int(streams[k, 1 + j]))
            nearest = NearestNeighbors(n_neighbors=1).fit(encode(release))
            distances[k] += nearest.kneighbors(real)[0][:, 0] / np.sqrt(len(names)) / synthetic_datasets
    inside = np.where(member, distances, np.nan)
    outside = np.where(~member, distances, np.nan)
    per_record = np.abs(np.nanmean(inside, axis=0) - np.nanmean(outside, axis=0))
    worst = int(np.nanargmax(per_record))
    return MembershipDisclosure(score=float(per_record[worst]), worst_record=worst, shadow_models=shadow_models,
                                synthetic_datasets=synthetic_datasets, per_record=per_record)
