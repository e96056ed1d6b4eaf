"""Golden values: our accountants against closed forms and Opacus's independent RDP code."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from privsynth.privacy import (
    ComposedEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PldAccountant,
    PureDpEvent,
    RdpAccountant,
    SubsampledGaussianEvent,
    get_accountant,
)
from privsynth.privacy.accountants import DEFAULT_RDP_ORDERS

OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def rdp_to_dp(orders, rdp, delta):
    """Canonne-Kamath-Steinke (2020) conversion, Prop. 12, written out independently."""
    orders, rdp = np.asarray(orders, float), np.asarray(rdp, float)
    eps = rdp + np.log1p(-1 / orders) - np.log(delta * orders) / (orders - 1)
    return float(np.min(eps[orders > 1.01]))


def analytic_gaussian_epsilon(mu, delta):
    """Exact epsilon(delta) of mu-GDP (Balle & Wang 2018; Dong, Roth, Su 2019)."""
    def f(e):
        return norm.cdf(-e / mu + mu / 2) - math.exp(e) * norm.cdf(-e / mu - mu / 2) - delta

    return brentq(f, 0, 100)


@pytest.mark.parametrize("k, b", [(1, 1.0), (3, 2.0), (10, 7.5)])
def test_laplace_composition_is_exact_sum(k, b):
    events = [LaplaceEvent(noise_multiplier=b)] * k
    for acc in (RdpAccountant(), PldAccountant()):
        assert acc.epsilon(events, 0.0) == pytest.approx(k / b, rel=1e-12)
        assert acc.epsilon(events, 1e-6) <= k / b * (1 + 1e-12)


@pytest.mark.parametrize("sigma, k, delta", [(1.0, 1, 1e-5), (2.0, 10, 1e-6), (5.0, 100, 1e-8), (0.7, 3, 1e-3)])
def test_gaussian_rdp_matches_closed_form(sigma, k, delta):
    orders = np.array(DEFAULT_RDP_ORDERS)
    expected = rdp_to_dp(orders, k * orders / (2 * sigma**2), delta)
    got = RdpAccountant().epsilon([GaussianEvent(noise_multiplier=sigma)] * k, delta)
    assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("sigma, k, delta", [(1.0, 1, 1e-5), (2.0, 10, 1e-6), pytest.param(4.0, 50, 1e-7, marks=pytest.mark.slow)])
def test_gaussian_pld_is_tight_and_never_below_exact(sigma, k, delta):
    exact = analytic_gaussian_epsilon(math.sqrt(k) / sigma, delta)  # k Gaussians = one mu-GDP
    got = PldAccountant(value_discretization_interval=1e-5).epsilon([GaussianEvent(noise_multiplier=sigma)] * k, delta)
    assert exact - 1e-9 <= got <= exact * (1 + 1e-3)
    assert got <= RdpAccountant().epsilon([GaussianEvent(noise_multiplier=sigma)] * k, delta)


@pytest.mark.parametrize(
    "q, sigma, steps, delta",
    [(0.01, 1.1, 1000, 1e-5), (0.001, 0.8, 10000, 1e-6), (0.05, 2.0, 500, 1e-5), (0.2, 5.0, 30, 1e-4), (1.0, 3.0, 10, 1e-5)],
)
def test_subsampled_gaussian_matches_opacus(q, sigma, steps, delta):
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    rdp = compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=OPACUS_ORDERS)
    expected, _ = get_privacy_spent(orders=OPACUS_ORDERS, rdp=rdp, delta=delta)
    event = SubsampledGaussianEvent(noise_multiplier=sigma, sampling_rate=q, steps=steps)
    got = RdpAccountant(orders=OPACUS_ORDERS).epsilon([event], delta)
    assert got == pytest.approx(expected, rel=1e-6)
    # the default (larger) set of orders can only tighten the bound
    assert RdpAccountant().epsilon([event], delta) <= got * (1 + 1e-12)
    # steps recorded one by one compose to the same number
    if steps <= 1000:
        split = [SubsampledGaussianEvent(noise_multiplier=sigma, sampling_rate=q, steps=1)] * steps
        assert RdpAccountant(orders=OPACUS_ORDERS).epsilon(split, delta) == pytest.approx(expected, rel=1e-6)


def test_exponential_and_pure_events_use_the_better_bound():
    acc = RdpAccountant()
    assert acc.epsilon([ExponentialEvent(epsilon=0.3)], 0.0) == pytest.approx(0.3)
    many = [ExponentialEvent(epsilon=0.1)] * 200
    delta = 1e-6
    orders = np.array(DEFAULT_RDP_ORDERS)
    zcdp = rdp_to_dp(orders, 200 * 0.1**2 / 8 * orders, delta)  # bounded range: eps^2/8-zCDP each
    assert acc.epsilon(many, delta) == pytest.approx(min(zcdp, 20.0), rel=1e-6)
    assert acc.epsilon(many, delta) < 20.0  # better than basic composition
    pure = [PureDpEvent(epsilon=0.1)] * 200
    assert acc.epsilon(pure, delta) == pytest.approx(rdp_to_dp(orders, 200 * 0.1**2 / 2 * orders, delta), rel=1e-6)


def test_mixed_ledger_takes_minimum_of_valid_bounds():
    acc = RdpAccountant()
    events = [LaplaceEvent(noise_multiplier=10.0), GaussianEvent(noise_multiplier=3.0)]
    basic = 0.1 + acc.epsilon([GaussianEvent(noise_multiplier=3.0)], 1e-6)
    assert acc.epsilon(events, 1e-6) <= basic + 1e-12
    assert acc.epsilon(events, 1e-6) >= acc.epsilon([GaussianEvent(noise_multiplier=3.0)], 1e-6)


def test_gaussian_at_delta_zero_is_infinite_and_composed_flattens():
    acc = RdpAccountant()
    assert acc.epsilon([GaussianEvent(noise_multiplier=1.0)], 0.0) == math.inf
    nested = ComposedEvent((LaplaceEvent(noise_multiplier=2.0), ComposedEvent((LaplaceEvent(noise_multiplier=2.0),))))
    assert acc.epsilon([nested], 0.0) == pytest.approx(1.0)
    assert acc.epsilon([], 1e-5) == 0.0


def test_discrete_gaussian_support():
    event = GaussianEvent(noise_multiplier=2.0, discrete=True)
    assert RdpAccountant().supports(event)
    assert RdpAccountant().epsilon([event], 1e-6) == RdpAccountant().epsilon([GaussianEvent(noise_multiplier=2.0)], 1e-6)
    assert not PldAccountant().supports(event)
    with pytest.raises(TypeError, match="RDP accountant"):
        PldAccountant().epsilon([event], 1e-6)


def test_accountants_round_trip_through_dicts():
    for acc in (RdpAccountant(), RdpAccountant(orders=[2, 4, 8]), PldAccountant(value_discretization_interval=1e-3)):
        again = get_accountant(acc.to_dict())
        assert type(again) is type(acc) and again.to_dict() == acc.to_dict()
    with pytest.raises(ValueError, match="Unknown accountant"):
        get_accountant("moments")
    with pytest.raises(ValueError, match="delta"):
        RdpAccountant().epsilon([], 1.5)


def test_pure_laplace_charges_beside_exponential_mechanisms_are_summed_alone_when_that_is_tighter():
    """A DP domain's Laplace charge before AIM's Gaussian and exponential mechanisms: three valid
    bounds, each recomputed with dp_accounting; the accountant gives the smallest."""
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    from privsynth.privacy.events import ExponentialEvent, GaussianEvent, LaplaceEvent

    laplace = LaplaceEvent(noise_multiplier=1 / 0.03, discrete=True)
    gaussians = [GaussianEvent(noise_multiplier=60.0)] * 10
    exponentials = [ExponentialEvent(epsilon=0.01)] * 10 + [ExponentialEvent(epsilon=0.02)] * 2

    def rdp(events):
        acc = rdp_privacy_accountant.RdpAccountant()
        for e in events:
            acc.compose(dp_event.GaussianDpEvent(e.noise_multiplier) if isinstance(e, GaussianEvent)
                        else dp_event.ZCDpEvent(e.epsilon**2 / (8 if isinstance(e, ExponentialEvent) else 2)))
        return acc.get_epsilon(1e-9)

    full = rdp([laplace, *gaussians, *exponentials])
    basic = 0.03 + 0.14 + rdp(gaussians)
    mixed = 0.03 + rdp([*gaussians, *exponentials])
    assert mixed < min(full, basic)
    assert RdpAccountant().epsilon([laplace, *gaussians, *exponentials], 1e-9) == pytest.approx(mixed, rel=1e-9)
    assert RdpAccountant().epsilon([*gaussians, *exponentials], 1e-9) == pytest.approx(
        min(rdp([*gaussians, *exponentials]), 0.14 + rdp(gaussians)), rel=1e-9)  # no Laplace: as before
