"""DP domain estimation: what it releases, what it charges, and that a fit on it certifies both."""

import math

import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth import BudgetExceededError, DomainError
from privsynth.privacy import Budget, Ledger
from privsynth.privacy.accountants import PldAccountant, RdpAccountant
from privsynth.privacy.events import GaussianEvent, PartitionSelectionEvent, event_from_dict, event_to_dict
from privsynth.profiling import OTHER, estimate_domain
from privsynth.profiling.dp_domain import bin_edges


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 4000
    return pd.DataFrame({
        "age": rng.integers(18, 91, n),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.6, 0.3, 0.1]),
        "ssn": [f"{100 + i // 10000:03d}-{i % 100:02d}-{i:04d}" for i in range(n)],  # unique per record
        "spend": rng.gamma(2.0, 40.0, n),
    })


def test_releases_frequent_categories_and_no_unique_value(table):
    d = estimate_domain(table, epsilon=1.0, random_state=0)
    assert d.provenance == "dp"
    assert set(d["plan"].categories) == {OTHER, "basic", "plus", "premium"} and d["plan"].other == OTHER
    assert "ssn" not in d and "ssn" in d.identifiers and d.estimation["dropped"] == ["ssn"]  # no value held by one record
    assert d["age"].lower <= 18 and d["age"].upper >= 90 and d["age"].integer
    assert d["spend"].lower in (0.0, 1.0, 2.0, 5.0, 10.0) and d["spend"].upper in (200.0, 500.0, 1000.0)
    assert all(c.nullable for c in d)


def test_charges_are_the_plan_and_stay_within_budget(table):
    d = estimate_domain(table, epsilon=0.5, delta=1e-8, random_state=1, kinds="schema")  # dtypes declared: one release per column
    est = d.estimation
    assert len(est["entries"]) == 4 and est["epsilon"] <= 0.5 + 1e-9 and est["delta"] == 1e-8
    events = [event_from_dict(e["event"]) for e in est["entries"]]
    kinds = sorted(type(e).__name__ for e in events)
    assert kinds == ["GaussianEvent", "GaussianEvent", "PartitionSelectionEvent", "PartitionSelectionEvent"]
    assert math.isclose(RdpAccountant().epsilon(events, 1e-8), est["epsilon"], rel_tol=1e-12)
    keys = [e for e in events if isinstance(e, PartitionSelectionEvent)]
    assert math.isclose(sum(e.delta for e in keys), 1e-8 / 2)


def test_a_fit_on_a_dp_domain_certifies_both(table):
    d = estimate_domain(table, epsilon=0.3, random_state=2)
    synth = ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(table, d)
    cert = synth.certificate_
    assert cert.valid and cert.domain_provenance == "dp" and ps.verify(cert).ok
    assert [e.label for e in cert.entries[:8]] == [e["label"] for e in d.estimation["entries"]]  # kind + values per column
    assert cert.spent.epsilon <= 1.3 + 1e-9 and cert.spent.epsilon > 1.0
    out = synth.sample(500, random_state=0)
    assert "ssn" not in out.columns  # dropped by the estimation: nothing of it was released


def test_a_shared_ledger_is_not_charged_twice(table):
    ledger = Ledger(Budget(epsilon=1.5, delta=1e-9))
    d = estimate_domain(table, epsilon=0.3, ledger=ledger, random_state=3)
    before = len(ledger.entries)
    ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(table, d, ledger=ledger)
    labels = [e.label for e in ledger.entries]
    assert len(labels) > before and len(set(labels[:before])) == before
    assert sum(label.startswith("domain:") for label in labels) == 8


def test_refusals(table):
    with pytest.raises(DomainError, match="delta"):
        estimate_domain(table, epsilon=1.0, delta=0)
    small = Ledger(Budget(epsilon=0.1, delta=1e-9))
    small.charge(ps.privacy.events.LaplaceEvent(noise_multiplier=1 / 0.09), label="x")
    with pytest.raises(BudgetExceededError):
        estimate_domain(table, epsilon=0.5, ledger=small)
    assert len(small.entries) == 1  # nothing charged


def test_values_outside_a_dp_domain_are_clipped_or_other(table):
    d = estimate_domain(table, epsilon=1.0, random_state=4)
    odd = table.head(3).assign(age=[0, 500, 30], plan=["basic", "enterprise", None])
    checked = ps.core.dataset.validate(odd, d)
    assert checked["age"].tolist() == [d["age"].lower, d["age"].upper, 30]
    assert checked["plan"].astype(object).tolist()[:2] == ["basic", OTHER]


def test_neighbour_with_a_unique_category_never_shows_it():
    """The attacker's view: one record with a value nobody else has; its value must not appear."""
    rng = np.random.default_rng(5)
    base = pd.DataFrame({"c": rng.choice(["a", "b"], 300)})
    neighbour = pd.concat([base, pd.DataFrame({"c": ["target"]})], ignore_index=True)
    for trial in range(50):
        d = estimate_domain(neighbour, epsilon=2.0, delta=1e-6, random_state=trial)
        assert "target" not in d["c"].categories


def test_partition_selection_threshold_bounds_the_discrete_gaussian_tail():
    """P(Z >= t) <= exp(-t^2 / 2 sigma^2) for the discrete Gaussian (summed exactly here)."""
    for sigma in (0.7, 2.0, 9.0):
        z = np.arange(-60 * int(math.ceil(sigma)), 60 * int(math.ceil(sigma)) + 1)
        w = np.exp(-(z.astype(float) ** 2) / (2 * sigma**2))
        p = w / w.sum()
        for delta in (1e-3, 1e-6, 1e-9):
            t = sigma * math.sqrt(2 * math.log(1 / delta))
            assert p[z >= t].sum() <= delta


def test_accountants_subtract_the_key_delta():
    e = PartitionSelectionEvent(noise_multiplier=3.0, delta=1e-10)
    assert event_from_dict(event_to_dict(e)) == e
    for acc in (RdpAccountant(), PldAccountant()):
        assert math.isclose(acc.epsilon([e], 1e-9), acc.epsilon([GaussianEvent(3.0)], 1e-9 - 1e-10), rel_tol=1e-9)
        assert acc.epsilon([e], 1e-10) == math.inf and acc.epsilon([e, e], 2e-10) == math.inf
    with pytest.raises(ValueError):
        PartitionSelectionEvent(noise_multiplier=1.0, delta=0)


def test_bin_edges_are_fixed_and_sorted():
    edges = bin_edges()
    assert np.all(np.diff(edges) > 0) and 0.0 in edges and edges[0] == -edges[-1]


# -- issue #21, item 2: kinds are declared or decided with DP ----------------------------------------
def _text(df):
    return df.astype(str).where(df.notna(), None)


def test_undeclared_kinds_are_charged_whatever_they_decide(table):
    d = estimate_domain(_text(table), epsilon=0.5, delta=1e-8, random_state=1)
    events = [event_from_dict(e["event"]) for e in d.estimation["entries"]]
    labels = [e["label"] for e in d.estimation["entries"]]
    assert len(events) == 8 and sum("kind of" in label for label in labels) == 4
    assert sum(isinstance(e, PartitionSelectionEvent) for e in events) == 4  # every undecided column pays for a selection
    assert d["age"].kind == "numeric" and d["age"].integer and d["spend"].kind == "numeric" and not d["spend"].integer
    assert d["plan"].kind == "categorical" and "ssn" in d.identifiers
    assert math.isclose(sum(e.delta for e in events if isinstance(e, PartitionSelectionEvent)), 1e-8 / 2)


@pytest.mark.parametrize("odd", [None, "41.5", "unknown", "042"])
def test_one_record_does_not_decide_a_column_kind(table, odd):
    """On 785087b one record with a missing age, 41.5, 'unknown' or '042' turned the CSV column
    from numbers into text (or integers into floats) with certainty, and the published domain with
    it. Now, with the same secret seed, D and D + that record give the same domain."""
    base = _text(table[["age", "plan"]].iloc[:2000])
    extra = base.iloc[[0]].assign(age=odd)
    with_odd = pd.concat([base, extra], ignore_index=True)
    a = estimate_domain(base, epsilon=0.3, random_state=11)
    b = estimate_domain(with_odd, epsilon=0.3, random_state=11)
    assert a.to_dict() == b.to_dict()


def test_declared_kinds_are_used_and_checked(table):
    d = estimate_domain(_text(table), epsilon=0.5, random_state=1, kinds={"age": "float", "ssn": "text"})
    assert d["age"].kind == "numeric" and not d["age"].integer and "ssn" in d.estimation["dropped"]
    assert sum("kind of" in e["label"] for e in d.estimation["entries"]) == 2
    with pytest.raises(DomainError, match="not one of"):
        estimate_domain(table, epsilon=0.5, kinds={"age": "date"})
    with pytest.raises(DomainError, match="not in the table"):
        estimate_domain(table, epsilon=0.5, kinds="nope=integer")
