"""Every fitted synthesizer samples with numpy alone: a process in which ``import torch`` raises
loads each model file of the current format, samples, and gets the rows the torch-equipped
process gets for the same public seed. DPVAE/DPGAN's numpy forward pass equals the torch network's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recorded_rows import differences

import privsynth as ps
from privsynth.core import io as model_io
from privsynth.synthesizers._numpy_net import forward_numpy
from privsynth.testing import BLOCK_TORCH

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models" / f"format{model_io.FORMAT_VERSION}"
MODELS = sorted(FIXTURES.glob("*.privsynth"))
ROWS, SEED = 3000, 3

CHILD = BLOCK_TORCH + r"""
import json, sys
from pathlib import Path

import privsynth as ps

out, report = Path(sys.argv[1]), {}
for path in map(Path, sys.argv[2:]):
    model = ps.load(path)
    model.sample(20, random_state=0).to_csv(out / (path.stem + ".first.csv"), index=False)
    model.sample(%(rows)d, random_state=%(seed)d).to_pickle(out / (path.stem + ".pkl"))
try:
    ps.synthesizers.DPVAE(epsilon=1.0).fit(*ps.datasets.make_census(100, random_state=0))
    report["fit_error"] = None
except ImportError as exc:
    report["fit_error"] = str(exc)
report["torch_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "opacus"))
print(json.dumps(report))
""" % {"rows": ROWS, "seed": SEED}


@pytest.fixture(scope="module")
def torchless(tmp_path_factory):
    """What the torch-blocked process sampled and reported."""
    out = tmp_path_factory.mktemp("torchless")
    done = subprocess.run([sys.executable, "-c", CHILD, str(out), *map(str, MODELS)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout.strip().splitlines()[-1])


def test_there_is_a_model_file_of_every_synthesizer():
    assert {p.stem for p in MODELS} == set(ps.synthesizers.ALL_NAMES)


def test_without_torch_every_model_loads_and_samples_its_recorded_rows(torchless):
    _, report = torchless
    assert report["torch_modules"] == []
    out, _ = torchless
    found = {path.stem: differences(pd.read_csv(out / (path.stem + ".first.csv"), dtype=str, keep_default_na=False),
                                    path.with_name(path.stem + ".sample.csv").read_text()) for path in MODELS}
    assert found == {name: [] for name in ps.synthesizers.ALL_NAMES}  # floats to 1e-5: see tests/recorded_rows.py


def test_without_torch_fitting_a_deep_model_says_which_extra_to_install(torchless):
    _, report = torchless
    assert "pip install 'privsynth[deep]'" in report["fit_error"] and "numpy only" in report["fit_error"]


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_the_same_public_seed_gives_the_same_rows_with_and_without_torch(torchless, path):
    if path.stem in ("dpvae", "dpgan", "dptransformer", "dpdiffusion"):
        pytest.importorskip("torch")
        import torch  # noqa: F401  (sampling here runs in a process that has torch loaded)
    out, _ = torchless
    expected = ps.load(path).sample(ROWS, random_state=SEED)
    pd.testing.assert_frame_equal(pd.read_pickle(out / f"{path.stem}.pkl"), expected)


@pytest.mark.parametrize("name", ["dpvae", "dpgan"])
def test_the_numpy_forward_pass_equals_the_torch_network(name):
    torch = pytest.importorskip("torch")
    model = ps.load(FIXTURES / f"{name}.privsynth")
    modules = []
    for w, b, act in model.layers_:
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        modules += [linear] + ([torch.nn.ReLU()] if act == "relu" else [])
    latent = model._latent(5000, np.random.default_rng(SEED))
    with torch.no_grad():
        expected = torch.nn.Sequential(*modules)(torch.from_numpy(np.ascontiguousarray(latent.T))).numpy().T
    for workspace in (None, []):
        np.testing.assert_allclose(forward_numpy(latent, model.layers_, workspace), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["dpvae", "dpgan", "dpdiffusion"])
def test_pipelined_sampling_is_the_documented_sequential_order(monkeypatch, name):
    """Several chunks: the forward passes of the next ``_network_workers`` chunks run in threads
    while this one is decoded. The rows equal a plain loop drawing from the seed in the documented
    order (the latents of chunks ``0 .. ahead - 1``, then before chunk ``k`` is decoded those of
    chunk ``k + ahead``), whatever the threads' timing."""
    from threadpoolctl import threadpool_info

    import privsynth.synthesizers._dpsgd_base as base

    monkeypatch.setattr(base, "_CHUNK", 700)
    model = ps.load(FIXTURES / f"{name}.privsynth")
    threads_before = [i["num_threads"] for i in threadpool_info()]
    sizes = [700] * 5 + [100]
    ahead = model._network_workers
    assert ahead == (2 if name == "dpdiffusion" else 1)

    def sequential(rng):
        latents = [model._latent(sizes[j], rng) for j in range(ahead)]
        for k in range(len(sizes)):
            if k + ahead < len(sizes):
                latents.append(model._latent(sizes[k + ahead], rng))
            yield model._network(latents[k])

    rng = np.random.default_rng(SEED)
    expected = model.encoder_.decode(sequential(rng), rng, model.calibration_)
    for _ in range(3):
        pd.testing.assert_frame_equal(model.sample(3600, random_state=SEED), expected)
    assert [i["num_threads"] for i in threadpool_info()] == threads_before  # BLAS threads restored


def test_overlapping_samplers_restore_the_blas_threads_only_when_the_last_leaves():
    import threading

    from threadpoolctl import threadpool_info

    from privsynth.synthesizers import _numpy_net
    from privsynth.synthesizers._numpy_net import one_blas_thread

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with one_blas_thread():
            first_in.set()
            second_in.wait(30)
        first_out.set()

    def second():
        first_in.wait(30)
        with one_blas_thread():
            second_in.set()
            first_out.wait(30)
            seen["limiter after the first left"] = (_numpy_net._blas_users, _numpy_net._blas_limiter is not None)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # The limit stays while the second sampler is inside (reference count 1, limiter held) and goes when it leaves.
    # What *another* thread then reads back from OpenBLAS depends on the build (some keep the count per thread, and
    # issue #22 saw this assertion fail by test order), so the threads' view is checked in one thread only, below.
    assert seen["limiter after the first left"] == (1, True)
    assert _numpy_net._blas_users == 0 and _numpy_net._blas_limiter is None
    with one_blas_thread():
        assert set(blas_threads()) == {1}
    assert _numpy_net._blas_limiter is None
