"""The torch backend of the estimation engine computes what the numpy backend does."""

import subprocess
import sys

import numpy as np
import pytest

from privsynth.graphical import JunctionTree, Measurement, belief_propagation, estimate
from privsynth.graphical import backend as backends
from privsynth.testing import BLOCK_TORCH

torch = pytest.importorskip("torch")

SIZES = (2, 3, 2, 4, 3)
COVERS = [[(0, 1), (1, 2), (2, 3), (3, 4)], [(0, 1), (1, 2), (2, 0), (3, 4), (0, 4)]]


def noisy_measurements(rng, cover, per_cell_sigma=False):
    joint = rng.dirichlet(np.ones(int(np.prod(SIZES)))).reshape(SIZES) * 1000
    out = []
    for attrs in [(a,) for a in range(len(SIZES))] + cover:
        attrs = tuple(sorted(attrs))
        exact = joint.sum(axis=tuple(a for a in range(len(SIZES)) if a not in attrs))
        sigma = rng.uniform(1, 5, size=exact.shape) if per_cell_sigma else 3.0
        out.append(Measurement(attrs, exact + rng.normal(0, 3.0, size=exact.shape), sigma))
    return out


@pytest.mark.parametrize("cover", COVERS)
def test_torch_belief_propagation_equals_numpy(cover):
    rng = np.random.default_rng(4)
    tree = JunctionTree.build(SIZES, cover)
    potentials = [rng.normal(size=[SIZES[a] for a in c]) for c in tree.cliques]
    potentials[0][0] = -np.inf  # cells without mass travel as -inf on both backends
    expected = belief_propagation(tree, potentials, total=50.0)
    got = belief_propagation(tree, potentials, total=50.0, backend=backends.TorchBackend("cpu"))
    assert all(isinstance(b, torch.Tensor) for b in got)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cover", COVERS)
@pytest.mark.parametrize("per_cell_sigma", [False, True])
def test_torch_estimate_equals_numpy_also_warm_started(cover, per_cell_sigma):
    measurements = noisy_measurements(np.random.default_rng(5), cover, per_cell_sigma)
    fits = {}
    for name in ("numpy", "torch"):
        first = estimate(SIZES, measurements[:-1], iterations=30, backend=name)
        fits[name] = estimate(SIZES, measurements, iterations=30, warm_start=first, backend=name)
    a, b = fits["numpy"], fits["torch"]
    assert a.iterations == b.iterations and b.loss == pytest.approx(a.loss, rel=1e-9)
    assert b.step == pytest.approx(a.step, rel=1e-9)
    for ma, mb in zip(a.model.marginals, b.model.marginals):
        assert isinstance(mb, np.ndarray)  # estimates come back as numpy whatever the backend
        np.testing.assert_allclose(mb, ma, rtol=1e-8, atol=1e-8)
    assert a.parameters.keys() == b.parameters.keys()
    for s in a.parameters:
        assert isinstance(b.parameters[s], np.ndarray)
        np.testing.assert_allclose(b.parameters[s], a.parameters[s], rtol=1e-7, atol=1e-9)


def test_get_backend_names_and_auto(monkeypatch):
    assert isinstance(backends.get_backend("numpy"), backends.NumpyBackend)
    assert backends.get_backend("torch").device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    mine = backends.TorchBackend("cpu")
    assert backends.get_backend(mine) is mine
    monkeypatch.setattr(backends, "_cuda_available", lambda: False)
    assert isinstance(backends.get_backend("auto"), backends.NumpyBackend)
    with pytest.raises(ValueError, match="unknown engine backend 'gpu'.*numpy, torch, auto"):
        backends.get_backend("gpu")


def test_synthesizers_reject_an_unknown_backend():
    import privsynth as ps

    df, domain = ps.datasets.make_census(300, random_state=0)
    for cls in (ps.synthesizers.AIM, ps.synthesizers.MST):
        with pytest.raises(ValueError, match="backend"):
            cls(epsilon=1.0, backend="gpu").fit(df, domain)


def test_mst_and_aim_fit_alike_on_both_backends():
    import privsynth as ps

    df, domain = ps.datasets.make_census(2000, random_state=1)
    for cls, params in ((ps.synthesizers.MST, {}), (ps.synthesizers.AIM, {"degree": 2, "iterations": 20, "final_iterations": 50})):
        fits = [cls(epsilon=1.0, random_state=3, backend=b, progress=False, **params).fit(df, domain) for b in ("numpy", "torch")]
        # same secret seed: same measurements and selections; estimates equal up to rounding
        assert fits[0].certificate_.spent == fits[1].certificate_.spent
        for ma, mb in zip(fits[0].model_.marginals, fits[1].model_.marginals):
            np.testing.assert_allclose(mb, ma, rtol=1e-6, atol=1e-6)


def test_without_torch_auto_is_numpy_and_torch_names_the_extra():
    child = BLOCK_TORCH + (
        "import privsynth as ps, sys\n"
        "from privsynth.graphical.backend import get_backend\n"
        "assert get_backend('auto').name == 'numpy'\n"
        "df, domain = ps.datasets.make_census(300, random_state=0)\n"
        "ps.synthesizers.MST(epsilon=1.0, random_state=0, progress=False).fit(df, domain)\n"
        "try:\n"
        "    get_backend('torch')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
        "assert 'torch' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert "privsynth[deep]" in out.stdout and "backend='numpy'" in out.stdout


@pytest.mark.gpu
def test_cuda_estimate_equals_numpy():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    measurements = noisy_measurements(np.random.default_rng(6), COVERS[1])
    a = estimate(SIZES, measurements, iterations=50, backend="numpy")
    b = estimate(SIZES, measurements, iterations=50, backend=backends.TorchBackend("cuda"))
    for ma, mb in zip(a.model.marginals, b.model.marginals):
        np.testing.assert_allclose(mb, ma, rtol=1e-7, atol=1e-7)
