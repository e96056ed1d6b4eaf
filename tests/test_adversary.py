"""The attacker of issue #9 holds every artifact a fit writes (model file, certificate, sampled
rows) and every record but one. Two families of tests, over every synthesizer:

* replay: refitting on both neighbours with everything published must not reproduce the release
  (on aa501fd the published seed made the attacker right every time, at epsilon 0.05);
* neighbours: with the same secret randomness at a test-only tiny epsilon, fits on D and D + t
  must release artifacts of the same structure and identical certificates, and say the same
  things -- any difference is a branch on an un-noised value.
"""

import math

import pandas as pd
import pytest

from privsynth.synthesizers import AIM, MST, DPGaussianCopula, IndependentMarginals, PrivBayes
from privsynth.testing import artifact_structure, replay_attack

TINY_EPSILON = 1e-4  # test-only: DP outputs are noise-dominated, so any exact dependence on the data shows
TINY_DPSGD = 0.05  # Gaussian releases cannot be certified below ~0.004 at delta 1e-5 under RDP (DP-SGD, MST, AIM)
SECRET = 2**62 + 12345


def makers(epsilon, **extra):
    out = {
        "independent": lambda s: IndependentMarginals(epsilon=epsilon, random_state=s, **extra),
        "privbayes": lambda s: PrivBayes(epsilon=epsilon, random_state=s, progress=False, **extra),
        "dpgaussiancopula": lambda s: DPGaussianCopula(epsilon=epsilon, delta=1e-6, random_state=s, **extra),
        "mst": lambda s: MST(epsilon=epsilon, random_state=s, progress=False, **extra),
        "aim": lambda s: AIM(epsilon=epsilon, degree=2, rounds=20, final_iterations=300, random_state=s, progress=False, **extra),
    }
    try:
        import opacus  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return out
    from privsynth.synthesizers import DPGAN, DPVAE, DPDiffusion, DPTransformer, NeuralAIM

    tiny = {"epochs": 1, "sampling_rate": 0.25, "progress": False, "device": "cpu", **extra}
    out["dpvae"] = lambda s: DPVAE(epsilon=epsilon, hidden=(8,), latent=2, random_state=s, **tiny)
    out["dpgan"] = lambda s: DPGAN(epsilon=epsilon, generator_dim=(8,), discriminator_dim=(8,), noise_dim=2, random_state=s, **tiny)
    out["dptransformer"] = lambda s: DPTransformer(epsilon=epsilon, width=4, heads=2, layers=1, feedforward=8, random_state=s, **tiny)
    out["dpdiffusion"] = lambda s: DPDiffusion(epsilon=epsilon, hidden=(8,), repeats=2, sampling_steps=3, random_state=s, **tiny)
    out["neuralaim"] = lambda s: NeuralAIM(epsilon=epsilon, degree=2, rounds=20, components=16, hidden=(8,), iterations=5,
                                           final_iterations=20, random_state=s, progress=False, device="cpu", **extra)
    return out


@pytest.fixture(scope="module")
def small(census):
    data, domain = census
    cols = ["age", "sex", "race", "education", "income"]
    return data[cols].iloc[:300].reset_index(drop=True), domain.select(cols)


def neighbour_pair(small):
    data, domain = small
    return data.iloc[1:].reset_index(drop=True), data.iloc[[0]].reset_index(drop=True), domain


EPSILON = 0.05
BEST_ACCURACY = math.exp(EPSILON) / (1 + math.exp(EPSILON))  # of any attack on an EPSILON-DP release


# 35 s, 90 s, 8 s and more on 2 cores: in the slow test below (DPVAE covers DP-SGD here; AIM's rounds are AIM's in NeuralAIM)
SLOW_REPLAY = ("mst", "aim", "dpgan", "neuralaim", "dptransformer", "dpdiffusion")


@pytest.mark.parametrize("name", [n for n in makers(EPSILON) if n not in SLOW_REPLAY])
def test_replay_attack_cannot_reproduce_the_release(small, name):
    """20 trials: no trial may reproduce a release, and the attacker's accuracy must be consistent
    with what epsilon allows (99.9% Clopper-Pearson interval; on aa501fd: 20 of 20)."""
    data, target, domain = neighbour_pair(small)
    result = replay_attack(makers(EPSILON)[name], data, domain, target, trials=20, confidence=0.999)
    assert result.reproduced == 0
    assert result.interval[0] <= BEST_ACCURACY, result


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dpgan-ddp", *SLOW_REPLAY])
def test_replay_attack_slow(small, name):
    if name == "dpgan-ddp":
        pytest.importorskip("torch")
    data, target, domain = neighbour_pair(small)
    make = makers(EPSILON, devices=2)["dpgan"] if name == "dpgan-ddp" else makers(EPSILON)[name]
    result = replay_attack(make, data, domain, target, trials=20)
    print(f"{name}: accuracy {result.accuracy:.2f} over {result.trials} trials, CP95 {result.interval}, reproduced {result.reproduced}")
    assert result.reproduced == 0 and result.interval[0] <= BEST_ACCURACY


@pytest.mark.parametrize("name", list(makers(TINY_EPSILON)))
def test_neighbours_release_the_same_structure(small, name):
    data, target, domain = neighbour_pair(small)
    gaussian = ("dpvae", "dpgan", "dptransformer", "dpdiffusion", "mst", "aim", "neuralaim")  # need delta > 0
    make = makers(TINY_DPSGD if name in gaussian else TINY_EPSILON)[name]
    without = artifact_structure(make(SECRET).fit(data, domain))
    with_t = artifact_structure(make(SECRET).fit(pd.concat([data, target], ignore_index=True), domain))
    assert without["certificate"] == with_t["certificate"]
    assert without["documents"] == with_t["documents"]
    assert without["arrays"] == with_t["arrays"]
