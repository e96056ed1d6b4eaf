"""MST and AIM: the shared contract, accounting recomputed independently, refusal before the
first charge, and fidelity against the independent baseline."""

import math

import numpy as np
import pandas as pd
import pytest
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

import privsynth as ps
from privsynth import BudgetExceededError
from privsynth.privacy import Budget, Ledger
from privsynth.privacy.events import ExponentialEvent, GaussianEvent
from privsynth.synthesizers import AIM, MST, IndependentMarginals
from privsynth.synthesizers.aim import candidate_weights
from privsynth.testing import check_synthesizer


def independent_rho(epsilon: float, delta: float) -> float:
    """The largest rho whose Gaussian mechanism dp_accounting's RDP accountant certifies at
    (epsilon, delta), by bisection (independent of privsynth's calibration)."""
    def eps_of(rho: float) -> float:
        acc = rdp_privacy_accountant.RdpAccountant()
        acc.compose(dp_event.GaussianDpEvent(math.sqrt(1 / (2 * rho))))
        return acc.get_epsilon(delta)

    lo, hi = 1e-8, 10.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if eps_of(mid) <= epsilon else (lo, mid)
    return lo


def rdp_epsilon_of(events, delta):
    acc = rdp_privacy_accountant.RdpAccountant()
    for e in events:
        acc.compose(dp_event.GaussianDpEvent(e.noise_multiplier) if isinstance(e, GaussianEvent)
                    else dp_event.ZCDpEvent(e.epsilon**2 / 8))
    return acc.get_epsilon(delta)


@pytest.mark.parametrize("make", [lambda: MST(random_state=0, progress=False),
                                  lambda: AIM(degree=2, rounds=20, final_iterations=300, random_state=0, progress=False)],
                         ids=["mst", "aim"])
def test_contract(census, make):
    data, domain = census
    check_synthesizer(make(), data, domain)


def test_mst_certificate_equals_an_independent_recomputation_of_every_charge(census):
    data, domain = census
    d, eps, delta = len(domain), 1.0, 1e-9
    syn = MST(epsilon=eps, delta=delta, random_state=1, progress=False).fit(data, domain)
    events = [e.event for e in syn.certificate_.entries]
    rho = independent_rho(eps, delta)
    sigma_one, eps_select, sigma_two = math.sqrt(3 * d / (2 * rho)), math.sqrt(8 * rho / 3 / (d - 1)), math.sqrt(3 * (d - 1) / (2 * rho))
    gaussians = [e for e in events if isinstance(e, GaussianEvent)]
    selections = [e for e in events if isinstance(e, ExponentialEvent)]
    assert len(events) == 3 * d - 2 and len(selections) == d - 1 and len(gaussians) == 2 * d - 1
    np.testing.assert_allclose(sorted({e.noise_multiplier for e in gaussians}), sorted({sigma_one, sigma_two}), rtol=1e-6)
    np.testing.assert_allclose([e.epsilon for e in selections], eps_select, rtol=1e-6)
    assert syn.certificate_.spent.epsilon == pytest.approx(rdp_epsilon_of(events, delta), rel=1e-9)
    assert syn.certificate_.spent.epsilon <= eps
    assert ps.verify(syn.certificate_).ok
    assert len(syn.tree_) == d - 1


def test_aim_spends_its_budget_round_by_round_and_never_more(census):
    data, domain = census
    eps, delta = 1.0, 1e-9
    syn = AIM(epsilon=eps, delta=delta, degree=2, rounds=20, final_iterations=300, random_state=2, progress=False).fit(data, domain)
    events = [e.event for e in syn.certificate_.entries]
    rho_spent = sum(e.rho if isinstance(e, GaussianEvent) else e.epsilon**2 / 8 for e in events)
    rho = independent_rho(eps, delta)
    assert rho_spent <= rho * (1 + 1e-9)
    assert rho_spent >= 0.999 * rho  # the budget is used up, not left on the table
    assert sum(isinstance(e, ExponentialEvent) for e in events) == len(syn.selected_) >= 1
    assert syn.certificate_.spent.epsilon == pytest.approx(rdp_epsilon_of(events, delta), rel=1e-9)
    assert syn.certificate_.spent.epsilon <= eps
    assert ps.verify(syn.certificate_).ok


@pytest.mark.parametrize("make", [lambda: MST(epsilon=0.8, progress=False),
                                  lambda: AIM(epsilon=0.8, degree=2, rounds=20, final_iterations=300, progress=False)],
                         ids=["mst", "aim"])
def test_a_shared_ledger_refuses_the_whole_fit_before_the_first_charge(census, make):
    data, domain = census
    ledger = Ledger(Budget(epsilon=1.0, delta=1e-9))
    make().fit(data, domain, ledger=ledger)
    before = ledger.entries
    with pytest.raises(BudgetExceededError, match="Nothing was charged"):
        make().fit(data, domain, ledger=ledger)
    assert ledger.entries == before


def test_pure_dp_and_other_accountants_are_refused_with_a_reason(census):
    data, domain = census
    with pytest.raises(ValueError, match="delta"):
        MST(delta=0.0).fit(data, domain)
    with pytest.raises(ValueError, match="accountant"):
        AIM(accountant="pld").fit(data, domain)
    with pytest.raises(ValueError, match="not in the domain"):
        AIM(workload=[("age", "no-such-column")]).fit(data, domain)


def test_candidates_and_weights_follow_the_paper():
    weights = candidate_weights([(0, 1, 2), (1, 2)])
    assert weights[(1, 2)] == 2 + 2 and weights[(0,)] == 1 and weights[(0, 1, 2)] == 3 + 2
    assert len(weights) == 7


def chain(n: int = 5000, d: int = 6, k: int = 4, seed: int = 0):
    """A Markov chain of ``d`` columns: each copies the previous with probability 0.8. Strong
    pairwise dependence that independent columns cannot show and a tree captures."""
    rng = np.random.default_rng(seed)
    cols = [rng.integers(k, size=n)]
    for _ in range(d - 1):
        cols.append(np.where(rng.random(n) < 0.8, cols[-1], rng.integers(k, size=n)))
    names = [f"c{j}" for j in range(d)]
    domain = ps.Domain(tuple(ps.Categorical(c, tuple(range(k))) for c in names))
    return pd.DataFrame({c: v for c, v in zip(names, cols)}), domain


@pytest.mark.slow  # quality at scale: benchmarks/results/marginal_methods.md
def test_both_beat_independent_columns_on_two_way_marginals():
    data, domain = chain()
    tvd = {}
    for name, make in {"independent": lambda s: IndependentMarginals(epsilon=1.0, delta=1e-6, random_state=s),
                       "mst": lambda s: MST(epsilon=1.0, random_state=s, progress=False),
                       "aim": lambda s: AIM(epsilon=1.0, degree=2, random_state=s, progress=False)}.items():
        tvd[name] = np.mean([ps.evaluation.marginal_tvd(data, make(s).fit(data, domain).sample(len(data), random_state=s), domain,
                                                        order=2).average for s in range(2)])
    assert tvd["mst"] < tvd["independent"] / 3 and tvd["aim"] < tvd["independent"] / 3, tvd


@pytest.mark.slow
@pytest.mark.parametrize("make", [lambda s: MST(epsilon=1.0, random_state=s, progress=False),
                                  lambda s: AIM(epsilon=1.0, degree=2, random_state=s, progress=False)], ids=["mst", "aim"])
def test_audit_lower_bound_stays_below_the_claim(make):
    """The distinguishing game (worst-case canary) at small scale: the measured epsilon lower
    bound must not exceed the certified epsilon."""
    data, domain = chain(n=200, d=4, k=3, seed=1)
    result = ps.evaluation.audit(make, data, domain, n_trials=100, n_synthetic=2000, progress=False)
    print(result.to_dict())
    assert result.claimed_epsilon <= 1.0
    assert not result.exceeds_claim, result.to_dict()


def test_a_broken_sampler_is_flagged_against_the_models_dp_marginals():
    import warnings

    from privsynth.graphical import GraphicalModel

    data, domain = chain()
    syn = MST(epsilon=1.0, random_state=0, progress=False).fit(data, domain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ps.ReleaseQualityWarning)
        syn.sample(5000, random_state=0)
    model = syn.model_
    broken = [np.zeros_like(m) for m in model.marginals]
    for m in broken:
        m.flat[0] = model.total  # every row gets the first value of every attribute
    syn.model_ = GraphicalModel(model.tree, broken, total=model.total)
    with pytest.warns(ps.ReleaseQualityWarning, match="'c0' \\(TVD 0\\.[5-9]"):
        syn.sample(5000, random_state=0)


def test_the_stratified_sampler_is_a_sampling_choice_kept_in_the_model_file(tmp_path):
    """``sampler`` changes only how rows are drawn from the fitted model: no refit, no charge,
    the certificate unchanged; the release's counts of the model's root clique then sit within one
    of their expected counts (MST's compression is undone i.i.d., so the check uses an uncompressed fit),
    and a saved model keeps its sampler. An unknown sampler fails before any charge."""
    data, domain = chain()
    syn = MST(epsilon=1.0, compress=False, random_state=0, progress=False).fit(data, domain)
    spent = syn.certificate_.spent
    syn.set_params(sampler="stratified")
    out = syn.sample(len(data), random_state=1)
    root = syn.model_.tree.cliques[0]
    expected = syn.model_.marginals[0] / syn.model_.total * len(data)
    seen = out.groupby([domain.names[a] for a in root]).size().reindex(pd.MultiIndex.from_product(
        [range(s) for s in expected.shape]), fill_value=0).to_numpy()
    assert np.abs(seen - expected.ravel()).max() < 1
    assert syn.certificate_.spent == spent
    syn.save(tmp_path / "mst.privsynth")
    loaded = ps.load(tmp_path / "mst.privsynth")
    assert loaded.sampler == "stratified"
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=2), syn.sample(500, random_state=2))
    ledger = Ledger(Budget(2.0, 1e-6))
    for cls in (MST, AIM):
        with pytest.raises(ValueError, match="sampler"):
            cls(sampler="round").fit(data, domain, ledger=ledger)
    assert not ledger.entries
