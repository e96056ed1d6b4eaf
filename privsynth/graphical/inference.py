"""Sum-product belief propagation on a junction tree, in log space.

Given a log-potential table per clique, two passes of messages (leaves to root, root to
leaves) give every clique's exact marginal of the distribution
``p(x) ∝ exp(sum_c potential_c(x_c))``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from privsynth.graphical.backend import NUMPY, Backend
from privsynth.graphical.factor import expand, logsumexp_to, sum_to
from privsynth.graphical.junction_tree import JunctionTree

__all__ = ["belief_propagation"]


def belief_propagation(tree: JunctionTree, log_potentials: Sequence[np.ndarray], total: float = 1.0,
                       backend: Backend = NUMPY) -> list[np.ndarray]:
    """Clique marginals (scaled to sum to ``total``) of the model with these log-potentials.

    Args:
        tree: The junction tree.
        log_potentials: One array per clique of ``tree``, shaped by the clique's attribute sizes.
        total: What every marginal sums to (a record count, or 1 for probabilities).
        backend: Where the arrays live (:mod:`~privsynth.graphical.backend`); the marginals are
            that backend's arrays.

    Example:
        >>> tree = JunctionTree.build((2, 2), [(0, 1)])
        >>> belief_propagation(tree, [np.log(np.array([[1.0, 1.0], [1.0, 5.0]]))])[0].round(3)
        array([[0.125, 0.125],
               [0.125, 0.625]])
    """
    cliques = tree.cliques
    if len(log_potentials) != len(cliques):
        raise ValueError(f"need one potential per clique ({len(cliques)}), got {len(log_potentials)}.")
    children, separators = tree.children, tree.separators
    # Upward pass (leaves to root): each clique's potential times its children's messages.
    xp = backend
    partial = [xp.asarray(p) for p in log_potentials]
    up: dict[tuple[int, int], np.ndarray] = {}
    for p, c in reversed(tree.edges):  # children before parents
        for g in children[c]:
            partial[c] += expand(up[(c, g)], separators[(c, g)], cliques[c])
        up[(p, c)] = logsumexp_to(partial[c], cliques[c], separators[(p, c)], xp)
    roots = [i for i in range(len(cliques)) if i not in tree.parent_of]
    for r in roots:
        for g in children[r]:
            partial[r] += expand(up[(r, g)], separators[(r, g)], cliques[r])
    # Downward pass (root to leaves), Hugin style: a clique's full belief is computed once, in
    # probability space up to its maximum; the message to a child is that belief summed to the
    # separator, divided by (in logs: minus) the child's own upward message.
    scaled: dict[int, tuple[Any, float]] = {}

    def finish(i: int) -> None:
        top = float(partial[i].max())
        top = top if np.isfinite(top) else 0.0
        scaled[i] = (xp.exp(partial[i] - top), top)

    for r in roots:
        finish(r)
    for p, c in tree.edges:  # parents before children
        w, top = scaled[p]
        sep = separators[(p, c)]
        message = xp.log(sum_to(w, cliques[p], sep)) + top - up[(p, c)]  # a cell with no mass sends -inf
        partial[c] += expand(message, sep, cliques[c])
        finish(c)
    out = []
    for i in range(len(cliques)):
        w, _ = scaled[i]
        out.append(w * (total / w.sum()))
    return out
