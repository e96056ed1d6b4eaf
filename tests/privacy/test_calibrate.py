"""Calibration never overshoots its target, and is tight."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.privacy import (
    GaussianEvent,
    LaplaceEvent,
    PldAccountant,
    RdpAccountant,
    SubsampledGaussianEvent,
    dpsgd_noise_multiplier,
    gaussian_noise_multiplier,
    laplace_noise_multiplier,
    split_epsilon,
)


@settings(max_examples=40, deadline=None)
@given(epsilon=st.floats(min_value=0.05, max_value=20.0), delta=st.floats(min_value=1e-10, max_value=1e-2),
       count=st.integers(min_value=1, max_value=50))
def test_gaussian_calibration_never_overshoots_and_is_tight(epsilon, delta, count):
    nm = gaussian_noise_multiplier(epsilon=epsilon, delta=delta, count=count)
    acc = RdpAccountant()
    assert acc.epsilon([GaussianEvent(noise_multiplier=nm)] * count, delta) <= epsilon
    assert acc.epsilon([GaussianEvent(noise_multiplier=nm * (1 - 1e-5))] * count, delta) > epsilon * (1 - 1e-3)


@settings(max_examples=5, deadline=None)
@given(epsilon=st.floats(min_value=0.3, max_value=10.0), q=st.floats(min_value=0.001, max_value=0.2),
       steps=st.integers(min_value=10, max_value=5000))
def test_dpsgd_calibration_never_overshoots(epsilon, q, steps):
    delta = 1e-5
    nm = dpsgd_noise_multiplier(epsilon=epsilon, delta=delta, sampling_rate=q, steps=steps)
    event = SubsampledGaussianEvent(noise_multiplier=nm, sampling_rate=q, steps=steps)
    assert RdpAccountant().epsilon([event], delta) <= epsilon


def test_dpsgd_calibration_with_pld_and_prior_spend():
    prior = [LaplaceEvent(noise_multiplier=10.0)]
    nm = dpsgd_noise_multiplier(epsilon=2.0, delta=1e-5, sampling_rate=0.01, steps=1000,
                                accountant=PldAccountant(value_discretization_interval=1e-3), already_spent=prior)
    event = SubsampledGaussianEvent(noise_multiplier=nm, sampling_rate=0.01, steps=1000)
    total = PldAccountant(value_discretization_interval=1e-3).epsilon([*prior, event], 1e-5)
    assert 1.99 < total <= 2.0


@settings(max_examples=200, deadline=None)
@given(epsilon=st.floats(min_value=1e-6, max_value=1e6))
def test_laplace_multiplier_never_overshoots(epsilon):
    assert LaplaceEvent(noise_multiplier=laplace_noise_multiplier(epsilon)).epsilon <= epsilon


@settings(max_examples=200, deadline=None)
@given(epsilon=st.floats(min_value=1e-3, max_value=1e3),
       weights=st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=30))
def test_split_never_exceeds(epsilon, weights):
    parts = split_epsilon(epsilon, weights)
    assert len(parts) == len(weights) and all(p > 0 for p in parts)
    assert math.fsum(parts) <= epsilon
    eps_each = [LaplaceEvent(noise_multiplier=laplace_noise_multiplier(p)).epsilon for p in parts]
    assert math.fsum(eps_each) <= epsilon


def test_impossible_targets_say_why():
    with pytest.raises(ValueError, match="delta > 0"):
        gaussian_noise_multiplier(epsilon=1.0, delta=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        gaussian_noise_multiplier(epsilon=-1.0, delta=1e-5)
    with pytest.raises(ValueError, match="weights"):
        split_epsilon(1.0, [1.0, 0.0])
