"""SynMeter's membership disclosure score: a copying synthesizer discloses, a DP one far less."""

from __future__ import annotations

import numpy as np
import pytest

import privsynth as ps
from privsynth.core.errors import DomainError
from privsynth.evaluation.disclosure import balanced_membership, membership_disclosure_score


class Copier:
    """Releases its training records (the worst case for membership)."""

    def get_params(self):
        return {}

    def fit(self, df, domain):
        self.rows = df.reset_index(drop=True)
        return self

    def sample(self, n, random_state=None):
        return self.rows.sample(n, replace=True, random_state=random_state)


@pytest.fixture(scope="module")
def census():
    return ps.datasets.make_census(200, random_state=0)


def test_each_record_is_a_member_of_exactly_half_of_the_fits():
    member = balanced_membership(50, 6, seed=1)
    assert member.shape == (6, 50) and (member.sum(axis=0) == 3).all()


def test_a_copy_discloses_far_more_than_a_dp_synthesizer(census):
    df, domain = census
    copy = membership_disclosure_score(df, domain, lambda s: Copier(), shadow_models=6, synthetic_datasets=2)
    dp = membership_disclosure_score(df, domain, lambda s: ps.synthesizers.IndependentMarginals(epsilon=0.5, random_state=s),
                                     shadow_models=6, synthetic_datasets=2)
    assert copy.score > 2 * dp.score and copy.score > 0.05
    assert np.isfinite(copy.per_record).all() and copy.per_record[copy.worst_record] == copy.score
    assert set(copy.to_dict()) == {"score", "worst_record", "shadow_models", "synthetic_datasets", "mean_record_score"}


def test_bad_arguments(census):
    df, domain = census
    with pytest.raises(DomainError, match="even"):
        membership_disclosure_score(df, domain, lambda s: Copier(), shadow_models=3)
    with pytest.raises(DomainError, match="distinct"):
        membership_disclosure_score(df.iloc[:3], domain, lambda s: Copier(), shadow_models=2)
