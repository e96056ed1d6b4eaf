"""Each mechanism charges before it draws, and its noise has the stated scale (fixed seeds,
tolerances of several standard errors)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from privsynth import BudgetExceededError
from privsynth.mechanisms import (
    discrete_gaussian,
    discrete_laplace,
    exponential,
    exponential_probabilities,
    gaussian,
    histogram,
    laplace,
    noisy_count,
    noisy_histogram,
)
from privsynth.mechanisms._samplers import discrete_gaussian_exact, discrete_laplace_exact
from privsynth.privacy import Budget, Ledger, RdpAccountant
from privsynth.privacy.events import ExponentialEvent, GaussianEvent, LaplaceEvent

N = 200_000


def big_ledger(delta=1e-6):
    return Ledger(Budget(epsilon=1e9, delta=delta))


def discrete_laplace_variance(scale):
    a = math.exp(-1 / scale)
    return 2 * a / (1 - a) ** 2


def discrete_gaussian_variance(sigma):
    k = np.arange(-int(20 * sigma) - 10, int(20 * sigma) + 11)
    w = np.exp(-(k**2) / (2 * sigma**2))
    return float((k**2 * w).sum() / w.sum())


def test_laplace_scale_and_charge():
    ledger = big_ledger()
    out = laplace(np.zeros(N), l1_sensitivity=2.0, epsilon=0.5, ledger=ledger, rng=np.random.default_rng(1), label="x")
    b = 2.0 / 0.5
    assert out.std() == pytest.approx(math.sqrt(2) * b, rel=0.01)
    assert abs(out.mean()) < 5 * math.sqrt(2) * b / math.sqrt(N)
    assert stats.kstest(out, stats.laplace(scale=b).cdf).pvalue > 0.001
    (entry,) = ledger.entries
    assert entry.event == LaplaceEvent(noise_multiplier=2.0) and entry.label == "x"


def test_discrete_laplace_scale():
    ledger = big_ledger()
    out = discrete_laplace(np.zeros(N, dtype=int), epsilon=0.25, l1_sensitivity=2, ledger=ledger, rng=np.random.default_rng(2), label="c")
    assert out.dtype == np.int64
    assert out.var() == pytest.approx(discrete_laplace_variance(8.0), rel=0.02)
    assert ledger.entries[0].event == LaplaceEvent(noise_multiplier=4.0, discrete=True)


def test_gaussian_scale_with_calibration():
    ledger = big_ledger(1e-5)
    out = gaussian(np.zeros(N), l2_sensitivity=3.0, epsilon=1.0, delta=1e-5, ledger=ledger, rng=np.random.default_rng(3), label="g")
    nm = ledger.entries[0].event.noise_multiplier
    assert RdpAccountant().epsilon([GaussianEvent(noise_multiplier=nm)], 1e-5) <= 1.0
    assert out.std() == pytest.approx(3.0 * nm, rel=0.01)
    assert stats.kstest(out / (3.0 * nm), "norm").pvalue > 0.001


def test_discrete_gaussian_scale():
    out = discrete_gaussian(np.zeros(N, dtype=int), noise_multiplier=2.5, ledger=big_ledger(), rng=np.random.default_rng(4), label="d")
    assert out.var() == pytest.approx(discrete_gaussian_variance(2.5), rel=0.02)
    assert abs(out.mean()) < 0.05


@pytest.mark.parametrize("sampler, scale, variance", [
    (discrete_laplace_exact, Fraction(3), discrete_laplace_variance(3.0)),
    (discrete_gaussian_exact, Fraction(4), discrete_gaussian_variance(2.0)),  # sigma^2 = 4
])
def test_exact_samplers(sampler, scale, variance):
    out = sampler(scale, 20_000)
    assert out.var() == pytest.approx(variance, rel=0.06)
    assert abs(out.mean()) < 5 * math.sqrt(variance / 20_000)


def test_exact_discrete_laplace_pmf():
    out = discrete_laplace_exact(Fraction(1), 20_000)
    a = math.exp(-1)
    values, counts = np.unique(np.clip(out, -4, 4), return_counts=True)
    pmf = {k: (1 - a) / (1 + a) * a ** abs(k) for k in range(-3, 4)}
    for v, c in zip(values, counts):
        if -3 <= v <= 3:
            assert c / 20_000 == pytest.approx(pmf[v], abs=4 * math.sqrt(pmf[v] / 20_000))


def test_secure_paths_charge_and_stay_close():
    ledger = big_ledger(1e-5)
    x = laplace(np.full(2000, 5.0), l1_sensitivity=1.0, epsilon=2.0, ledger=ledger, label="s", secure=True)
    assert x.mean() == pytest.approx(5.0, abs=0.15) and x.std() == pytest.approx(math.sqrt(2) / 2, rel=0.1)
    y = gaussian(np.zeros(2000), l2_sensitivity=1.0, noise_multiplier=1.5, ledger=ledger, label="s2", secure=True)
    assert y.std() == pytest.approx(1.5, rel=0.1)
    counts = noisy_histogram(np.array([0, 1, 1]), (3,), epsilon=1.0, ledger=ledger, label="h", secure=True)
    assert counts.dtype == np.int64
    assert [e.event.discrete for e in ledger.entries] == [True, True, True]


def test_exponential_mechanism_frequencies():
    scores = np.array([0.0, 1.0, 2.0, 4.0])
    p = exponential_probabilities(scores, sensitivity=1.0, epsilon=1.0)
    np.testing.assert_allclose(p, np.exp(scores / 2) / np.exp(scores / 2).sum())
    ledger = big_ledger()
    rng = np.random.default_rng(5)
    picks = [exponential(scores, sensitivity=1.0, epsilon=1.0, ledger=ledger, rng=rng, label="e") for _ in range(10_000)]
    freq = np.bincount(picks, minlength=4) / 10_000
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / 10_000))
    assert ledger.entries[0].event == ExponentialEvent(epsilon=1.0)
    mono = exponential_probabilities(scores, sensitivity=1.0, epsilon=1.0, monotonic=True)
    np.testing.assert_allclose(mono, np.exp(scores) / np.exp(scores).sum())
    assert 0 <= exponential(scores, sensitivity=1.0, epsilon=1.0, ledger=ledger, label="s", secure=True) < 4


def test_charge_happens_before_noise_is_drawn():
    """A refused charge raises before the generator is touched: its state is unchanged."""
    ledger = Ledger(Budget(epsilon=0.1))
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    for call in (
        lambda: laplace(1.0, l1_sensitivity=1.0, epsilon=1.0, ledger=ledger, rng=rng, label="a"),
        lambda: discrete_laplace(1, epsilon=1.0, ledger=ledger, rng=rng, label="b"),
        lambda: exponential(np.zeros(3), sensitivity=1.0, epsilon=1.0, ledger=ledger, rng=rng, label="c"),
        lambda: noisy_count([1, 2], epsilon=1.0, ledger=ledger, rng=rng),
    ):
        with pytest.raises(BudgetExceededError):
            call()
    assert rng.bit_generator.state == state and ledger.entries == ()


def test_bad_calls_are_explained():
    ledger = big_ledger()
    with pytest.raises(TypeError, match="rng=np.random.default_rng"):
        laplace(1.0, l1_sensitivity=1.0, epsilon=1.0, ledger=ledger, label="x")
    with pytest.raises(ValueError, match="finite"):
        laplace([1.0, np.nan], l1_sensitivity=1.0, epsilon=1.0, ledger=ledger, rng=np.random.default_rng(), label="x")
    with pytest.raises(ValueError, match="integers"):
        discrete_laplace([1.5], epsilon=1.0, ledger=ledger, rng=np.random.default_rng(), label="x")
    with pytest.raises(ValueError, match="delta > 0"):
        gaussian(1.0, l2_sensitivity=1.0, epsilon=1.0, delta=0.0, ledger=ledger, rng=np.random.default_rng(), label="x")
    with pytest.raises(ValueError, match="not both"):
        gaussian(1.0, l2_sensitivity=1.0, epsilon=1.0, delta=1e-5, noise_multiplier=2.0, ledger=ledger, rng=np.random.default_rng(),
                 label="x")
    with pytest.raises(TypeError, match="Ledger"):
        laplace(1.0, l1_sensitivity=1.0, epsilon=1.0, ledger=None, rng=np.random.default_rng(), label="x")
    with pytest.raises(ValueError, match="exactly one"):
        noisy_histogram(np.array([0]), (2,), ledger=ledger, rng=np.random.default_rng(), label="h")
    assert ledger.entries == ()


def test_histogram_and_noisy_count():
    codes = np.array([[0, 1], [0, 1], [1, 0]])
    np.testing.assert_array_equal(histogram(codes, (2, 2)), [[0, 2], [1, 0]])
    with pytest.raises(ValueError, match="out of range"):
        histogram(np.array([[2, 0]]), (2, 2))
    ledger = big_ledger()
    counts = [noisy_count(range(50), epsilon=1.0, ledger=ledger, rng=np.random.default_rng(i)) for i in range(2000)]
    assert np.mean(counts) == pytest.approx(50, abs=0.2) and min(counts) >= 0


def test_exponential_with_a_lazy_feasibility_predicate_is_the_mechanism_over_the_feasible_candidates():
    from privsynth.mechanisms.exponential import exponential, exponential_probabilities

    scores = np.array([3.0, 1.0, 2.5, 0.0, 2.0])
    feasible = {1, 2, 4}
    asked: list[int] = []

    def fits(i: int) -> bool:
        asked.append(i)
        return i in feasible

    rng = np.random.default_rng(0)
    ledger = Ledger(Budget(epsilon=1e9))
    trials = 20_000
    picks = np.bincount([exponential(scores, sensitivity=1.0, epsilon=2.0, ledger=ledger, rng=rng, label="x", feasible=fits)
                         for _ in range(trials)], minlength=5) / trials
    expected = np.zeros(5)
    expected[sorted(feasible)] = exponential_probabilities(scores[sorted(feasible)], sensitivity=1.0, epsilon=2.0)
    assert np.abs(picks - expected).max() < 0.015  # ~4.5 standard errors at 20k draws
    assert len(asked) < 3 * trials  # the predicate is asked for a few candidates per draw, not all
    secure = exponential(scores, sensitivity=1.0, epsilon=2.0, ledger=ledger, label="x", secure=True, feasible=fits)
    assert secure in feasible
    with pytest.raises(ValueError, match="No feasible"):
        exponential(scores, sensitivity=1.0, epsilon=2.0, ledger=ledger, rng=rng, label="x", feasible=lambda i: False)
