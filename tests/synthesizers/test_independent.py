import numpy as np
import pandas as pd
import pytest

import privsynth as ps
from privsynth import BudgetExceededError, DomainError, NotFittedError, PrivacyLeakWarning
from privsynth.core.dataset import encode, levels
from privsynth.privacy import Budget, LaplaceEvent, Ledger
from privsynth.synthesizers import IndependentMarginals
from privsynth.testing import check_synthesizer


@pytest.mark.parametrize(
    "params",
    [
        {"epsilon": 1.0},
        {"epsilon": 0.5, "delta": 1e-6},
        {"epsilon": 2.0, "delta": 1e-6, "noise": "laplace", "accountant": "pld"},
        {"epsilon": 2.0, "delta": 1e-6, "accountant": "pld"},  # auto: Laplace, which PLD models
        {"epsilon": 1.0, "secure": True},
        {"epsilon": 1.0, "bins": 5},
    ],
)
def test_contract(census, params):
    data, domain = census
    check_synthesizer(IndependentMarginals(random_state=0, **params), data, domain)


def test_huge_epsilon_reproduces_exact_marginals(census):
    """Test-only setting: at epsilon = 1e7 the noise is negligible, so the model is the exact
    one-way marginals. Never a default."""
    data, domain = census
    syn = IndependentMarginals(epsilon=1e7, random_state=0).fit(data, domain)
    codes = encode(data, domain)
    for j, k in enumerate(levels(domain)):
        exact = np.bincount(codes[:, j], minlength=k) / len(data)
        np.testing.assert_allclose(syn.marginals_[j], exact, atol=1e-5)


def test_fidelity_degrades_gracefully_with_epsilon(census):
    data, domain = census
    tvd = []
    for eps in (1e4, 1.0, 0.05):
        errors = [ps.evaluation.marginal_tvd(
            data, IndependentMarginals(epsilon=eps, random_state=s).fit(data, domain).sample(5000, random_state=s), domain, order=1).average
            for s in range(3)]
        tvd.append(np.mean(errors))
    assert tvd[0] < tvd[1] < tvd[2] < 0.5


def test_budget_is_split_and_labelled(census):
    data, domain = census
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain)
    cert = syn.certificate_
    assert len(cert.entries) == len(domain)
    assert [e.label for e in cert.entries][0] == "1-way marginal of 'age'"
    assert sum(e.event.epsilon for e in cert.entries) <= 1.0
    assert cert.spent.epsilon == pytest.approx(1.0) and cert.spent.delta == 0.0
    assert any("reproducible run" in a and "secret" in a for a in cert.assumptions)
    assert "random_state" not in cert.parameters and "seed" not in cert.to_dict()


def test_shared_ledger_composes_and_refuses(census):
    data, domain = census
    ledger = Ledger(Budget(epsilon=1.5))
    ledger.charge(LaplaceEvent(noise_multiplier=2.0), label="earlier release")
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain, ledger=ledger)
    assert syn.certificate_.spent.epsilon == pytest.approx(1.5)
    assert syn.certificate_.entries[0].label == "earlier release"
    before = ledger.entries
    with pytest.raises(BudgetExceededError, match="Nothing was charged"):
        IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain, ledger=ledger)
    assert ledger.entries == before
    with pytest.raises(ValueError, match="delta"):
        IndependentMarginals(epsilon=0.1, delta=1e-5, random_state=0).fit(data, domain, ledger=Ledger(Budget(epsilon=1.0)))


def test_fit_never_reads_the_domain_off_the_data(census):
    data, domain = census
    bad = data.copy()
    bad.loc[0, "race"] = "Martian"
    with pytest.raises(DomainError, match="'race' has values outside"):
        IndependentMarginals(epsilon=1.0).fit(bad, domain)
    with pytest.warns(PrivacyLeakWarning):
        inferred = ps.Domain.infer(data)
    syn = IndependentMarginals(epsilon=1.0, random_state=0).fit(data, inferred)
    assert not syn.certificate_.valid and not ps.verify(syn.certificate_).ok


def test_misuse_is_explained(census):
    data, domain = census
    with pytest.raises(NotFittedError, match="fit"):
        IndependentMarginals().sample(3)
    for params, pattern in [
        ({"epsilon": 0}, "epsilon"), ({"epsilon": float("inf")}, "epsilon"), ({"delta": 1.0}, "delta"),
        ({"noise": "pink"}, "noise"), ({"noise": "gaussian"}, "delta > 0"), ({"bins": 0}, "bins"),
        ({"noise": "gaussian", "delta": 1e-6, "accountant": "pld"}, "accountant='rdp'"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            IndependentMarginals(**params).fit(data, domain)
    syn = IndependentMarginals(random_state=0).fit(data, domain)
    with pytest.raises(ValueError, match="non-negative"):
        syn.sample(-1)
    with pytest.raises(ValueError, match="no parameter"):
        syn.set_params(colour="red")


def test_unseeded_sampling_is_fresh_and_a_public_seed_survives_save(census, tmp_path):
    data, domain = census
    syn = IndependentMarginals(epsilon=1.0, random_state=3).fit(data, domain)
    first, second = syn.sample(50), syn.sample(50)
    assert not first.equals(second)
    syn.save(tmp_path / "m.privsynth")
    loaded = ps.load(tmp_path / "m.privsynth")
    assert not loaded.sample(50).equals(syn.sample(50))  # no stored stream: fresh rows
    assert loaded.sample(50, random_state=9).equals(syn.sample(50, random_state=9))


def test_single_row_and_constant_column():
    domain = ps.Domain((ps.Categorical("c", ("a", "b")), ps.Numeric("x", 0, 1)))
    one = pd.DataFrame({"c": ["a"], "x": [0.5]})
    out = IndependentMarginals(epsilon=1.0, random_state=0).fit(one, domain).sample(10)
    assert len(out) == 10
    const = pd.DataFrame({"c": ["a"] * 500, "x": [0.5] * 500})
    out = IndependentMarginals(epsilon=5.0, random_state=0).fit(const, domain).sample(1000)
    assert (out["c"] == "a").mean() > 0.9



def test_the_contract_catches_a_stored_exact_count_also_on_the_neighbour(census, monkeypatch):
    """check_synthesizer re-checks a count hit on the neighbour without one record (a DP count may equal n by chance, a
    stored exact count follows the data), so a synthesizer that saves the exact count still fails."""
    data, domain = census
    honest_fit = IndependentMarginals._fit

    def stores_exact_count(self, data, domain, **kwargs):  # deliberately broken: n_hat_ is the exact count
        honest_fit(self, data, domain, **kwargs)
        self.n_hat_ = len(data)

    monkeypatch.setattr(IndependentMarginals, "_fit", stores_exact_count)
    with pytest.raises(ps.testing.ContractError, match="exact record count"):
        check_synthesizer(IndependentMarginals(random_state=0), data, domain)
