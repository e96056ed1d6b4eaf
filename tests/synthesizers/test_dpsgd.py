"""DP-SGD synthesizers: contract, per-sample clipping against Opacus and brute force, accounting
against Opacus's accountant, Poisson sampling, checkpoints, DDP, misuse (DPTransformer's own
network and sampler: test_dptransformer.py)."""

import math
import subprocess
import sys

import numpy as np
import pytest
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
from torch import nn  # noqa: E402

import privsynth as ps  # noqa: E402
from privsynth import DomainError, PrivsynthError  # noqa: E402
from privsynth.mechanisms.clipping import Bookkeeper, check_module, opacus_clipped_sum  # noqa: E402
from privsynth.mechanisms.dpsgd import _chunks, resolve_device  # noqa: E402
from privsynth.privacy import RdpAccountant, SubsampledGaussianEvent  # noqa: E402
from privsynth.privacy.events import GaussianEvent, LaplaceEvent  # noqa: E402
from privsynth.synthesizers import DPGAN, DPVAE, DPDiffusion, DPTransformer  # noqa: E402
from privsynth.testing import check_synthesizer  # noqa: E402

OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
FAST = {"epochs": 1, "sampling_rate": 0.1, "hidden": (32,), "latent": 8, "progress": False, "device": "cpu"}
FAST_TRANSFORMER = {"epochs": 1, "sampling_rate": 0.1, "width": 8, "heads": 2, "layers": 1, "feedforward": 16, "progress": False,
                    "device": "cpu"}
FAST_DIFFUSION = {"epochs": 1, "sampling_rate": 0.1, "hidden": (16,), "repeats": 2, "sampling_steps": 3, "progress": False,
                  "device": "cpu"}
FAST_GAN = {"epochs": 1, "sampling_rate": 0.1, "generator_dim": (32,), "discriminator_dim": (32,), "noise_dim": 8, "progress": False,
            "device": "cpu"}


@pytest.mark.parametrize("make", [
    lambda: DPVAE(epsilon=2.0, delta=1e-5, random_state=0, **FAST),
    lambda: DPGAN(epsilon=2.0, delta=1e-5, random_state=0, **FAST_GAN),
    lambda: DPVAE(epsilon=2.0, delta=1e-5, random_state=0, numeric="quantile", engine="opacus", **FAST),
    lambda: DPGAN(epsilon=2.0, delta=None, random_state=0, max_physical_batch_size=40, **FAST_GAN),
], ids=["dpvae", "dpgan", "dpvae-quantile-opacus", "dpgan-auto-delta-chunked"])
def test_contract(census, make):
    data, domain = census
    check_synthesizer(make(), data, domain)


def per_sample_loss(model, x, y):
    return ((model(x) - y) ** 2).sum(dim=1)


def brute_force_clipped_sum(model, x, y, c):
    total = {p: torch.zeros_like(p) for p in model.parameters()}
    for i in range(len(x)):
        model.zero_grad()
        per_sample_loss(model, x[i : i + 1], y[i : i + 1]).sum().backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
        factor = min(1.0, c / (float(norm) + 1e-6))
        for p in model.parameters():
            total[p] += factor * p.grad
    return total


@pytest.mark.parametrize("clip", [0.05, 1.0, 100.0])
def test_bookkeeping_matches_opacus_and_brute_force(clip):
    from opacus import GradSampleModule

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(33, 7), torch.randn(33, 3)
    keeper = Bookkeeper(model)
    with keeper.recording():
        losses = per_sample_loss(model, x, y)
    keeper.accumulate_clipped(losses, clip)
    gsm = GradSampleModule(model, loss_reduction="sum")
    reference = opacus_clipped_sum(gsm, per_sample_loss(gsm, x, y), clip)
    brute = brute_force_clipped_sum(model, x, y, clip)
    for p in model.parameters():
        assert torch.allclose(keeper.sums[p], reference[p], atol=1e-5, rtol=1e-4)
        assert torch.allclose(keeper.sums[p], brute[p], atol=1e-5, rtol=1e-4)


def brute_force(params, record_loss, n, clip):
    """Each record's gradient on its own (``record_loss(i)``), clipped and summed; and the norms."""
    total, norms = [torch.zeros_like(p) for p in params], []
    for i in range(n):
        grads = torch.autograd.grad(record_loss(i), params, retain_graph=True)
        norms.append(float(torch.sqrt(sum((g**2).sum() for g in grads))))
        for t, g in zip(total, grads):
            t += min(1.0, clip / (norms[-1] + 1e-6)) * g
    return total, norms


class _Sequence(nn.Module):
    """Embedding, parameter-free LayerNorm and Linear layers on ``batch x T`` token sequences: the
    shapes of the transformer's layers."""

    def __init__(self, vocab: int = 11, width: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.mix = nn.Linear(width, width)
        self.out = nn.Linear(width, 3, bias=False)

    def forward(self, tokens):
        h = self.norm(self.embed(tokens))
        h = h + torch.relu(self.mix(h)).cumsum(dim=1)  # positions mix, as attention does
        return self.out(h)


def sequence_loss(model, x, y):
    return ((model(x) - y) ** 2).sum(dim=(1, 2))


@pytest.mark.parametrize("steps", [1, 5, 40])  # 40: the per-sample gradients are cheaper than the T x T Gram matrices
@pytest.mark.parametrize("clip", [0.05, 100.0])
def test_bookkeeping_on_sequences_and_embeddings_matches_opacus_and_brute_force(clip, steps):
    from opacus import GradSampleModule

    torch.manual_seed(1)
    model = _Sequence()
    x = torch.randint(0, 11, (17, steps))  # repeated tokens within a record: their gradients add into one row
    y = torch.randn(17, steps, 3)
    keeper = Bookkeeper(model)
    with keeper.recording():
        losses = sequence_loss(model, x, y)
    norms = keeper.accumulate_clipped(losses, clip)
    gsm = GradSampleModule(model, loss_reduction="sum")
    reference = opacus_clipped_sum(gsm, sequence_loss(gsm, x, y), clip)
    params = list(model.parameters())
    brute, brute_norms = brute_force(params, lambda i: sequence_loss(model, x[i : i + 1], y[i : i + 1]).sum(), len(x), clip)
    np.testing.assert_allclose(norms.numpy(), brute_norms, rtol=1e-4)
    for p, b in zip(params, brute):
        assert torch.allclose(keeper.sums[p], reference[p], atol=1e-5, rtol=1e-4)
        assert torch.allclose(keeper.sums[p], b, atol=1e-5, rtol=1e-4)


def test_bookkeeping_refuses_what_it_cannot_do():
    with pytest.raises(PrivsynthError, match="engine='opacus'"):
        Bookkeeper(nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)))  # its weights are not a Linear's
    with pytest.raises(PrivsynthError, match="engine='opacus'"):
        Bookkeeper(nn.Embedding(5, 3, padding_idx=0))  # the padding row gets no gradient
    shared = nn.Linear(3, 3)
    keeper = Bookkeeper(shared)
    with keeper.recording():
        losses = shared(shared(torch.randn(4, 3))).sum(dim=1)
    with pytest.raises(PrivsynthError, match="twice"):
        keeper.accumulate_clipped(losses, 1.0)


def test_gan_fakes_per_step_do_not_depend_on_the_real_batch(census):
    """If the number of fake examples followed the Poisson batch size, adding one record would
    add a fake example too and move the clipped sum by 2C. It is fixed before training, from the
    DP count: the same whatever the batch, and once per logical step whatever the chunking."""
    data, domain = census
    gan = DPGAN(epsilon=2.0, delta=1e-5, random_state=0, **FAST_GAN).fit(data, domain)
    n_fake = gan._public_examples()
    assert n_fake == round(gan.sampling_rate_ * gan.n_hat_)
    x = torch.as_tensor(gan.encoder_.transform(data.iloc[:20]))
    for n_real in (0, 3, 7):
        losses = gan._per_sample_loss(gan.discriminator_, x[:n_real], n_fake, generator=torch.Generator().manual_seed(0))
        assert losses.shape == (n_real + n_fake,)
    assert [n for _, n in _chunks(x[:7], 2, n_fake)] == [n_fake, 0, 0, 0]
    assert [n for _, n in _chunks(x[:0], 2, n_fake)] == [n_fake]


def test_batchnorm_is_rejected_with_an_explanation():
    with pytest.raises(PrivsynthError, match="BatchNorm1d.*other records.*LayerNorm"):
        check_module(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)))


def test_cuda_without_a_gpu_is_a_clear_error(census):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(PrivsynthError, match="no CUDA GPU"):
        resolve_device("cuda")
    data, domain = census
    with pytest.raises(PrivsynthError, match="device='cpu'"):
        DPVAE(epsilon=1.0, device="cuda:1").fit(data, domain)


def test_nan_is_a_domain_error_before_training(census):
    data, domain = census
    bad = data.copy()
    bad.loc[0, "age"] = np.nan
    synth = DPVAE(epsilon=1.0, random_state=0, **FAST)
    with pytest.raises(DomainError, match="'age' has missing values"):
        synth.fit(bad, domain)
    assert not hasattr(synth, "noise_multiplier_")  # nothing was trained or spent


def test_accounting_matches_opacus_and_never_exceeds_target(census):
    from opacus.accountants import RDPAccountant

    data, domain = census
    synth = DPGAN(epsilon=1.5, delta=1e-5, random_state=0, accountant={"name": "rdp", "orders": OPACUS_ORDERS}, **FAST_GAN)
    synth.fit(data, domain)
    cert = synth.certificate_
    steps = [e.event for e in cert.entries if isinstance(e.event, SubsampledGaussianEvent)]
    assert len(steps) == 1 and steps[0].steps == synth.steps_
    assert steps[0].noise_multiplier == synth.noise_multiplier_ and steps[0].sampling_rate == synth.sampling_rate_
    opacus = RDPAccountant()
    opacus.history = [(synth.noise_multiplier_, synth.sampling_rate_, synth.steps_)]
    theirs = opacus.get_epsilon(delta=1e-5, alphas=OPACUS_ORDERS)
    ours = RdpAccountant(orders=OPACUS_ORDERS).epsilon(steps, 1e-5)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert cert.spent.epsilon <= 1.5 and ps.verify(cert).ok
    assert any("Poisson" in a for a in cert.assumptions)
    assert cert.parameters["noise_multiplier"] == synth.noise_multiplier_ and cert.parameters["max_grad_norm"] == 1.0


@pytest.mark.parametrize("cls,fast", [(DPVAE, FAST), (DPGAN, FAST_GAN), (DPTransformer, FAST_TRANSFORMER), (DPDiffusion, FAST_DIFFUSION)],
                         ids=["dpvae", "dpgan", "dptransformer", "dpdiffusion"])
def test_certificate_equals_an_independent_recomputation(census, cls, fast):
    """Every charge composed again with dp_accounting's RDP accountant (the discrete Gaussian as a
    continuous one, which bounds it): the certificate's epsilon, within the target and not far below."""
    data, domain = census
    syn = cls(epsilon=1.0, delta=1e-6, random_state=0, **fast).fit(data, domain)
    events = [e.event for e in syn.certificate_.entries]
    assert [type(e) for e in events] == [LaplaceEvent] + [GaussianEvent] * len(domain) + [SubsampledGaussianEvent]
    steps = events[-1]
    assert steps.steps == syn.steps_ == math.ceil(1 / 0.1) and steps.noise_multiplier == syn.noise_multiplier_
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(dp_event.LaplaceDpEvent(events[0].noise_multiplier))
    for e in events[1:-1]:
        acc.compose(dp_event.GaussianDpEvent(e.noise_multiplier))
    subsampled = dp_event.PoissonSampledDpEvent(steps.sampling_rate, dp_event.GaussianDpEvent(steps.noise_multiplier))
    acc.compose(dp_event.SelfComposedDpEvent(subsampled, steps.steps))
    theirs = acc.get_epsilon(1e-6)
    assert 0.95 <= theirs <= 1.0 + 1e-6
    assert syn.certificate_.spent.epsilon == pytest.approx(theirs, rel=0.02) and ps.verify(syn.certificate_).ok


def test_a_dp_domain_charges_first_and_the_noise_is_calibrated_after_it(census):
    """A domain refined with pure DP (PrivTree bins at epsilon 1): composed with DP-SGD by RDP, its
    charges cost a little more than their epsilon, so a fit calibrated for its own epsilon alone was
    refused (2.009 > 2). The plan now calibrates after the domain's charges."""
    data, domain = census
    binned = ps.profiling.dp_bins(data, domain, epsilon=1.0, rows=len(data), random_state=0)
    syn = DPVAE(epsilon=1.0, random_state=0, **FAST).fit(data, binned)  # delta 1e-5
    cert = syn.certificate_
    tree = [e.event for e in cert.entries[: len(binned.estimation["entries"])]]
    assert [e["label"] for e in binned.estimation["entries"]] == [e.label for e in cert.entries[: len(tree)]]
    assert 1.95 <= cert.spent.epsilon <= 2.0 + 1e-9 and ps.verify(cert).ok
    alone = DPVAE(epsilon=1.0, random_state=0, **FAST).fit(data, domain)
    before = RdpAccountant().epsilon([*tree, *(e.event for e in alone.certificate_.entries)], 1e-5)
    assert before > 2.0  # what the fit used to plan: over the sum of the budgets
    assert syn.noise_multiplier_ > alone.noise_multiplier_  # the price of calibrating after the domain


def test_exact_poisson_sampling_is_used(census, monkeypatch):
    import privsynth.synthesizers._dpsgd_train as train_module

    calls = []
    original = train_module.poisson_sample

    def recording(n, q, **kwargs):
        out = original(n, q, **kwargs)
        calls.append((n, q, len(out)))
        return out

    monkeypatch.setattr(train_module, "poisson_sample", recording)
    data, domain = census
    synth = DPVAE(epsilon=2.0, delta=1e-5, random_state=0, **FAST).fit(data, domain)
    assert len(calls) == synth.steps_ and {c[:2] for c in calls} == {(len(data), synth.sampling_rate_)}
    sizes = [c[2] for c in calls]
    assert len(set(sizes)) > 1  # Poisson: batch sizes vary
    q = synth.sampling_rate_
    assert q == math.floor(0.1 * 2**53) / 2**53  # the dyadic rate the sampler realizes exactly, and the one accounted
    assert abs(np.mean(sizes) - q * len(data)) < 4 * math.sqrt(q * len(data) / len(sizes))


@pytest.mark.parametrize("cls,fast", [(DPVAE, FAST), (DPTransformer, FAST_TRANSFORMER)], ids=["dpvae", "dptransformer"])
def test_resume_after_kill_gives_the_uninterrupted_accounting(census, tmp_path, monkeypatch, cls, fast):
    import privsynth.synthesizers._dpsgd_train as train_module

    data, domain = census
    params = dict(epsilon=2.0, delta=1e-5, random_state=0, checkpoint_every=2, **{**fast, "epochs": 2})
    full = cls(**params).fit(data, domain)

    class Killed(Exception):
        pass

    original = train_module.save_checkpoint

    def save_then_die(directory, state):
        original(directory, state)
        if state.step == 6:
            raise Killed

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        cls(**params).fit(data, domain, checkpoint_dir=tmp_path)
    monkeypatch.setattr(train_module, "save_checkpoint", original)
    blob = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert blob["step"] == 6 and not any("gen" in k or "rng" in k or "seed" in k for k in blob)  # no generator state
    resumed = cls(**params).fit(data, domain, checkpoint_dir=tmp_path)
    assert resumed.certificate_.entries == full.certificate_.entries
    assert resumed.certificate_.spent == full.certificate_.spent and ps.verify(resumed.certificate_).ok
    for a, b in zip(full._private_module().parameters(), resumed._private_module().parameters()):  # streams re-derived by step
        assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(PrivsynthError, match="different configuration"):
        cls(**{**params, "epsilon": 3.0}).fit(data, domain, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("cls,fast", [(DPGAN, FAST_GAN), (DPTransformer, FAST_TRANSFORMER)], ids=["dpgan", "dptransformer"])
def test_ddp_gloo_two_processes_one_certificate(census, cls, fast):
    data, domain = census
    single = cls(epsilon=2.0, delta=1e-5, random_state=0, **fast).fit(data, domain)
    ddp = cls(epsilon=2.0, delta=1e-5, random_state=0, devices=2, **fast).fit(data, domain)
    assert ddp.certificate_.entries == single.certificate_.entries
    assert ps.verify(ddp.certificate_).ok and len(ddp.sample(10)) == 10


def test_package_works_without_torch():
    """Without torch everything but *fitting* DPVAE/DPGAN works (sampling them too: test_numpy_only_sampling.py)."""
    from privsynth.testing import BLOCK_TORCH

    code = BLOCK_TORCH + (
        "import privsynth as ps\n"
        "df, d = ps.datasets.make_census(300, random_state=0)\n"
        "ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(df, d).sample(5)\n"
        "try:\n    ps.synthesizers.DPVAE(epsilon=1.0).fit(df, d)\nexcept ImportError as e:\n    print('IMPORT-ERROR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "IMPORT-ERROR" in out.stdout and "deep" in out.stdout


def test_a_degenerate_release_is_flagged_naming_the_column(census):
    """Issue #10: the release's 1-way marginals are compared with the DP marginals the fit already
    released (no budget); a collapsed model warns, naming the column, a healthy one does not."""
    import warnings

    from privsynth.synthesizers._calibration import Calibration

    data, domain = census
    gan = DPGAN(epsilon=2.0, random_state=0, **FAST_GAN).fit(data, domain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ps.ReleaseQualityWarning)
        gan.sample(5000, random_state=0)  # calibrated: matches the DP marginals
    block = next(b for b in gan.encoder_.blocks if b.kind == "onehot")
    w, b, act = gan.layers_[-1]
    b = b.copy()
    b[block.start] = 1e3  # every record gets the block's first category
    gan.layers_ = [*gan.layers_[:-1], (w, b, act)]
    gan.calibration_ = Calibration()
    with pytest.warns(ps.ReleaseQualityWarning, match=f"'{block.name}' \\(TVD 0\\.[5-9]"):
        gan.sample(5000, random_state=0)


def test_kl_weight_auto_follows_the_plans_public_noise(census):
    """``kl_weight="auto"`` regularizes a noisy fit (0.5) more than a nearly noiseless one (0.2),
    from the plan's noise multiplier and the DP count only; a number is used as given."""
    from privsynth.synthesizers.dpvae import QUIET_NOISE, auto_kl_weight

    data, domain = census
    noisy = DPVAE(epsilon=1.0, random_state=0, **FAST).fit(data, domain)
    quiet = DPVAE(epsilon=1e4, random_state=0, **FAST).fit(data, domain)
    assert noisy.noise_multiplier_ / noisy.expected_batch_ > QUIET_NOISE > quiet.noise_multiplier_ / quiet.expected_batch_
    assert (noisy.kl_weight_, quiet.kl_weight_) == (0.5, 0.2)
    assert DPVAE(epsilon=1.0, kl_weight=0.3, random_state=0, **FAST).fit(data, domain).kl_weight_ == 0.3
    assert auto_kl_weight(QUIET_NOISE * 100 * 0.99, 100.0) == 0.2 and auto_kl_weight(QUIET_NOISE * 100, 100.0) == 0.5
    with pytest.raises(ValueError, match="'auto'"):
        DPVAE(kl_weight="Auto", **FAST).fit(data, domain)
