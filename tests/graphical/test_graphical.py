"""The graphical-model engine against brute force on small domains."""

import itertools

import numpy as np
import pytest
from scipy import stats

from privsynth.graphical import (
    GraphicalModel,
    JunctionTree,
    Measurement,
    belief_propagation,
    draw_rows,
    estimate,
    sample_codes,
    systematic_rows,
)
from privsynth.graphical.factor import expand

SIZES = (2, 3, 2, 4, 3)


def brute_joint(sizes, cliques, potentials):
    """The normalized joint of exp(sum of potentials) by enumerating every cell."""
    log = np.zeros(sizes)
    everything = tuple(range(len(sizes)))
    for clique, pot in zip(cliques, potentials):
        log = log + expand(pot, clique, everything)
    p = np.exp(log - log.max())
    return p / p.sum()


def marginal(joint, attrs):
    axes = tuple(a for a in range(joint.ndim) if a not in attrs)
    return joint.sum(axis=axes)


@pytest.mark.parametrize("cover", [
    [(0, 1), (1, 2), (2, 3), (3, 4)],            # a chain
    [(0, 1, 2), (2, 3), (1, 4)],                  # a tree of larger cliques
    [(0, 1), (1, 2), (2, 0), (3, 4), (0, 4)],     # cycles: triangulation needed
    [(0,), (1,), (2,), (3,), (4,)],               # independent attributes
])
def test_junction_tree_has_running_intersection_and_covers(cover):
    tree = JunctionTree.build(SIZES, cover)
    assert all(tree.containing(c) is not None for c in cover)
    assert set().union(*map(set, tree.cliques)) == set(range(len(SIZES)))
    assert len(tree.edges) == len(tree.cliques) - 1
    # running intersection: the cliques holding any attribute form a connected subtree
    for a in range(len(SIZES)):
        holding = {i for i, c in enumerate(tree.cliques) if a in c}
        links = [(p, c) for p, c in tree.edges if p in holding and c in holding]
        assert len(links) == len(holding) - 1


@pytest.mark.parametrize("cover", [[(0, 1), (1, 2), (2, 3), (3, 4)], [(0, 1), (1, 2), (2, 0), (3, 4), (0, 4)]])
def test_belief_propagation_equals_enumeration(cover):
    rng = np.random.default_rng(1)
    tree = JunctionTree.build(SIZES, cover)
    potentials = [rng.normal(size=[SIZES[a] for a in c]) for c in tree.cliques]
    beliefs = belief_propagation(tree, potentials, total=7.0)
    joint = brute_joint(SIZES, tree.cliques, potentials)
    for clique, belief in zip(tree.cliques, beliefs):
        np.testing.assert_allclose(belief, 7.0 * marginal(joint, clique), rtol=1e-10, atol=1e-12)


def test_projection_equals_brute_force_marginals_also_across_cliques():
    rng = np.random.default_rng(2)
    tree = JunctionTree.build(SIZES, [(0, 1), (1, 2), (2, 3), (3, 4)])
    potentials = [rng.normal(size=[SIZES[a] for a in c]) for c in tree.cliques]
    model = GraphicalModel(tree, belief_propagation(tree, potentials, total=100.0), total=100.0)
    joint = brute_joint(SIZES, tree.cliques, potentials)
    for k in (1, 2, 3):
        for attrs in itertools.combinations(range(len(SIZES)), k):
            np.testing.assert_allclose(model.project(attrs), 100.0 * marginal(joint, attrs), rtol=1e-9, atol=1e-9)


def test_projection_across_cliques_with_private_attributes_equals_brute_force():
    """Cliques of three with attributes no other clique holds (summed out before the product)."""
    rng = np.random.default_rng(3)
    sizes = (2, 3, 2, 3, 2, 3, 2, 3)
    tree = JunctionTree.build(sizes, [(0, 1, 2), (2, 3, 4), (4, 5, 6), (1, 7), (6, 7)])
    potentials = [rng.normal(size=[sizes[a] for a in c]) for c in tree.cliques]
    model = GraphicalModel(tree, belief_propagation(tree, potentials, total=50.0), total=50.0)
    joint = brute_joint(sizes, tree.cliques, potentials)
    spans = 0
    for k in (1, 2, 3):
        for attrs in itertools.combinations(range(len(sizes)), k):
            expected = 50.0 * marginal(joint, attrs)
            np.testing.assert_allclose(model.project(attrs), expected, rtol=1e-9, atol=1e-9)
            if tree.containing(attrs) is None:  # contracted towards each clique of the covering subtree in turn
                spans += 1
                for root in model._covering_subtree(set(attrs)):
                    np.testing.assert_allclose(model._eliminate(attrs, root), expected, rtol=1e-9, atol=1e-9)
    assert spans > 20  # most 3-way marginals span several cliques


def test_estimation_recovers_exact_marginals_without_noise():
    rng = np.random.default_rng(3)
    truth_tree = JunctionTree.build(SIZES, [(0, 1), (1, 2), (2, 3), (3, 4)])
    potentials = [rng.normal(size=[SIZES[a] for a in c]) for c in truth_tree.cliques]
    joint = 1000.0 * brute_joint(SIZES, truth_tree.cliques, potentials)
    sets = [(0, 1), (1, 2), (2, 3), (3, 4)]
    fit = estimate(SIZES, [Measurement(s, marginal(joint, s), sigma=1.0) for s in sets], iterations=3000)
    for s in sets:
        np.testing.assert_allclose(fit.model.project(s), marginal(joint, s), atol=1e-3)
    # the maximum-entropy fit of a tree's edge marginals is the tree model itself
    np.testing.assert_allclose(fit.model.project((0, 4)), marginal(joint, (0, 4)), atol=1e-3)
    assert fit.model.total == pytest.approx(1000.0)


def test_warm_start_continues_from_the_previous_parameters():
    joint = np.random.default_rng(4).dirichlet(np.ones(12)).reshape(3, 4) * 500
    y = [Measurement((0, 1), joint, sigma=1.0)]
    first = estimate((3, 4), y, iterations=5)
    more = estimate((3, 4), y, iterations=5, warm_start=first)
    assert more.loss < first.loss
    assert more.loss <= 1.5 * estimate((3, 4), y, iterations=10).loss  # 5 + 5 steps do as well as 10 (it keeps its step size)
    assert more.step > 0 and np.isfinite(more.step)


def test_iid_sampling_reproduces_the_model_marginals():
    """Chi-square goodness of fit of sampled pairs, including a pair that spans two cliques (a
    sampler that couples row orders between columns, like rounding counts and concatenating,
    fails this on the cross-clique pair)."""
    rng = np.random.default_rng(5)
    tree = JunctionTree.build(SIZES, [(0, 1), (1, 2), (2, 3), (3, 4)])
    potentials = [2 * rng.normal(size=[SIZES[a] for a in c]) for c in tree.cliques]
    model = GraphicalModel(tree, belief_propagation(tree, potentials, total=1.0), total=1.0)
    n = 60_000
    codes = sample_codes(model, n, np.random.default_rng(6))
    for attrs in [(0, 1), (2, 3), (0, 4), (1, 3)]:
        expected = model.project(attrs).ravel() * n
        seen = np.bincount(np.ravel_multi_index(tuple(codes[:, a] for a in attrs), [SIZES[a] for a in attrs]),
                           minlength=expected.size)
        keep = expected > 5
        stat = ((seen[keep] - expected[keep]) ** 2 / expected[keep]).sum()
        assert stats.chi2.sf(stat, keep.sum() - 1) > 1e-3, attrs
    # rows are independent draws: consecutive rows are uncorrelated
    assert abs(np.corrcoef(codes[:-1, 3], codes[1:, 3])[0, 1]) < 0.02


def chain_model(seed: int, sizes=SIZES) -> GraphicalModel:
    rng = np.random.default_rng(seed)
    tree = JunctionTree.build(sizes, [(a, a + 1) for a in range(len(sizes) - 1)])
    potentials = [2 * rng.normal(size=[sizes[a] for a in c]) for c in tree.cliques]
    return GraphicalModel(tree, belief_propagation(tree, potentials, total=1.0), total=1.0)


def counts(codes, attrs, sizes):
    return np.bincount(np.ravel_multi_index(tuple(codes[:, a] for a in attrs), [sizes[a] for a in attrs]),
                       minlength=int(np.prod([sizes[a] for a in attrs])))


def test_stratified_sampling_keeps_every_clique_count_within_one_of_its_expectation():
    """The root clique's cells get n * p within one; every other clique's new attributes get, in
    each group of rows sharing a separator value, the group's size times the model's conditional,
    within one."""
    model = chain_model(5)
    n = 7_001
    codes = sample_codes(model, n, np.random.default_rng(6), sampler="stratified")
    tree = model.tree
    root = tree.cliques[0]
    assert np.abs(counts(codes, root, SIZES) - model.marginals[0].ravel() * n).max() < 1
    for parent, child in tree.edges:
        clique, sep = tree.cliques[child], tree.separator((parent, child))
        joint = model.project(clique)  # axes in sorted order
        conditional = joint / joint.sum(axis=tuple(i for i, a in enumerate(sorted(clique)) if a not in sep), keepdims=True)
        seen = counts(codes, tuple(sorted(clique)), SIZES).reshape(joint.shape)
        group = seen.sum(axis=tuple(i for i, a in enumerate(sorted(clique)) if a not in sep), keepdims=True)
        assert np.abs(seen - group * conditional).max() < 1, clique
    # far closer to the model than i.i.d. rows on the clique marginals
    iid = sample_codes(model, n, np.random.default_rng(6))
    strat_err, iid_err = (np.abs(counts(c, (1, 2), SIZES) / n - model.project((1, 2)).ravel()).sum() for c in (codes, iid))
    assert strat_err < iid_err / 3, (strat_err, iid_err)


def test_stratified_rows_are_exchangeable_draws_with_no_coupling_between_columns():
    """Each row, wherever it sits, is a draw from the model (row 0 and row n-1 across repeated
    samples pass a chi-square test on a pair spanning three cliques); the mean counts of that
    pair over many samples equal the model's (a sampler that hands stratified values to rows in
    a fixed order makes columns comonotone within a group and fails both)."""
    sizes = (3, 2, 3, 2)
    model = chain_model(8, sizes)
    rng = np.random.default_rng(9)
    n, repeats, pair = 40, 3000, (0, 3)
    samples = [sample_codes(model, n, rng, sampler="stratified") for _ in range(repeats)]
    expected = model.project(pair).ravel()
    for row in (0, n - 1):
        seen = counts(np.stack([s[row] for s in samples]), pair, sizes)
        stat = ((seen - expected * repeats) ** 2 / (expected * repeats)).sum()
        assert stats.chi2.sf(stat, expected.size - 1) > 1e-3, row
    per_sample = np.stack([counts(s, pair, sizes) for s in samples]) / n
    z = (per_sample.mean(axis=0) - expected) / (per_sample.std(axis=0, ddof=1) / np.sqrt(repeats))
    assert np.abs(z).max() < 4.5, z


def test_systematic_rows_handles_empty_and_zero_weight_rows():
    table = np.array([[0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    rows = np.array([1, 0] * 2000)
    drawn = systematic_rows(table, rows, np.random.default_rng(7))
    assert np.array_equal(np.bincount(drawn[rows == 1], minlength=3), [500, 1500, 0])
    assert np.abs(np.bincount(drawn[rows == 0], minlength=3) - 2000 / 3).max() < 1
    assert systematic_rows(table, np.zeros(0, dtype=int), np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sample_codes(chain_model(0), 5, np.random.default_rng(0), sampler="round")


def test_draw_rows_handles_empty_rows_and_matches_probabilities():
    table = np.array([[0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    drawn = draw_rows(table, np.array([0] * 30_000 + [1] * 40_000), np.random.default_rng(7))
    assert set(np.unique(drawn[:30_000])) == {0, 1, 2}
    assert np.bincount(drawn[30_000:], minlength=3)[2] == 0
    assert np.mean(drawn[30_000:] == 1) == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize("shape", [(50, 12), (3000, 40)], ids=["guide-by-comparison", "guide-by-search"])
def test_draw_rows_is_the_inverse_cdf_of_its_uniforms(shape):
    """The guide table only speeds the lookup: every draw is the first index whose CDF exceeds its
    uniform, computed here row by row with no guide (zero weights and zero rows included)."""
    gen = np.random.default_rng(3)
    table = gen.gamma(0.3, size=shape) * (gen.random(shape) < 0.7)
    table[0] = 0.0
    rows = gen.integers(0, shape[0], 20_000)
    drawn = draw_rows(table, rows, np.random.default_rng(11))
    u = np.random.default_rng(11).random(len(rows))
    sums = table.sum(axis=1, keepdims=True)
    cdf = np.cumsum(np.where(sums > 0, table / np.where(sums > 0, sums, 1), 1 / shape[1]), axis=1)
    cdf[:, -1] = 1.0
    expected = np.array([np.searchsorted(cdf[r], x, side="right") for r, x in zip(rows, u)])
    np.testing.assert_array_equal(drawn, expected)
