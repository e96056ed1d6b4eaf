"""Person-level accounting: the group scaling of each event, checked against an independent
computation of the divergence between neighbours that differ by k rows, and the two-ledger
charge that never records on one ledger what the other refuses."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from privsynth.core.errors import BudgetExceededError
from privsynth.privacy import Budget, Ledger, RdpAccountant
from privsynth.privacy.events import (
    ComposedEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PartitionSelectionEvent,
    PureDpEvent,
    SubsampledGaussianEvent,
)
from privsynth.privacy.group import PersonLevelLedger, person_level_event


def renyi_gaussian_numeric(sigma: float, shift: float, alpha: float) -> float:
    """D_alpha(N(shift, s^2) || N(0, s^2)) by numerical integration (not the closed form)."""
    p, q = stats.norm(shift, sigma), stats.norm(0, sigma)
    value, _ = integrate.quad(lambda x: math.exp(alpha * p.logpdf(x) + (1 - alpha) * q.logpdf(x)),
                              -12 * sigma, 12 * sigma + alpha * shift, limit=200, epsabs=0, epsrel=1e-10)
    return math.log(value) / (alpha - 1)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_gaussian_on_a_histogram_with_k_rows_per_person(k):
    """One person adds k rows: the worst case puts them in one cell, a shift of k in one count.
    The person-level event's RDP curve alpha*rho must equal the divergence of that shift."""
    sigma = 6.0
    event = person_level_event(GaussianEvent(noise_multiplier=sigma), k)
    for alpha in (2.0, 5.0):
        assert alpha * event.rho == pytest.approx(renyi_gaussian_numeric(sigma, k, alpha), rel=1e-6)
    assert event.rho == pytest.approx(k**2 / (2 * sigma**2))


@pytest.mark.parametrize("k", [1, 4])
def test_laplace_on_a_count_with_k_rows_per_person(k):
    """The log density ratio of Laplace(b) at shifts 0 and k peaks at k/b: the person-level epsilon."""
    b = 2.5
    x = np.linspace(-40, 40, 200_001)
    ratio = np.abs(stats.laplace(0, b).logpdf(x) - stats.laplace(k, b).logpdf(x)).max()
    assert person_level_event(LaplaceEvent(noise_multiplier=b, discrete=True), k).epsilon == pytest.approx(ratio, rel=1e-6)


def test_pure_and_exponential_scale_linearly_and_composed_recursively():
    assert person_level_event(ExponentialEvent(epsilon=0.2), 5).epsilon == pytest.approx(1.0)
    assert person_level_event(PureDpEvent(epsilon=0.1), 3).epsilon == pytest.approx(0.3)
    composed = person_level_event(ComposedEvent((LaplaceEvent(noise_multiplier=4.0), GaussianEvent(noise_multiplier=4.0))), 2)
    assert composed == ComposedEvent((LaplaceEvent(noise_multiplier=2.0), GaussianEvent(noise_multiplier=2.0)))
    event = GaussianEvent(noise_multiplier=3.0, discrete=True)
    assert person_level_event(event, 1) is event


@pytest.mark.parametrize("event", [SubsampledGaussianEvent(noise_multiplier=1.0, sampling_rate=0.01, steps=10),
                                   PartitionSelectionEvent(noise_multiplier=3.0, delta=1e-9)])
def test_one_row_per_unit_analyses_are_refused(event):
    with pytest.raises(TypeError, match="person"):
        person_level_event(event, 2)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_group_sizes(k):
    with pytest.raises(ValueError, match="group_size"):
        person_level_event(LaplaceEvent(noise_multiplier=1.0), k)


def test_each_charge_reaches_the_database_at_person_level_first():
    db = Ledger(Budget(epsilon=2.0, delta=1e-6))
    rows = PersonLevelLedger(db, group_size=4, budget=Budget(epsilon=10.0, delta=1e-6), table="orders")
    rows.charge(GaussianEvent(noise_multiplier=40.0, discrete=True), label="marginal a")
    assert rows.entries[0].event == GaussianEvent(noise_multiplier=40.0, discrete=True)
    assert db.entries[0].event == GaussianEvent(noise_multiplier=10.0, discrete=True)
    assert db.entries[0].label.startswith("orders: marginal a")
    assert db.spent().epsilon == pytest.approx(RdpAccountant().epsilon([GaussianEvent(noise_multiplier=10.0, discrete=True)], 1e-6))


def test_a_refusal_on_either_ledger_records_nothing_on_both():
    db = Ledger(Budget(epsilon=1.0))
    rows = PersonLevelLedger(db, group_size=5, budget=Budget(epsilon=1.0), table="t")
    with pytest.raises(BudgetExceededError, match="database"):
        rows.charge(LaplaceEvent(noise_multiplier=4.0), label="too much for the database")  # 0.25 per row, 1.25 per person
    assert rows.entries == () and db.entries == ()
    small = PersonLevelLedger(db, group_size=1, budget=Budget(epsilon=0.1), table="t")
    with pytest.raises(BudgetExceededError):
        small.charge(LaplaceEvent(noise_multiplier=5.0), label="too much for the table")  # 0.2 > 0.1
    assert small.entries == () and db.entries == ()
    with pytest.raises(BudgetExceededError, match="person level"):
        rows.check_plan([LaplaceEvent(noise_multiplier=10.0)] * 3)  # 0.3 per row, 1.5 per person
    assert db.entries == ()


def test_random_charges_never_overspend_either_ledger():
    rng = np.random.default_rng(0)
    for trial in range(30):
        db = Ledger(Budget(epsilon=float(rng.uniform(0.5, 3)), delta=1e-6))
        k = int(rng.integers(1, 6))
        rows = PersonLevelLedger(db, group_size=k, budget=Budget(epsilon=float(rng.uniform(0.5, 3)), delta=1e-6), table="t")
        for _ in range(20):
            event = (GaussianEvent(noise_multiplier=float(rng.uniform(2, 30)), discrete=True) if rng.random() < 0.5
                     else LaplaceEvent(noise_multiplier=float(rng.uniform(2, 30)), discrete=True))
            try:
                rows.charge(event, label="x")
            except BudgetExceededError:
                pass
            assert rows.spent().epsilon <= rows.budget.epsilon + 1e-12
            assert db.spent().epsilon <= db.budget.epsilon + 1e-12
        assert [person_level_event(e.event, k) for e in rows.entries] == [e.event for e in db.entries], trial
