"""DPDiffusion: the schedule, per-record clipping of the repeated noise levels against brute
force, the numpy sampling chain, misuse, and learning (the certificate: test_dpsgd.py)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from test_dpsgd import brute_force  # noqa: E402
from test_marginal_methods import chain  # noqa: E402

import privsynth as ps  # noqa: E402
from privsynth.mechanisms.clipping import ClippedSum  # noqa: E402
from privsynth.synthesizers import DPDiffusion, IndependentMarginals  # noqa: E402
from privsynth.synthesizers._numpy_net import forward_numpy  # noqa: E402
from privsynth.synthesizers.dpdiffusion import alpha_bar, time_features  # noqa: E402
from privsynth.testing import check_synthesizer  # noqa: E402

FAST = {"epochs": 1, "sampling_rate": 0.1, "hidden": (16,), "repeats": 3, "sampling_steps": 4, "progress": False, "device": "cpu"}


def test_schedule_runs_from_all_signal_to_almost_none_in_numpy_and_torch():
    t = np.linspace(0, 1, 101)
    a = alpha_bar(t)
    assert a[0] == pytest.approx(1.0) and a[-1] == pytest.approx(1e-4) and np.all(np.diff(a) <= 0)
    np.testing.assert_allclose(alpha_bar(torch.as_tensor(t)).numpy(), a, rtol=1e-12)
    np.testing.assert_allclose(time_features(torch.as_tensor(t), 8).numpy(), time_features(t, 8), atol=1e-12)


@pytest.mark.parametrize("engine", ["bookkeeping", "opacus"])
def test_contract(census, engine):
    data, domain = census
    check_synthesizer(DPDiffusion(epsilon=2.0, delta=1e-5, random_state=0, engine=engine, **FAST), data, domain)


@pytest.mark.parametrize("engine", ["bookkeeping", "opacus"])
def test_each_record_is_clipped_once_over_its_noise_levels(census, engine):
    """A record's ``repeats`` noisy copies form one sequence: the clipped sum equals clipping the
    gradient of each record's mean loss, computed record by record."""
    data, domain = census
    syn = DPDiffusion(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    net = syn.denoiser_
    x = torch.as_tensor(syn.encoder_.transform(data.iloc[:9]))
    clip = 0.05

    def loss(module, records, n_public):
        return syn._per_sample_loss(module, records, n_public, generator=torch.Generator().manual_seed(7))

    losses = loss(net, x, 0)  # brute force first: Opacus's hooks stay on the module once attached
    params = list(net.parameters())
    expected, _ = brute_force(params, lambda i: losses[i], len(x), clip)
    sums = ClippedSum(net, engine)(loss, [(x, 0)], clip)
    for p, e in zip(params, expected):
        assert torch.allclose(sums[p], e, atol=1e-5, rtol=1e-4)


def test_one_step_chain_is_one_pass_of_the_denoiser(census):
    data, domain = census
    syn = DPDiffusion(epsilon=2.0, delta=1e-5, random_state=0, **{**FAST, "sampling_steps": 1}).fit(data, domain)
    latent = syn._latent(50, np.random.default_rng(0))
    features = np.repeat(time_features(np.array([1.0]), 16).T, 50, axis=1)
    np.testing.assert_allclose(syn._network(latent), forward_numpy(np.concatenate([latent, features]), syn.layers_), atol=1e-5)


def test_the_numpy_chain_equals_the_torch_network(census):
    """Every pass of the chain as the torch denoiser computes it (the DDIM update in float64)."""
    data, domain = census
    syn = DPDiffusion(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    latent = syn._latent(40, np.random.default_rng(1))
    x = torch.as_tensor(latent.T, dtype=torch.float32)
    times = np.linspace(1.0, 0.0, syn.sampling_steps + 1)
    with torch.no_grad():
        for i in range(syn.sampling_steps):
            t = torch.full((40,), float(times[i]))
            out = syn.denoiser_(torch.cat([x, time_features(t, 16).float()], dim=1))
            if i + 1 == syn.sampling_steps:
                break
            x0 = torch.as_tensor(syn._estimate(out.numpy().T.copy()).T)
            a, a_next = float(alpha_bar(np.array(times[i]))), float(alpha_bar(np.array(times[i + 1])))
            x = (a_next**0.5) * x0 + ((1 - a_next) ** 0.5) * (x - a**0.5 * x0) / (1 - a) ** 0.5
    np.testing.assert_allclose(syn._network(latent), out.numpy().T, atol=1e-4)


@pytest.mark.parametrize("params,match", [({"time_features": 5}, "even"), ({"repeats": 0}, "repeats"),
                                          ({"sampling_steps": 0}, "sampling_steps"), ({"learning_rate": -1.0}, "learning_rate")])
def test_bad_parameters_are_named(census, params, match):
    data, domain = census
    with pytest.raises((ValueError, TypeError), match=match):
        DPDiffusion(**{**FAST, **params}).fit(data, domain)


@pytest.mark.slow  # about 40 s on 2 cores; DPDiffusion's figures on Adult: benchmarks/results/dpdiffusion_adult.md
def test_learns_a_chain_better_than_independent_columns():
    data, domain = chain(n=4000, d=5, k=3)
    fitted = DPDiffusion(epsilon=1e4, delta=1e-5, epochs=20, sampling_rate=0.1, hidden=(64, 64), random_state=0, progress=False,
                         device="cpu").fit(data, domain)
    tvd = ps.evaluation.marginal_tvd(data, fitted.sample(4000, random_state=0), domain, order=2).average
    independent = IndependentMarginals(epsilon=1e4, random_state=0).fit(data, domain)
    base = ps.evaluation.marginal_tvd(data, independent.sample(4000, random_state=0), domain, order=2).average
    assert tvd < base / 2, (tvd, base)
