"""NeuralAIM: AIM's rounds and accounting with a neural mixture as the estimator. The mixture's
marginals and samples against brute force, its pooled loss against the per-measurement one,
the certificate against dp_accounting, refusal before the first charge, and fidelity."""

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("torch")

from test_marginal_methods import chain, independent_rho, rdp_epsilon_of  # noqa: E402

import privsynth as ps  # noqa: E402
from privsynth import BudgetExceededError  # noqa: E402
from privsynth.graphical import Measurement  # noqa: E402
from privsynth.privacy import Budget, Ledger  # noqa: E402
from privsynth.privacy.events import ExponentialEvent, GaussianEvent  # noqa: E402
from privsynth.synthesizers import IndependentMarginals, NeuralAIM  # noqa: E402
from privsynth.synthesizers._mixture import _pooled, _Terms, mixture_marginal, mixture_marginals, sample_mixture  # noqa: E402
from privsynth.testing import check_synthesizer  # noqa: E402

SMALL = {"components": 32, "hidden": (16,), "iterations": 10, "final_iterations": 50, "device": "cpu", "progress": False}


def random_tables(sizes=(3, 2, 4), k=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.ones(s), size=k) for s in sizes]


def brute_force_marginal(tables, attrs, total):
    """Sum over components of the outer product of their probabilities, one component at a time."""
    out = 0.0
    for c in range(len(tables[0])):
        part = np.array(1.0)
        for a in attrs:
            part = np.multiply.outer(part, tables[a][c])
        out = out + part
    return out * total / len(tables[0])


@pytest.mark.parametrize("attrs", [(0,), (1,), (0, 1), (0, 2), (1, 2), (0, 1, 2)])
def test_mixture_marginals_equal_brute_force(attrs):
    tables = random_tables()
    np.testing.assert_allclose(mixture_marginal(tables, attrs, 7.0), brute_force_marginal(tables, attrs, 7.0), rtol=1e-12)
    every = list(itertools.chain.from_iterable(itertools.combinations(range(3), k) for k in (1, 2, 3)))
    batched = dict(zip(every, mixture_marginals(tables, every, 7.0)))
    np.testing.assert_allclose(batched[attrs], brute_force_marginal(tables, attrs, 7.0), rtol=1e-12)


def test_samples_follow_the_mixture_within_sampling_error():
    tables, n = random_tables(), 200_000
    codes = sample_mixture(tables, n, np.random.default_rng(1))
    for attrs in [(0, 1), (1, 2), (0, 2)]:
        p = brute_force_marginal(tables, attrs, 1.0)
        idx = np.ravel_multi_index(tuple(codes[:, a] for a in attrs), p.shape)
        observed = np.bincount(idx, minlength=p.size).reshape(p.shape) / n
        sd = np.sqrt(p * (1 - p) / n)
        assert np.all(np.abs(observed - p) <= 5 * sd + 1e-12), (attrs, np.max(np.abs(observed - p) / sd))


def test_a_component_with_certain_values_is_sampled_exactly():
    tables = [np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 0.0]])]
    codes = sample_mixture(tables, 1000, np.random.default_rng(0))
    assert (codes[:, 0] == 1).all() and (codes[:, 1] == 0).all()


def test_pooled_loss_differs_from_the_sum_over_measurements_by_a_constant():
    rng = np.random.default_rng(0)
    ms = [Measurement((0, 1), rng.normal(size=(2, 3)), sigma=s) for s in (1.0, 2.0, 0.5)]
    ms.append(Measurement((0,), rng.normal(size=2), sigma=1.5))

    def direct(mu):
        return sum(0.5 * (((mu[m.attrs] - m.values) / m.sigma) ** 2).sum() for m in ms)

    def pooled(mu):
        return sum(0.5 * (w * (mu[a] - y) ** 2).sum() for a, y, w in _pooled(ms))

    first = {(0, 1): rng.normal(size=(2, 3)), (0,): rng.normal(size=2)}
    second = {(0, 1): rng.normal(size=(2, 3)), (0,): rng.normal(size=2)}
    assert direct(first) - pooled(first) == pytest.approx(direct(second) - pooled(second), rel=1e-10)


def test_the_grouped_training_loss_equals_the_loss_of_each_measured_set():
    import torch

    sizes, rng = (3, 2, 4, 5), np.random.default_rng(3)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    tables = random_tables(sizes, k=6, seed=4)
    sets = [(0,), (2,), (0, 1), (0, 2), (1, 3), (2, 3), (0, 1, 3), (1, 2, 3)]
    ms = [Measurement(a, rng.normal(size=tuple(sizes[j] for j in a)) * 10, sigma=float(rng.uniform(0.5, 2))) for a in sets]
    ms.append(Measurement((0, 2), rng.normal(size=(3, 4)), sigma=3.0))  # a set measured twice
    pooled = _pooled(ms)
    expected = sum(0.5 * (w * (brute_force_marginal(tables, a, 50.0) - y) ** 2).sum() for a, y, w in pooled)
    terms = _Terms.of(pooled, sizes, offsets, "cpu")
    got = terms.loss([torch.as_tensor(t, dtype=torch.float32) for t in tables], scale=50.0 / 6)
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_contract(census):
    data, domain = census
    check_synthesizer(NeuralAIM(degree=2, rounds=20, random_state=0, **SMALL), data, domain)


def test_certificate_equals_an_independent_recomputation_and_spends_the_budget(census):
    data, domain = census
    eps, delta = 1.0, 1e-9
    syn = NeuralAIM(epsilon=eps, delta=delta, degree=2, rounds=20, random_state=2, **SMALL).fit(data, domain)
    events = [e.event for e in syn.certificate_.entries]
    rho_spent = sum(e.rho if isinstance(e, GaussianEvent) else e.epsilon**2 / 8 for e in events)
    rho = independent_rho(eps, delta)
    assert rho * 0.999 <= rho_spent <= rho * (1 + 1e-9)
    assert sum(isinstance(e, ExponentialEvent) for e in events) == len(syn.selected_) >= 1
    assert sum(isinstance(e, GaussianEvent) for e in events) == len(domain) + len(syn.selected_)
    assert syn.certificate_.spent.epsilon == pytest.approx(rdp_epsilon_of(events, delta), rel=1e-9)
    assert syn.certificate_.spent.epsilon <= eps and ps.verify(syn.certificate_).ok
    # the first round's noise is AIM's: rounds = 20 sizes every 1-way measurement at 0.9 rho / 20
    first = events[0]
    assert isinstance(first, GaussianEvent) and first.noise_multiplier == pytest.approx(math.sqrt(20 / (2 * 0.9 * rho)), rel=1e-6)


def test_a_shared_ledger_refuses_the_whole_fit_before_the_first_charge(census):
    data, domain = census
    ledger = Ledger(Budget(epsilon=1.0, delta=1e-9))
    NeuralAIM(epsilon=0.8, degree=2, rounds=20, **SMALL).fit(data, domain, ledger=ledger)
    before = ledger.entries
    with pytest.raises(BudgetExceededError, match="Nothing was charged"):
        NeuralAIM(epsilon=0.8, degree=2, rounds=20, **SMALL).fit(data, domain, ledger=ledger)
    assert ledger.entries == before


@pytest.mark.parametrize("bad, match", [({"hidden": "256"}, "hidden"), ({"components": 0}, "components"),
                                        ({"learning_rate": 0.0}, "learning_rate"), ({"max_marginal_cells": 0}, "max_marginal_cells"),
                                        ({"accountant": "pld"}, "accountant"), ({"delta": 0.0}, "delta")])
def test_bad_parameters_are_refused_with_their_name(census, bad, match):
    data, domain = census
    with pytest.raises(ValueError, match=match):
        NeuralAIM(**{**SMALL, **bad}).fit(data, domain)


def test_candidates_larger_than_the_cell_bound_are_never_measured(census):
    data, domain = census
    sizes = dict(zip(domain.names, ps.core.dataset.levels(domain)))
    syn = NeuralAIM(epsilon=3.0, degree=2, rounds=20, max_marginal_cells=40, random_state=0, **SMALL).fit(data, domain)
    assert syn.selected_ and all(math.prod(sizes[c] for c in r) <= 40 for r in syn.selected_)


def test_the_model_learns_the_dependence_independent_columns_miss():
    data, domain = chain()
    params = {**SMALL, "components": 64, "hidden": (64,), "iterations": 30, "final_iterations": 200}
    tvd = {
        "independent": np.mean([ps.evaluation.marginal_tvd(
            data, IndependentMarginals(epsilon=1.0, delta=1e-6, random_state=s).fit(data, domain).sample(len(data), random_state=s),
            domain, order=2).average for s in range(2)]),
        "neuralaim": np.mean([ps.evaluation.marginal_tvd(
            data, NeuralAIM(epsilon=1.0, degree=2, random_state=s, **params).fit(data, domain).sample(len(data), random_state=s),
            domain, order=2).average for s in range(2)]),
    }
    assert tvd["neuralaim"] < tvd["independent"] / 2, tvd


def test_saved_models_sample_the_same_rows(tmp_path, census):
    data, domain = census
    syn = NeuralAIM(degree=2, rounds=20, random_state=0, **SMALL).fit(data, domain)
    again = ps.load(syn.save(tmp_path / "m.privsynth"))
    assert again.sample(50, random_state=3).equals(syn.sample(50, random_state=3))
    assert again.selected_ == syn.selected_ and again.n_hat_ == syn.n_hat_


def test_a_cell_bound_no_candidate_meets_is_refused_before_any_charge(census):
    data, domain = census
    ledger = Ledger(Budget(epsilon=2.0, delta=1e-6))
    with pytest.raises(ValueError, match="max_marginal_cells=1 "):
        NeuralAIM(epsilon=1.0, degree=2, max_marginal_cells=1, **SMALL).fit(data, domain, ledger=ledger)
    assert ledger.entries == ()


@pytest.mark.parametrize("damage", ["negative", "width", "empty_row"])
def test_restoring_malformed_tables_is_refused(census, damage):
    data, domain = census
    syn = NeuralAIM(degree=2, rounds=20, random_state=0, **SMALL).fit(data, domain)
    state, arrays = syn._state()
    table = arrays["table_0"].copy()
    if damage == "negative":
        table[0, 0] = -0.1
    elif damage == "width":
        table = table[:, :-1]
    else:
        table[1] = 0.0
    with pytest.raises(ValueError, match="mixture tables"):
        syn._restore(state, {**arrays, "table_0": table})


@pytest.mark.parametrize("hidden", [(16,), ()], ids=["network", "free logits"])
def test_building_the_estimator_leaves_torch_global_rng_alone(hidden):
    """Its inputs and weights come from the fit's private generator only; the caller's torch RNG
    state is the caller's (a global draw would also tie the caller's later draws to the fit)."""
    import torch

    from privsynth.synthesizers._mixture import MixtureEstimator

    torch.manual_seed(123)
    before = torch.random.get_rng_state().clone()
    MixtureEstimator((3, 4, 2), components=8, hidden=hidden, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), before)
