"""The ledger never exceeds its limit, refuses before recording, and matches a fresh recompute."""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privsynth import BudgetExceededError, PrivacyLeakWarning
from privsynth.privacy import (
    Budget,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    Ledger,
    LedgerEntry,
    PartitionSelectionEvent,
    RdpAccountant,
    SubsampledGaussianEvent,
)

noise = st.floats(min_value=0.3, max_value=50.0, allow_nan=False)
events = st.one_of(
    st.builds(LaplaceEvent, noise_multiplier=noise, discrete=st.booleans()),
    st.builds(GaussianEvent, noise_multiplier=noise),
    st.builds(ExponentialEvent, epsilon=st.floats(min_value=0.01, max_value=2.0)),
    st.builds(PartitionSelectionEvent, noise_multiplier=noise, delta=st.sampled_from([1e-10, 1e-9, 1e-6])),
    st.builds(
        SubsampledGaussianEvent,
        noise_multiplier=st.floats(min_value=0.6, max_value=5.0),
        sampling_rate=st.floats(min_value=0.001, max_value=0.5),
        steps=st.integers(min_value=1, max_value=200),
    ),
)


budgets_and_charges = given(
    epsilon=st.floats(min_value=0.1, max_value=10.0),
    delta=st.sampled_from([0.0, 1e-8, 1e-5]),
    sequence=st.lists(events, min_size=1, max_size=8),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@budgets_and_charges
def test_ledger_never_exceeds_its_limit(epsilon, delta, sequence):
    check_never_exceeds(epsilon, delta, "rdp", sequence)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@budgets_and_charges
def test_ledger_never_exceeds_its_limit_pld(epsilon, delta, sequence):
    """The same property with the PLD accountant (slow: each check composes PLDs of up to 200-step DP-SGD)."""
    check_never_exceeds(epsilon, delta, "pld", sequence)


def check_never_exceeds(epsilon, delta, accountant, sequence):
    ledger = Ledger(Budget(epsilon=epsilon, delta=delta), accountant=accountant)
    for event in sequence:
        before = ledger.entries
        try:
            ledger.charge(event, label="x")
        except BudgetExceededError:
            assert ledger.entries == before  # refused charges leave no trace
        spent = ledger.spent()
        assert spent.epsilon <= epsilon
        assert spent.delta <= delta
        fresh = ledger.accountant.epsilon([e.event for e in ledger.entries], delta)
        assert fresh == spent.epsilon  # the ledger's number is the accountant's number


def test_refusal_happens_before_recording_and_explains():
    ledger = Ledger(Budget(epsilon=1.0))
    ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="half")
    with pytest.raises(BudgetExceededError, match=r"'greedy'.*over the budget.*Nothing was released"):
        ledger.charge(LaplaceEvent(noise_multiplier=1.0), label="greedy")
    assert [e.label for e in ledger.entries] == ["half"]
    ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="other half")  # exactly at the limit is fine
    assert ledger.spent().epsilon == 1.0 and ledger.remaining().epsilon == 0.0


def test_pure_budget_refuses_gaussian_noise():
    ledger = Ledger(Budget(epsilon=5.0, delta=0.0))
    with pytest.raises(BudgetExceededError, match="inf"):
        ledger.charge(GaussianEvent(noise_multiplier=100.0), label="g")
    assert not ledger.can_afford(GaussianEvent(noise_multiplier=100.0))


def test_spent_delta_is_zero_while_pure():
    ledger = Ledger(Budget(epsilon=5.0, delta=1e-6))
    ledger.charge(LaplaceEvent(noise_multiplier=1.0), label="l")
    assert ledger.spent().delta == 0.0
    ledger.charge(GaussianEvent(noise_multiplier=5.0), label="g")
    assert ledger.spent().delta == 1e-6


def test_labels_and_unsupported_events():
    ledger = Ledger(Budget(epsilon=1.0, delta=1e-6), accountant="pld")
    with pytest.raises(ValueError, match="label"):
        ledger.charge(LaplaceEvent(noise_multiplier=5.0), label="")
    with pytest.raises(TypeError, match="rdp"):
        ledger.charge(GaussianEvent(noise_multiplier=5.0, discrete=True), label="dg")
    with pytest.raises(ValueError, match="finite"):
        Ledger(Budget(epsilon=0.0))


def test_record_leak_warns():
    ledger = Ledger(Budget(epsilon=1.0))
    with pytest.warns(PrivacyLeakWarning, match="exact max"):
        ledger.record_leak("bounds", "exact max of age printed")
    assert ledger.leaks == ("bounds: exact max of age printed",)


def test_restore_rechecks_the_budget():
    entries = [LedgerEntry("a", LaplaceEvent(noise_multiplier=2.0))] * 2
    ledger = Ledger.restore(Budget(epsilon=1.0), entries)
    assert ledger.spent().epsilon == 1.0 and len(ledger.entries) == 2
    with pytest.raises(BudgetExceededError):
        Ledger.restore(Budget(epsilon=0.9), entries)


def test_shared_accountant_object():
    acc = RdpAccountant(orders=[2, 4, 8, 16, 32])
    ledger = Ledger(Budget(epsilon=3.0, delta=1e-5), accountant=acc)
    ledger.charge(GaussianEvent(noise_multiplier=3.0), label="g")
    assert ledger.accountant is acc
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repr(ledger)


@settings(max_examples=30, deadline=None)
@given(epsilon=st.floats(min_value=0.1, max_value=10.0), first=st.lists(events, min_size=0, max_size=4),
       plan=st.lists(events, min_size=1, max_size=6))
def test_a_plan_is_refused_whole_before_any_charge(epsilon, first, plan):
    """check_plan accepts exactly the plans whose every charge would then be accepted in turn,
    and records nothing either way."""
    ledger = Ledger(Budget(epsilon=epsilon, delta=1e-6), accountant="rdp")
    for event in first:
        try:
            ledger.charge(event, label="earlier")
        except BudgetExceededError:
            pass
    before = ledger.entries
    try:
        ledger.check_plan(plan)
        accepted = True
    except BudgetExceededError as exc:
        accepted = False
        assert "Nothing was charged" in str(exc)
    assert ledger.entries == before
    if accepted:
        for event in plan:
            ledger.charge(event, label="planned")  # never raises
    else:
        with pytest.raises(BudgetExceededError):
            for event in plan:
                ledger.charge(event, label="planned")


def test_extend_replays_saved_entries_and_coalesces_steps():
    from privsynth.privacy import SubsampledGaussianEvent

    step = SubsampledGaussianEvent(noise_multiplier=1.0, sampling_rate=0.01, steps=1)
    ledger = Ledger(Budget(epsilon=5.0, delta=1e-5))
    ledger.charge(LaplaceEvent(noise_multiplier=10.0), label="count")
    for _ in range(3):
        ledger.charge(step, label="DP-SGD steps", coalesce=True)
    resumed = Ledger(Budget(epsilon=5.0, delta=1e-5))
    resumed.extend(ledger.entries)
    resumed.charge(step, label="DP-SGD steps", coalesce=True)
    ledger.charge(step, label="DP-SGD steps", coalesce=True)
    assert resumed.entries == ledger.entries and resumed.entries[-1].event.steps == 4
