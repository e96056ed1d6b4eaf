import numpy as np
import pandas as pd
import pytest
from scipy import stats

import privsynth as ps
from privsynth.core.dataset import encode, levels
from privsynth.synthesizers import DPGaussianCopula, IndependentMarginals
from privsynth.synthesizers.copula import nearest_correlation, spearman_to_pearson
from privsynth.testing import check_synthesizer

HUGE = 1e8  # test-only setting


@pytest.mark.parametrize("params", [
    {"epsilon": 1.0}, {"epsilon": 1.0, "delta": 1e-6}, {"epsilon": 1.0, "delta": 1e-6, "secure": True},
    {"epsilon": 1.0, "delta": 1e-6, "accountant": "pld"}, {"epsilon": 2.0, "marginal_share": 0.3},
])
def test_contract(census, params):
    data, domain = census
    check_synthesizer(DPGaussianCopula(random_state=0, **params), data, domain)


def test_spearman_to_pearson_and_projection():
    np.testing.assert_allclose(spearman_to_pearson(np.array([-1.0, 0.0, 0.5, 1.0])), [-1.0, 0.0, 2 * np.sin(np.pi / 12), 1.0])
    valid = np.array([[1.0, 0.3], [0.3, 1.0]])
    np.testing.assert_allclose(nearest_correlation(valid), valid, atol=1e-8)
    bad = np.array([[1.0, 0.95, -0.95], [0.95, 1.0, 0.95], [-0.95, 0.95, 1.0]])
    fixed = nearest_correlation(bad)
    assert np.linalg.eigvalsh(fixed).min() > 0 and np.allclose(np.diag(fixed), 1) and np.allclose(fixed, fixed.T)


def gaussian_table(n=20_000, r=0.7, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=n)
    domain = ps.Domain((ps.Numeric("a", -5, 5, bins=60), ps.Numeric("b", -5, 5, bins=60)))
    return pd.DataFrame({"a": np.clip(z[:, 0], -5, 5), "b": np.clip(z[:, 1], -5, 5)}), domain


def test_huge_epsilon_gives_the_noise_free_model():
    data, domain = gaussian_table()
    syn = DPGaussianCopula(epsilon=HUGE, delta=1e-6, random_state=0).fit(data, domain)
    codes = encode(data, domain)
    for j, k in enumerate(levels(domain)):
        np.testing.assert_allclose(syn.marginals_[j], np.bincount(codes[:, j], minlength=k) / len(data), atol=1e-6)
    # brute force: Spearman of the cells' mid-ranks, mapped to Pearson
    mids = []
    for j in range(2):
        p = syn.marginals_[j]
        mids.append((np.cumsum(p) - p / 2)[codes[:, j]])
    rho = 12 * np.mean((mids[0] - 0.5) * (mids[1] - 0.5))
    assert syn.correlation_[0, 1] == pytest.approx(spearman_to_pearson(rho), abs=1e-4)
    assert syn.correlation_[0, 1] == pytest.approx(0.7, abs=0.03)
    out = syn.sample(20_000, random_state=1)
    assert stats.spearmanr(out["a"], out["b"])[0] == pytest.approx(stats.spearmanr(data["a"], data["b"])[0], abs=0.03)


def test_correlation_sum_sensitivity_is_a_quarter_per_pair():
    """One record changes each (u_j - 1/2)(u_k - 1/2) sum by at most 1/4: u lies in [0, 1]."""
    rng = np.random.default_rng(0)
    u = rng.random((1, 6))
    centered = u - 0.5
    contribution = np.outer(centered[0], centered[0])[np.triu_indices(6, 1)]
    assert np.abs(contribution).max() <= 0.25
    assert np.linalg.norm(contribution) <= np.sqrt(15) / 4


def test_fidelity_degrades_gracefully_with_epsilon(census):
    data, domain = census
    tvd = []
    for eps in (1e4, 3.0, 0.05):
        tvd.append(np.mean([ps.evaluation.marginal_tvd(
            data, DPGaussianCopula(epsilon=eps, delta=1e-6, random_state=s).fit(data, domain).sample(5000, random_state=s),
            domain, order=2).average for s in range(3)]))
    assert tvd[0] < tvd[1] < tvd[2] < 0.6


def test_captures_correlation_that_independence_loses():
    data, domain = gaussian_table(r=0.8)
    cop = DPGaussianCopula(epsilon=1.0, delta=1e-6, random_state=0).fit(data, domain).sample(10_000)
    ind = IndependentMarginals(epsilon=1.0, delta=1e-6, random_state=0).fit(data, domain).sample(10_000)
    assert stats.spearmanr(cop["a"], cop["b"])[0] > 0.7 > 0.1 > abs(stats.spearmanr(ind["a"], ind["b"])[0])


def test_ledger_and_parameters(census):
    data, domain = census
    syn = DPGaussianCopula(epsilon=1.0, delta=1e-6, random_state=0).fit(data, domain)
    cert = syn.certificate_
    assert len(cert.entries) == 1 + len(domain) + 1
    assert cert.entries[-1].label == "rank-correlation sums of all column pairs"
    assert cert.spent.epsilon <= 1.0 and cert.spent.epsilon > 0.999  # calibrated jointly, nothing wasted
    with pytest.raises(ValueError, match="marginal_share"):
        DPGaussianCopula(marginal_share=0).fit(data, domain)


def test_unordered_categories_follow_dp_frequencies(census):
    data, domain = census
    syn = DPGaussianCopula(epsilon=HUGE, random_state=0).fit(data, domain)
    j = domain.names.index("race")
    order = syn.orders_[j]
    assert list(np.diff(syn.marginals_[j][order]) <= 0) == [True] * (len(order) - 1)
    k = domain.names.index("education")  # ordinal: natural order kept
    assert list(syn.orders_[k]) == list(range(len(syn.orders_[k])))
