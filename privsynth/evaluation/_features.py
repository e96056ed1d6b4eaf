"""A numeric embedding of mixed records for distance- and density-based attacks.

Numbers are scaled by their *public* bounds to [0, 1]; categories (and missing values) are
one-hot with weight 1/2, so that the L1 distance is a Gower-style distance: each differing
category adds 1, each number its scaled difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Categorical, Domain

__all__ = ["embed", "nearest_distances"]


def embed(df: pd.DataFrame, domain: Domain) -> np.ndarray:
    checked = validate(df, domain)
    parts = []
    for col in domain:
        s = checked[col.name]
        if isinstance(col, Categorical):
            codes = np.asarray(s.cat.codes, dtype=np.int64)
            codes = np.where(codes < 0, len(col.categories), codes)
            onehot = np.zeros((len(s), col.levels), dtype=np.float32)
            onehot[np.arange(len(s)), codes] = 0.5
            parts.append(onehot)
        else:
            v = s.to_numpy(dtype=float)
            scaled = (v - col.lower) / (col.upper - col.lower)
            missing = np.isnan(v)
            parts.append(np.where(missing, 0.0, scaled)[:, None].astype(np.float32))
            if col.nullable:
                parts.append(missing[:, None].astype(np.float32))
    return np.hstack(parts)


def nearest_distances(queries: np.ndarray, points: np.ndarray, k: int = 1) -> np.ndarray:
    """L1 distances from each query to its ``k`` nearest points, ``(n_queries, k)``, sorted."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(k, len(points)), metric="manhattan", algorithm="brute", n_jobs=1)
    nn.fit(points)
    dist, _ = nn.kneighbors(queries)
    return dist
