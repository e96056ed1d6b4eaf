"""PrivTree: its output distribution on neighbouring histograms stays within e^epsilon, and it charges first."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from privsynth.core.errors import BudgetExceededError
from privsynth.mechanisms.privtree import privtree_edges, privtree_grid
from privsynth.privacy import Budget, Ledger
from privsynth.privacy.events import PureDpEvent


def _trees(counts: np.ndarray, epsilon: float, trials: int, seed: int) -> Counter:
    grid = np.arange(len(counts) + 1, dtype=float)
    rng = np.random.default_rng(seed)
    ledger = Ledger(Budget(epsilon * trials))
    return Counter(tuple(privtree_edges(counts, grid, epsilon=epsilon, theta=3.0, ledger=ledger, label="t", rng=rng))
                   for _ in range(trials))


def test_neighbouring_histograms_give_trees_within_e_epsilon() -> None:
    # D and D' differ by one record in cell 2: every tree's probability ratio must stay below e^epsilon.
    epsilon, trials = 1.0, 40_000
    d = np.array([6, 1, 4, 0, 2, 9, 0, 1], dtype=float)
    d_prime = d.copy()
    d_prime[2] += 1
    a, b = _trees(d, epsilon, trials, 1), _trees(d_prime, epsilon, trials, 2)
    worst = 0.0
    for tree in set(a) | set(b):
        pa, pb = a[tree] / trials, b[tree] / trials
        if min(a[tree], b[tree]) >= 400:  # frequent enough to estimate the ratio (relative error ~10%)
            worst = max(worst, abs(math.log(pa / pb)))
    assert 0 < worst <= epsilon * 1.15


def test_it_charges_before_it_looks_and_refuses_an_overspend() -> None:
    grid = privtree_grid(0, 10, integer=True)
    assert grid.tolist() == [x - 0.5 for x in range(12)]
    ledger = Ledger(Budget(0.5))
    with pytest.raises(BudgetExceededError):
        privtree_edges(np.ones(11), grid, epsilon=1.0, theta=1.0, ledger=ledger, label="x")
    assert list(ledger.entries) == []
    privtree_edges(np.ones(11), grid, epsilon=0.5, theta=1.0, ledger=ledger, label="x", rng=np.random.default_rng(0))
    assert [e.event for e in ledger.entries] == [PureDpEvent(0.5)]


def test_dense_regions_get_narrow_bins_and_edges_come_from_the_grid() -> None:
    grid = privtree_grid(0.0, 100.0, integer=False, cells=1024)
    values = np.r_[np.zeros(5000), np.random.default_rng(0).uniform(0, 100, 500)]
    counts = np.histogram(values, bins=grid)[0]
    edges = privtree_edges(counts, grid, epsilon=1.0, theta=100.0, ledger=Ledger(Budget(1.0)), label="x",
                           rng=np.random.default_rng(3))
    assert edges[0] == 0.0 and edges[-1] == 100.0 and set(edges) <= set(grid)
    assert edges[1] <= 100.0 / 512  # the mass at 0 is isolated down to the grid's resolution
    assert 3 <= len(edges) - 1 <= 64


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        privtree_edges(np.ones(3), np.arange(3.0), epsilon=1.0, theta=1.0, ledger=Ledger(Budget(1.0)), label="x")
    with pytest.raises(ValueError, match="epsilon"):
        privtree_edges(np.ones(3), np.arange(4.0), epsilon=0.0, theta=1.0, ledger=Ledger(Budget(1.0)), label="x")
