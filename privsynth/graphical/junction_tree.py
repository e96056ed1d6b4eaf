"""Junction trees over the public domain: the structure that makes inference on a graphical
model exact and cheap (Koller & Friedman, ch. 10).

:meth:`JunctionTree.build` takes the attribute sets a model must cover (the measured marginals),
triangulates their graph by greedy elimination (smallest resulting table first), keeps the
maximal cliques and joins them by a maximum-weight spanning tree on separator sizes, which
gives the running-intersection property. Every attribute is in some clique.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from privsynth.graphical.factor import Attrs, normalize_attrs, table_size

__all__ = ["JunctionTree"]


@dataclass(frozen=True)
class JunctionTree:
    """Maximal cliques of a triangulated graph, joined into a tree.

    Attributes:
        sizes: Number of levels of every attribute (public domain).
        cliques: Maximal cliques, each a sorted tuple of attribute indices.
        edges: ``(parent, child)`` clique indices in breadth-first order from clique 0, so a
            pass over ``edges`` visits parents before children (sampling, downward messages)
            and a reversed pass children before parents (upward messages).

    Example:
        >>> tree = JunctionTree.build((2, 3, 4), [(0, 1), (1, 2)])
        >>> tree.cliques, tree.edges, tree.size
        (((0, 1), (1, 2)), ((0, 1),), 18)
    """

    sizes: tuple[int, ...]
    cliques: tuple[Attrs, ...]
    edges: tuple[tuple[int, int], ...]

    @classmethod
    def build(cls, sizes: Sequence[int], cover: Sequence[Sequence[int]]) -> "JunctionTree":
        """A junction tree whose cliques contain every set in ``cover`` and every attribute."""
        sizes = tuple(int(s) for s in sizes)
        if any(s < 1 for s in sizes):
            raise ValueError("every attribute needs at least one level.")
        sets = [normalize_attrs(c) for c in cover]
        for c in sets:
            if c and (c[0] < 0 or c[-1] >= len(sizes)):
                raise ValueError(f"attribute set {c} is outside the domain of {len(sizes)} attributes.")
        cliques = _maximal(_eliminate(sizes, sets))
        return cls(sizes=sizes, cliques=tuple(cliques), edges=_tree_edges(cliques))

    @property
    def size(self) -> int:
        """Total number of cells of the clique tables (the model's memory, in floats)."""
        return sum(table_size(c, self.sizes) for c in self.cliques)

    def separator(self, edge: tuple[int, int]) -> Attrs:
        """Attributes a ``(parent, child)`` edge's cliques share."""
        known = self.separators.get(edge)
        if known is not None:
            return known
        parent, child = edge
        return tuple(a for a in self.cliques[child] if a in self.cliques[parent])

    @cached_property
    def separators(self) -> dict[tuple[int, int], Attrs]:
        """Separator of every tree edge."""
        return {(p, c): tuple(a for a in self.cliques[c] if a in self.cliques[p]) for p, c in self.edges}

    @cached_property
    def parent_of(self) -> dict[int, int]:
        return {c: p for p, c in self.edges}

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.cliques]
        for p, c in self.edges:
            out[p].append(c)
        return tuple(tuple(c) for c in out)

    def containing(self, attrs: Sequence[int]) -> int | None:
        """Index of the smallest clique that contains ``attrs``, or ``None``."""
        want = set(attrs)
        best = None
        for i, c in enumerate(self.cliques):
            if want <= set(c) and (best is None or table_size(c, self.sizes) < table_size(self.cliques[best], self.sizes)):
                best = i
        return best

    def neighbours(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.cliques]
        for p, c in self.edges:
            out[p].append(c)
            out[c].append(p)
        return out


def _eliminate(sizes: tuple[int, ...], sets: list[Attrs]) -> list[Attrs]:
    """Cliques of a greedy elimination order: eliminate the attribute whose table with its
    neighbours is smallest (ties: fewest fill-in edges, then lowest index)."""
    adjacent: dict[int, set[int]] = {a: set() for a in range(len(sizes))}
    for c in sets:
        for a, b in itertools.combinations(c, 2):
            adjacent[a].add(b)
            adjacent[b].add(a)
    log_size = np.log(np.asarray(sizes, dtype=float))
    found: list[Attrs] = []
    while adjacent:
        size = {v: float(log_size[v] + sum(log_size[u] for u in nb)) for v, nb in adjacent.items()}
        smallest = min(size.values())
        tied = [v for v, c in size.items() if c == smallest]  # fill-in only breaks exact ties (it is the costly part)
        v = tied[0] if len(tied) == 1 else min(
            tied, key=lambda t: (sum(1 for a, b in itertools.combinations(adjacent[t], 2) if b not in adjacent[a]), t))
        nb = adjacent.pop(v)
        found.append(normalize_attrs([v, *nb]))
        for a, b in itertools.combinations(nb, 2):
            adjacent[a].add(b)
            adjacent[b].add(a)
        for u in nb:
            adjacent[u].discard(v)
    return found


def _maximal(cliques: list[Attrs]) -> list[Attrs]:
    """Drop cliques contained in another; a stable order (larger tables first)."""
    unique = sorted(set(cliques), key=lambda c: (-len(c), c))
    keep: list[Attrs] = []
    for c in unique:
        if not any(set(c) <= set(k) for k in keep):
            keep.append(c)
    return sorted(keep)


def _tree_edges(cliques: list[Attrs]) -> tuple[tuple[int, int], ...]:
    """Maximum spanning tree on separator sizes (Kruskal), oriented breadth-first from 0."""
    parent = list(range(len(cliques)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    weighted = sorted(
        ((len(set(a) & set(b)), i, j) for (i, a), (j, b) in itertools.combinations(enumerate(cliques), 2)),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    adjacent: list[list[int]] = [[] for _ in cliques]
    for _, i, j in weighted:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            adjacent[i].append(j)
            adjacent[j].append(i)
    edges, seen, queue = [], {0}, [0]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(adjacent[node]):
            if nxt not in seen:
                seen.add(nxt)
                edges.append((node, nxt))
                queue.append(nxt)
    return tuple(edges)
