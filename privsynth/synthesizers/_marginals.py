"""What MST and AIM share: the domain compression of rare values (MST's, post-processing of DP
1-way marginals), moving codes and counts between the original and the compressed domain, and
the fitted model's saved form (the model's tables only; its 1-way marginals and record count are
derived from them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from privsynth.graphical import GraphicalModel

__all__ = ["Compression", "model_summary", "model_to_state", "model_from_state"]


@dataclass(frozen=True, eq=False)
class Compression:
    """Per attribute, the values kept and the values merged into one trailing "rare" level.

    MST (McKenna et al. 2021, Sec. 4) merges the values whose noisy 1-way count is below
    ``3 sigma``: they are mostly noise, and merging them shrinks every table they enter. A row
    sampled in the rare level gets one of the merged values uniformly.

    Example:
        >>> c = Compression.from_noisy([np.array([50.0, 1.0, -2.0, 40.0])], threshold=10.0)
        >>> c.sizes, c.forward(np.array([[0], [1], [2], [3]]))[:, 0].tolist()
        ((3,), [0, 2, 2, 1])
    """

    kept: tuple[np.ndarray, ...]
    rare: tuple[np.ndarray, ...]

    @classmethod
    def from_noisy(cls, noisy: Sequence[np.ndarray], *, threshold: float) -> "Compression":
        kept, rare = [], []
        for y in noisy:
            big = np.asarray(y) >= threshold
            if big.sum() >= len(big) - 1:  # merging fewer than two values changes nothing
                big[:] = True
            kept.append(np.flatnonzero(big))
            rare.append(np.flatnonzero(~big))
        return cls(tuple(kept), tuple(rare))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(k) + int(len(r) > 0) for k, r in zip(self.kept, self.rare))

    def forward(self, codes: np.ndarray) -> np.ndarray:
        """Original codes to compressed codes."""
        out = np.empty_like(codes)
        for j, (k, r) in enumerate(zip(self.kept, self.rare)):
            table = np.empty(len(k) + len(r), dtype=np.int64)
            table[k] = np.arange(len(k))
            table[r] = len(k)
            out[:, j] = table[codes[:, j]]
        return out

    def compress_counts(self, attrs: Sequence[int], counts: np.ndarray) -> np.ndarray:
        """Counts over the original cells of ``attrs`` summed into the compressed cells (the
        counts of the compressed codes: each record stays in exactly one cell).

        Example:
            >>> c = Compression.from_noisy([np.array([50.0, 1.0, 40.0, 2.0])], threshold=10.0)
            >>> c.compress_counts((0,), np.array([5, 1, 4, 2])).tolist()
            [5, 4, 3]
        """
        out = np.asarray(counts)
        for axis, a in enumerate(attrs):
            k, r = self.kept[a], self.rare[a]
            if not len(r):
                continue
            table = np.empty(len(k) + len(r), dtype=np.int64)
            table[k], table[r] = np.arange(len(k)), len(k)
            shape = list(out.shape)
            shape[axis] = len(k) + 1
            summed = np.zeros(shape, dtype=out.dtype)
            np.add.at(summed, (slice(None),) * axis + (table,), out)  # type: ignore[arg-type]
            out = summed
        return out

    def backward(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Compressed codes to original codes (rare values drawn uniformly among the merged)."""
        out = np.empty_like(codes)
        for j, (k, r) in enumerate(zip(self.kept, self.rare)):
            col = codes[:, j]
            is_rare = col >= len(k)
            out[:, j] = k[np.minimum(col, max(len(k) - 1, 0))] if len(k) else 0
            if len(r) and is_rare.any():
                out[is_rare, j] = r[rng.integers(len(r), size=int(is_rare.sum()))]
        return out

    def measurement(self, j: int, noisy: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """The noisy 1-way marginal of attribute ``j`` on the compressed domain, with per-cell
        standard deviations (the merged cell sums ``len(rare)`` noisy cells)."""
        k, r = self.kept[j], self.rare[j]
        if not len(r):
            return np.asarray(noisy, dtype=float), np.full(len(k), float(sigma))
        values = np.append(np.asarray(noisy, dtype=float)[k], float(np.sum(np.asarray(noisy)[r])))
        return values, np.append(np.full(len(k), float(sigma)), float(sigma) * np.sqrt(len(r)))

    def expand_marginal(self, j: int, compressed: np.ndarray) -> np.ndarray:
        """A 1-way marginal of attribute ``j`` on the original values: kept values as given,
        the rare level's mass spread evenly over the merged values (as sampling does)."""
        k, r = self.kept[j], self.rare[j]
        out = np.zeros(len(k) + len(r))
        out[k] = np.asarray(compressed, dtype=float)[: len(k)]
        if len(r):
            out[r] = float(compressed[len(k)]) / len(r)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for j, (k, r) in enumerate(zip(self.kept, self.rare)):
            out[f"kept_{j}"], out[f"rare_{j}"] = k.astype(np.int64), r.astype(np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays, d: int) -> "Compression":
        return cls(tuple(np.asarray(arrays[f"kept_{j}"], dtype=np.int64) for j in range(d)),
                   tuple(np.asarray(arrays[f"rare_{j}"], dtype=np.int64) for j in range(d)))

    @classmethod
    def identity(cls, sizes: Sequence[int]) -> "Compression":
        return cls(tuple(np.arange(s) for s in sizes), tuple(np.zeros(0, dtype=np.int64) for _ in sizes))


def model_summary(model: GraphicalModel, compression: Compression) -> tuple[list[np.ndarray], int]:
    """The model's 1-way marginals on the original values (what releases are checked against)
    and its record count: both post-processing of the DP measurements."""
    marginals = [compression.expand_marginal(j, model.project((j,))) for j in range(len(model.sizes))]
    return marginals, max(0, int(round(model.total)))


def model_to_state(model: GraphicalModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A model's JSON structure and its tables, named ``model_*`` for a synthesizer's arrays."""
    state, arrays = model.to_state()
    return state, {f"model_{k}": v for k, v in arrays.items()}


def model_from_state(state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> GraphicalModel:
    return GraphicalModel.from_state(state, {k[len("model_"):]: v for k, v in arrays.items() if k.startswith("model_")})
