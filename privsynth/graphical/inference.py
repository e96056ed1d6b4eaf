"""Sum-product belief propagation on a junction tree, in log space.

Given a log-potential table per clique, two passes of messages (leaves to root, root to
leaves) give every clique's exact marginal of the distribution
``p(x) ∝ exp(sum_c potential_c(x_c))``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from privsynth.graphical.factor import expand, logsumexp_to
from privsynth.graphical.junction_tree import JunctionTree

__all__ = ["belief_propagation"]


def belief_propagation(tree: JunctionTree, log_potentials: Sequence[np.ndarray], total: float = 1.0) -> list[np.ndarray]:
    """Clique marginals (scaled to sum to ``total``) of the model with these log-potentials.

    Args:
        tree: The junction tree.
        log_potentials: One array per clique of ``tree``, shaped by the clique's attribute sizes.
        total: What every marginal sums to (a record count, or 1 for probabilities).

    Example:
        >>> tree = JunctionTree.build((2, 2), [(0, 1)])
        >>> belief_propagation(tree, [np.log(np.array([[1.0, 1.0], [1.0, 5.0]]))])[0].round(3)
        array([[0.125, 0.125],
               [0.125, 0.625]])
    """
    cliques = tree.cliques
    if len(log_potentials) != len(cliques):
        raise ValueError(f"need one potential per clique ({len(cliques)}), got {len(log_potentials)}.")
    up: dict[tuple[int, int], np.ndarray] = {}
    down: dict[tuple[int, int], np.ndarray] = {}
    children, parent_of, separators = tree.children, tree.parent_of, tree.separators

    def gathered(i: int, skip: int | None = None) -> np.ndarray:
        out = np.array(log_potentials[i], dtype=float, copy=True)
        for c in children[i]:
            if c != skip:
                out += expand(up[(i, c)], separators[(i, c)], cliques[i])
        if i in parent_of:
            edge = (parent_of[i], i)
            out += expand(down[edge], separators[edge], cliques[i])
        return out

    for p, c in reversed(tree.edges):  # children before parents
        belief = np.array(log_potentials[c], dtype=float, copy=True)
        for g in children[c]:
            belief += expand(up[(c, g)], separators[(c, g)], cliques[c])
        up[(p, c)] = logsumexp_to(belief, cliques[c], separators[(p, c)])
    for p, c in tree.edges:  # parents before children
        down[(p, c)] = logsumexp_to(gathered(p, skip=c), cliques[p], separators[(p, c)])

    beliefs = [gathered(i) for i in range(len(cliques))]
    out = []
    for b in beliefs:
        top = b.max()
        top = top if np.isfinite(top) else 0.0
        w = np.exp(b - top)
        out.append(w * (total / w.sum()))
    return out
