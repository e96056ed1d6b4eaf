"""The numpy parts of the DP-SGD synthesizers: calibration onto the DP marginals, the
search-free piecewise CDF, decoding, the numpy forward pass, and the marginals' post-processing."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from privsynth.core.domain import Categorical, Domain, Numeric, Ordinal
from privsynth.synthesizers._calibration import QUANTILES, fit_calibration, softmax
from privsynth.synthesizers._discrete import normalize_counts
from privsynth.synthesizers._encoding import TabularEncoder, _PiecewiseCdf

DOMAIN = Domain((Categorical("c", ("a", "b", "c")), Ordinal("age", tuple(range(60))), Numeric("x", 0, 100, bins=10, nullable=True)))


def test_calibration_tilts_each_block_onto_its_target():
    rng = np.random.default_rng(0)
    marginals = [np.array([0.2, 0.5, 0.3]), rng.dirichlet(np.ones(60)), np.r_[rng.dirichlet(np.ones(10)) * 0.9, 0.1]]
    enc = TabularEncoder(DOMAIN, numeric="quantile", marginals=marginals)
    raw = rng.normal(size=(50_000, enc.width)) * 2 + 1  # a network's outputs, far from the targets
    cal = fit_calibration(raw, enc.blocks, enc.targets())
    onehot = next(b for b in enc.blocks if b.kind == "onehot")
    tilted = softmax(raw[:, onehot.start : onehot.start + 3] + cal.offsets[onehot.start]).mean(axis=0)
    np.testing.assert_allclose(tilted, marginals[0], atol=1e-4)
    out = enc.decode([raw.T[:, :25_000], raw.T[:, 25_000:]], np.random.default_rng(1), cal)
    assert len(out) == 50_000
    np.testing.assert_allclose(out["c"].value_counts(normalize=True).reindex(["a", "b", "c"]).to_numpy(), marginals[0], atol=0.01)
    ages = out["age"].value_counts(normalize=True).reindex(range(60), fill_value=0).to_numpy()
    assert 0.5 * np.abs(ages - marginals[1]).sum() < 0.03  # the ordinal mapped onto its DP CDF
    assert abs(out["x"].isna().mean() - 0.1) < 0.01
    bins = np.histogram(out["x"].dropna(), bins=10, range=(0, 100))[0]
    np.testing.assert_allclose(bins / bins.sum(), marginals[2][:10] / 0.9, atol=0.01)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), spike=st.floats(0.0, 0.99))
@example(seed=1796, spike=0.25)  # once failed: a point mass where the two picked opposite ends of the jump
@example(seed=755, spike=0.5)  # once failed: values below a point mass at the lowest knots got the jump's middle
@example(seed=669, spike=0.625)  # a value just below a jump in float64, on it in float32
@example(seed=669, spike=0.5)  # once failed: on the jump's top in float32, a steep segment above it
def test_piecewise_cdf_equals_interp(seed, spike):
    rng = np.random.default_rng(seed)
    n = 5000
    t = np.tanh(rng.normal(size=n) * rng.uniform(0.01, 3))
    t[: int(spike * n)] = t[0]  # a point mass: knots crowd into one bucket
    knots = np.quantile(t, QUANTILES)
    values = np.r_[t, rng.uniform(-1, 1, 500)].astype(np.float32)
    got = _PiecewiseCdf(knots)(values)
    # Near a point mass (several equal knots) the CDF jumps, and the fast path works in float32:
    # a value within float32 rounding of the jump may land anywhere from the segment below it to
    # the top of the jump. Everywhere else it must agree with np.interp.
    v64 = values.astype(np.float64)
    tol = 2 * np.spacing(np.abs(values)).astype(np.float64)
    lo = np.searchsorted(knots, v64 - tol, side="left")
    hi = np.searchsorted(knots, v64 + tol, side="right") - 1
    tie = hi > lo
    below = QUANTILES[np.maximum(lo[tie] - 1, 0)]
    # ... or past the top by what float32 rounding is worth on the next segment, which can be very steep
    above = np.maximum(QUANTILES[hi[tie]], np.interp(v64[tie] + tol[tie], knots, QUANTILES))
    inside = (got[tie] >= below - 1e-4) & (got[tie] <= above + 1e-4)
    assert inside.all()
    np.testing.assert_allclose(got[~tie], np.interp(values[~tie].astype(np.float64), knots, QUANTILES), atol=1e-4)



def test_numpy_forward_equals_torch():
    torch = pytest.importorskip("torch")
    from torch import nn

    from privsynth.synthesizers._nets import export_layers, mlp
    from privsynth.synthesizers._numpy_net import forward_numpy, layers_from_arrays, layers_to_arrays

    net = mlp([5, 8, 8, 3], activation=lambda: nn.LeakyReLU(0.2))
    x = torch.randn(20, 5)
    activations, arrays = layers_to_arrays("net", export_layers(net))
    ours = forward_numpy(x.numpy().T, layers_from_arrays("net", activations, arrays))
    np.testing.assert_allclose(ours.T, net(x).detach().numpy(), rtol=1e-5, atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(counts=st.lists(st.floats(-50, 500), min_size=1, max_size=30))
def test_normalize_counts_projects_onto_the_simplex(counts):
    c = np.array(counts)
    p = normalize_counts(c)
    assert p.min() >= 0 and p.sum() == pytest.approx(1.0)
    if c.sum() > 0 and c.min() >= 0:
        np.testing.assert_allclose(p, c / c.sum(), atol=1e-12)  # nothing to cut: plain normalization
    if c.sum() > 0:  # mass is never moved onto a cell below the cut
        assert np.all(p[c <= 0] <= 1e-12)


def test_a_point_mass_maps_uniformly_over_its_jump_a_few_ulps_away_too():
    """A network with dead units gives most records one exact value; a later batch computes it a
    few float32 ulps apart. With public randomness those values get u uniform over the CDF's
    jump, not its top (without randomness the map is the plain piecewise-linear CDF)."""
    rng = np.random.default_rng(0)
    t = np.tanh(rng.normal(size=20_000)).astype(np.float32)
    t[:15_000] = np.float32(0.25)
    cdf = _PiecewiseCdf(np.quantile(t, QUANTILES))
    (value, below, above), = cdf.atoms()
    assert value == np.float32(0.25)  # the jump: from P(t < 0.25) to P(t <= 0.25), up to one quantile step
    assert abs(below - np.mean(t < 0.25)) <= 0.005 and abs(above - np.mean(t <= 0.25)) <= 0.005
    nearby = np.nextafter(np.full(4000, 0.25, dtype=np.float32), np.float32(1))  # one ulp above
    u = cdf(nearby, np.random.default_rng(1))
    assert below <= u.min() and u.max() <= above and abs(u.mean() - (below + above) / 2) < 0.01
    assert np.ptp(cdf(nearby)) == 0  # no randomness: one value for the whole mass
    off = np.float32([-0.5, 0.5])
    np.testing.assert_array_equal(cdf(off, np.random.default_rng(1)), cdf(off))  # no uniforms off the mass


def test_a_collapsed_numeric_output_still_decodes_onto_the_dp_marginal():
    """Before the randomized transform, a network whose age output was one value for most
    latents put 95% of the records on one level whatever the DP marginal said."""
    rng = np.random.default_rng(0)
    marginals = [np.array([0.2, 0.5, 0.3]), rng.dirichlet(np.ones(60)), np.r_[rng.dirichlet(np.ones(10)) * 0.9, 0.1]]
    enc = TabularEncoder(DOMAIN, numeric="quantile", marginals=marginals)
    raw = rng.normal(size=(40_000, enc.width)).astype(np.float32)
    age = next(b for b in enc.blocks if b.name == "age").start
    raw[:38_000, age] = np.float32(0.3)  # dead units: one output for 95% of the latents
    cal = fit_calibration(raw, enc.blocks, enc.targets())
    batch = raw.T.copy()
    batch[age, :38_000] = np.nextafter(np.float32(0.3), np.float32(1))  # computed again, an ulp apart
    ages = enc.decode([batch], np.random.default_rng(2), cal)["age"].value_counts(normalize=True)
    assert 0.5 * np.abs(ages.reindex(range(60), fill_value=0).to_numpy() - marginals[1]).sum() < 0.03


def test_ordinal_columns_above_the_limit_are_one_number_and_dequantized():
    enc = TabularEncoder(DOMAIN, numeric="quantile")
    kinds = {b.name: b.kind for b in enc.blocks}
    assert kinds == {"c": "onehot", "age": "ordinal", "x": "missing"} or [b.kind for b in enc.blocks] == [
        "onehot", "ordinal", "numeric", "missing"]
    df = pd.DataFrame({"c": ["a"] * 4, "age": [0, 0, 59, 30], "x": [1.0, np.nan, 50.0, 99.0]})
    mid = enc.transform(df)
    jittered = enc.transform(df, rng=np.random.default_rng(0))
    age = next(b for b in enc.blocks if b.name == "age").start
    assert mid[0, age] == mid[1, age] and jittered[0, age] != jittered[1, age]
    assert np.all(np.abs(jittered[:, age] - mid[:, age]) <= 1.0 / 60 + 1e-6)  # within the level's interval
