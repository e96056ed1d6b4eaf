"""The graphical-model engine against brute force on small domains."""

import itertools

import numpy as np
import pytest
from scipy import stats

from privsynth.graphical import GraphicalModel, JunctionTree, Measurement, belief_propagation, draw_rows, estimate, sample_codes
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
