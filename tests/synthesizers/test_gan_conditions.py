"""DPGAN's conditional vector: reals keep the Poisson batch (their own value of a column chosen
uniformly), fakes draw from the DP marginals, and sampling draws as training did."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.nn import functional as F  # noqa: E402

import privsynth as ps  # noqa: E402
from privsynth.synthesizers import DPGAN  # noqa: E402
from privsynth.synthesizers._encoding import Block  # noqa: E402
from privsynth.synthesizers._gan_conditions import Conditions  # noqa: E402

# encoded records: a numeric column at 0, then blocks of 3 and 2 categories
BLOCKS = [Block("a", "onehot", 1, 3), Block("b", "onehot", 4, 2)]
PROBS = [np.array([0.2, 0.5, 0.3]), np.array([0.9, 0.1])]


def _records(n, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 6), dtype=np.float32)
    x[:, 0] = rng.normal(size=n)
    x[np.arange(n), 1 + rng.integers(3, size=n)] = 1
    x[np.arange(n), 4 + rng.integers(2, size=n)] = 1
    return torch.as_tensor(x)


def test_real_records_are_conditioned_on_their_own_value_of_one_column():
    cond = Conditions(BLOCKS, PROBS)
    x = _records(2000)
    c = cond.of_records(x, torch.Generator().manual_seed(0))
    assert c.shape == (2000, 5) and torch.all(c.sum(dim=1) == 1)
    in_a = c[:, :3].sum(dim=1) == 1
    assert torch.equal(c[in_a, :3], x[in_a, 1:4]) and torch.equal(c[~in_a, 3:], x[~in_a, 4:6])
    assert abs(in_a.float().mean().item() - 0.5) < 0.05  # the column is chosen uniformly


def test_fakes_conditions_follow_the_dp_marginals_and_sampling_draws_the_same_law():
    cond = Conditions(BLOCKS, [p * 7 for p in PROBS])  # unnormalised marginals are normalised
    n = 40_000
    drawn = cond.draw(n, torch.Generator().manual_seed(1), torch.device("cpu")).numpy()
    numpy_drawn = np.zeros((5, n), dtype=np.float32)
    cond.draw_numpy(numpy_drawn, np.random.default_rng(1))
    expected = np.concatenate([p / 2 for p in PROBS])  # a block with probability 1/2, then its marginal
    for freq in (drawn.mean(axis=0), numpy_drawn.mean(axis=1)):
        assert np.abs(freq - expected).max() < 0.01  # sd <= 0.0025
    assert np.all(drawn.sum(axis=1) == 1) and np.all(numpy_drawn.sum(axis=0) == 1)


def test_cross_entropy_is_that_of_each_rows_conditioned_block():
    cond = Conditions(BLOCKS, PROBS)
    raw = torch.randn(50, 6, generator=torch.Generator().manual_seed(2))
    c = cond.draw(50, torch.Generator().manual_seed(3), torch.device("cpu"))
    in_a = c[:, :3].sum(dim=1) == 1
    per_row = torch.where(in_a, F.cross_entropy(raw[:, 1:4], c[:, :3].argmax(dim=1), reduction="none"),
                          F.cross_entropy(raw[:, 4:6], c[:, 3:].argmax(dim=1), reduction="none"))
    assert torch.allclose(cond.cross_entropy(raw, c), per_row.mean())


def test_one_column_draws_as_files_written_before_the_conditional_vector_did():
    probs = np.array([0.1, 0.6, 0.3])
    out = np.zeros((3, 500), dtype=np.float32)
    Conditions(BLOCKS[:1], [probs]).draw_numpy(out, np.random.default_rng(4))
    old = np.random.default_rng(4).choice(3, size=500, p=probs / probs.sum())  # the single-column code before
    assert np.array_equal(out.argmax(axis=0), old)


@pytest.mark.parametrize("condition,columns", [("all", None), ("sex", ["sex"]), ("", [])])
def test_dpgan_condition_names_its_columns(census, condition, columns):
    data, domain = census
    gan = DPGAN(epsilon=2.0, epochs=1, sampling_rate=0.2, generator_dim=(16,), discriminator_dim=(16,), condition=condition,
                random_state=0, progress=False).fit(data, domain)
    onehot = [b.name for b in gan.encoder_.blocks if b.kind == "onehot"]
    blocks = [] if gan.conditions_ is None else [b.name for b in gan.conditions_.blocks]
    assert blocks == (onehot if columns is None else columns)
    assert len(gan.sample(20, random_state=0)) == 20
    assert ps.verify(gan.certificate_).ok


def test_dpgan_refuses_a_condition_that_is_not_a_one_hot_column(census):
    data, domain = census
    with pytest.raises(ValueError, match="condition must be 'all', '' or a categorical column .* choose from"):
        DPGAN(epsilon=2.0, epochs=1, sampling_rate=0.2, condition="no_such_column", progress=False).fit(data, domain)


def test_discriminator_optimizer_auto_follows_the_plans_public_noise(census):
    """Under DP noise the discriminator steps with SGD (Adam would give every noisy coordinate a
    full-size step), in a nearly noiseless fit with Adam; the choice reads the plan and the DP
    count only, and an explicit optimizer and rate are used as given."""
    from privsynth.synthesizers._dpsgd_plan import QUIET_NOISE

    data, domain = census
    fast = {"epochs": 1, "sampling_rate": 0.1, "generator_dim": (16,), "discriminator_dim": (16,), "progress": False}
    noisy = DPGAN(epsilon=1.0, random_state=0, **fast).fit(data, domain)
    quiet = DPGAN(epsilon=1e4, random_state=0, **fast).fit(data, domain)
    assert noisy.noise_multiplier_ / noisy.expected_batch_ > QUIET_NOISE > quiet.noise_multiplier_ / quiet.expected_batch_
    assert (noisy.discriminator_optimizer_, quiet.discriminator_optimizer_) == ("sgd", "adam")
    assert isinstance(noisy._opt["private"], torch.optim.SGD) and noisy._opt["private"].defaults["lr"] == 3.0
    assert isinstance(quiet._opt["private"], torch.optim.Adam) and quiet._opt["private"].defaults["lr"] == 1e-3
    given = DPGAN(epsilon=1.0, discriminator_optimizer="adam", discriminator_lr=5e-4, random_state=0, **fast).fit(data, domain)
    assert given.discriminator_optimizer_ == "adam" and given._opt["private"].defaults["lr"] == 5e-4
    with pytest.raises(ValueError, match="discriminator_optimizer"):
        DPGAN(discriminator_optimizer="rmsprop", **fast).fit(data, domain)


def test_generator_dim_auto_is_narrow_when_quiet_and_wide_under_noise(census):
    """``generator_dim="auto"`` reads the same public rule as the optimizer: (128, 128) for a quiet
    plan (the wider generator is unstable without noise), (256, 256) under noise; the network
    built has those widths, and explicit sizes and a bad string are handled."""
    data, domain = census
    fast = {"epochs": 1, "sampling_rate": 0.1, "discriminator_dim": (16,), "progress": False}
    widths = {}
    for eps in (1.0, 1e4):
        gan = DPGAN(epsilon=eps, random_state=0, **fast).fit(data, domain)
        hidden = [m.out_features for m in gan.generator_ if isinstance(m, torch.nn.Linear)][:-1]
        widths[eps] = (gan.generator_dim_, tuple(hidden))
    assert widths == {1.0: ((256, 256), (256, 256)), 1e4: ((128, 128), (128, 128))}
    given = DPGAN(epsilon=1e4, generator_dim=[16], random_state=0, **fast).fit(data, domain)
    assert given.generator_dim_ == (16,)
    with pytest.raises(ValueError, match="generator_dim"):
        DPGAN(generator_dim="wide", **fast).fit(data, domain)


def test_the_fakes_and_their_conditions_do_not_depend_on_the_real_batch(census):
    """The attacker's view: the real records' column choices come from the same private stream as
    the fakes, so they are drawn *after* them -- the fakes' losses (and conditions) are the same
    whatever records, and however many, the Poisson batch holds."""
    data, domain = census
    gan = DPGAN(epsilon=2.0, epochs=1, sampling_rate=0.2, generator_dim=(16,), discriminator_dim=(16,), random_state=0,
                progress=False).fit(data, domain)
    x = torch.as_tensor(gan.encoder_.transform(data.iloc[:40]))
    n_fake = gan._public_examples()
    seen = []

    def discriminator(inputs):  # records what the discriminator is shown, then scores it
        seen.append(inputs)
        return gan.discriminator_(inputs)

    for batch in (x[:0], x[:7], x[10:40]):
        gan._per_sample_loss(discriminator, batch, n_fake, generator=torch.Generator().manual_seed(7))
    fakes = [inputs[len(batch):] for inputs, batch in zip(seen, (x[:0], x[:7], x[10:40]))]
    assert fakes[0].shape == (n_fake, gan.encoder_.width + gan.conditions_.width)
    assert all(torch.equal(fakes[0], f) for f in fakes[1:])  # fake records and conditions, bit for bit
