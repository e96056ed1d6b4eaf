"""DPTransformer: the numpy sampler against the torch network and against exact probabilities,
per-sample clipping of the real network against Opacus and brute force, calibration,
conditional completion, model files, misuse, and learning (the certificate, resuming and
data-parallel workers: test_dpsgd.py)."""

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from test_dpsgd import brute_force  # noqa: E402
from test_marginal_methods import chain  # noqa: E402

import privsynth as ps  # noqa: E402
from privsynth.core.dataset import encode  # noqa: E402
from privsynth.mechanisms.clipping import Bookkeeper, opacus_clipped_sum  # noqa: E402
from privsynth.synthesizers import DPTransformer, IndependentMarginals  # noqa: E402
from privsynth.synthesizers._numpy_transformer import NumpyTransformer  # noqa: E402
from privsynth.synthesizers._transformer_net import CausalTransformer, export_transformer  # noqa: E402
from privsynth.testing import check_synthesizer  # noqa: E402

FAST = {"epochs": 1, "sampling_rate": 0.1, "width": 8, "heads": 2, "layers": 1, "feedforward": 16, "progress": False,
        "device": "cpu"}


def random_net(levels=(3, 5, 2, 7), width=16, heads=4, layers=2, seed=0, spread=0.3):
    """A network with weights far from their start, so that every column depends on the others."""
    torch.manual_seed(seed)
    net = CausalTransformer(levels, width=width, heads=heads, layers=layers, feedforward=24)
    net.initialise(torch.Generator().manual_seed(seed), [np.ones(k) for k in levels])
    with torch.no_grad():
        for p in net.parameters():
            p.add_(spread * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + p.numel())))
    return net


@pytest.mark.parametrize("layers,heads", [(1, 1), (2, 4), (3, 2)])
def test_numpy_log_likelihood_equals_the_torch_network(layers, heads):
    net = random_net(layers=layers, heads=heads, spread=0.5)
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, k, 300) for k in net.levels], axis=1)
    expected = -net(torch.as_tensor(codes)).detach().numpy()
    np.testing.assert_allclose(export_transformer(net).log_likelihood(codes), expected, rtol=1e-4, atol=1e-4)


def test_sampled_records_follow_the_networks_exact_distribution():
    """Every one of the 30 possible records has its probability from the network (enumerated);
    200k draws hit each within 5 standard deviations, and the probabilities differ from the
    independent model's (so the check sees the dependence)."""
    net = random_net(levels=(3, 5, 2), width=8, heads=2, spread=0.8)
    model = export_transformer(net)
    cells = np.array(list(itertools.product(range(3), range(5), range(2))))
    p = np.exp(model.log_likelihood(cells))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    n = 200_000
    draws = model.generate(n, np.random.default_rng(1))
    counts = np.bincount(np.ravel_multi_index(tuple(draws.T), (3, 5, 2)), minlength=30)
    assert np.all(np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1)
    independent = np.einsum("i,j,k->ijk", *(np.bincount(draws[:, j], minlength=k) / n for j, k in enumerate((3, 5, 2)))).ravel()
    assert np.abs(p - independent).sum() > 0.05


def test_generation_keeps_the_given_prefix_and_draws_the_rest_from_the_conditional():
    model = export_transformer(random_net(levels=(3, 4), width=8, heads=2, spread=0.8))
    given = np.full((100_000, 1), 2)
    draws = model.generate(100_000, np.random.default_rng(0), given=given)
    assert (draws[:, 0] == 2).all()
    cells = np.array([[2, v] for v in range(4)])
    conditional = np.exp(model.log_likelihood(cells))
    conditional /= conditional.sum()
    assert np.abs(np.bincount(draws[:, 1], minlength=4) / 100_000 - conditional).max() < 0.01


def test_calibration_gives_every_column_its_target_marginal():
    model = export_transformer(random_net(levels=(3, 5, 2, 7), spread=0.8))
    rng = np.random.default_rng(0)
    targets = [rng.dirichlet(np.ones(k)) for k in model.levels]
    offsets = model.fit_offsets(50_000, np.random.default_rng(1), targets)
    draws = model.generate(100_000, np.random.default_rng(2), offsets=offsets)
    for j, target in enumerate(targets):
        assert np.abs(np.bincount(draws[:, j], minlength=len(target)) / len(draws) - target).max() < 0.01


@pytest.mark.parametrize("clip", [0.01, 100.0])
def test_clipping_of_the_network_matches_opacus_and_brute_force(clip):
    """The real network (embedding, weightless LayerNorms, attention, per-column output layer)."""
    from opacus import GradSampleModule

    net = random_net(levels=(3, 5, 2, 7), width=8, heads=2)
    rng = np.random.default_rng(0)
    x = torch.as_tensor(np.stack([rng.integers(0, k, 13) for k in net.levels], axis=1))
    keeper = Bookkeeper(net)
    with keeper.recording():
        losses = net(x)
    norms = keeper.accumulate_clipped(losses, clip)
    reference = opacus_clipped_sum(GradSampleModule(net, loss_reduction="sum"), net(x), clip)
    params = list(net.parameters())
    brute, brute_norms = brute_force(params, lambda i: net(x[i : i + 1]).sum(), len(x), clip)
    np.testing.assert_allclose(norms.numpy(), brute_norms, rtol=1e-4)
    for p, b in zip(params, brute):
        assert torch.allclose(keeper.sums[p], b, atol=1e-5, rtol=1e-4)
        assert torch.allclose(reference[p], b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("engine", ["bookkeeping", "opacus"])
def test_contract(census, engine):
    data, domain = census
    check_synthesizer(DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, engine=engine, **FAST), data, domain)


def test_the_released_marginals_start_the_output_layer(census):
    data, domain = census
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **{**FAST, "epochs": 0.1})
    syn.fit(data, domain)
    first = np.exp(syn.layers_.head_b[: syn.encoder_.levels[0]])
    assert np.corrcoef(first / first.sum(), syn.marginals_[0])[0, 1] > 0.9


def test_save_load_same_rows_and_complete(census, tmp_path):
    data, domain = census
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    loaded = ps.load(syn.save(tmp_path / "t.privsynth"))
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=3), syn.sample(50, random_state=3))
    given = data.iloc[:40, :2].reset_index(drop=True)
    done = loaded.complete(given, random_state=0)
    assert list(done.columns) == list(domain.names) and len(done) == 40
    for name in given.columns:
        assert done[name].astype(str).tolist() == given[name].astype(str).tolist()
    ps.core.validate(done, domain)
    with pytest.raises(ValueError, match="first columns in that order"):
        loaded.complete(data.iloc[:5, 1:3])


def test_complete_redraws_records_that_break_a_domain_rule(census):
    data, domain = census
    ruled = dataclasses.replace(domain, rules=("if age >= 65 then sex == 'Female'",))
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, ruled)
    given = pd.DataFrame({"age": [70] * 200 + [30] * 200})
    done = syn.complete(given, random_state=0)
    assert (done["sex"][:200] == "Female").all() and (done["sex"][200:] == "Male").any()
    assert done["age"].tolist() == given["age"].tolist()
    impossible = dataclasses.replace(domain, rules=("if age >= 65 then age < 65",))
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data[data["age"] < 65], impossible)
    with pytest.raises(ps.PrivsynthError, match="broke a rule"):
        syn.complete(pd.DataFrame({"age": [70]}), random_state=0)


def test_damaged_network_arrays_are_refused(census, tmp_path):
    data, domain = census
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    _, arrays = syn._network_state()
    bad = dict(arrays)
    bad["transformer::head_w"] = bad["transformer::head_w"][:-1]  # one code short: could not draw that code
    with pytest.raises(ValueError, match="head_w"):
        NumpyTransformer.from_arrays(syn.encoder_.levels, 2, 1, bad)
    bad = dict(arrays)
    bad["transformer::0::qkv_w"] = np.full_like(bad["transformer::0::qkv_w"], np.nan)
    with pytest.raises(ValueError, match="finite"):
        NumpyTransformer.from_arrays(syn.encoder_.levels, 2, 1, bad)


@pytest.mark.parametrize("params,match", [({"width": 10, "heads": 4}, "multiple of heads"), ({"layers": 0}, "layers"),
                                          ({"learning_rate": 0}, "learning_rate"), ({"epsilon": -1}, "epsilon")])
def test_bad_parameters_are_named(census, params, match):
    data, domain = census
    with pytest.raises((ValueError, TypeError), match=match):
        DPTransformer(**{**FAST, **params}).fit(data, domain)


def test_tokens_are_the_domains_codes(census):
    data, domain = census
    syn = DPTransformer(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    np.testing.assert_array_equal(syn.encoder_.transform(data.iloc[:50]), encode(data.iloc[:50], domain))


def test_learns_a_chain_that_independent_columns_cannot():
    data, domain = chain(n=4000, d=5, k=3)
    fitted = DPTransformer(epsilon=1e4, delta=1e-5, epochs=10, sampling_rate=0.1, width=16, heads=2, layers=1, feedforward=32,
                           learning_rate=0.01, random_state=0, progress=False, device="cpu").fit(data, domain)
    tvd = ps.evaluation.marginal_tvd(data, fitted.sample(4000, random_state=0), domain, order=2).average
    independent = IndependentMarginals(epsilon=1e4, random_state=0).fit(data, domain)
    base = ps.evaluation.marginal_tvd(data, independent.sample(4000, random_state=0), domain, order=2).average
    assert tvd < base / 2, (tvd, base)

