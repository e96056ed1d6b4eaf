"""DP-safe tabular encoding for neural synthesizers (numpy only).

Categorical columns (missing state included) become one-hot blocks over the *declared*
categories. Numeric columns become one value in ``[-1, 1]``: scaled by the public bounds
(``"minmax"``, free), or through a DP quantile transform (``"quantile"``) whose CDF comes from a
noisy histogram on the public bins, charged to the ledger. Nullable numeric columns get a missing
indicator. Nothing is fitted on raw private data (no per-column mixture models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.dataset import decode, encode, validate
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain, Numeric
from privsynth.mechanisms.counts import noisy_histogram
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._discrete import normalize_counts

__all__ = ["TabularEncoder", "Block"]


@dataclass(frozen=True)
class Block:
    """Where one column lives in the encoded vector."""

    name: str
    kind: str  # "onehot" | "numeric" | "missing"
    start: int
    width: int


class TabularEncoder:
    """Encode validated records to ``float32`` vectors and back.

    Example:
        >>> from privsynth.core.domain import Domain, Numeric, Categorical
        >>> d = Domain((Numeric("x", 0, 10), Categorical("c", ("a", "b"))))
        >>> enc = TabularEncoder(d)
        >>> enc.transform(pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]})).tolist()
        [[-1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """

    def __init__(self, domain: Domain, *, numeric: str = "minmax", bins: int = DEFAULT_BINS) -> None:
        if numeric not in ("minmax", "quantile"):
            raise ValueError(f"numeric must be 'minmax' or 'quantile', got {numeric!r}.")
        self.domain, self.numeric, self.bins = domain, numeric, bins
        self.cdfs: dict[str, np.ndarray] = {}
        blocks, pos = [], 0
        for col in domain:
            if isinstance(col, Categorical):
                blocks.append(Block(col.name, "onehot", pos, col.levels))
                pos += col.levels
            else:
                blocks.append(Block(col.name, "numeric", pos, 1))
                pos += 1
                if col.nullable:
                    blocks.append(Block(col.name, "missing", pos, 1))
                    pos += 1
        self.blocks, self.width = tuple(blocks), pos

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """Columns that get a DP quantile transform (``numeric="quantile"``)."""
        return tuple(c.name for c in self.domain if isinstance(c, Numeric)) if self.numeric == "quantile" else ()

    def fit(self, data: pd.DataFrame, *, ledger: Ledger, rng: np.random.Generator | None, noise: list[dict[str, float]],
            secure: bool = False) -> "TabularEncoder":
        """For ``numeric="quantile"``: release one noisy histogram per numeric column (charged, with
        the planned ``noise`` keyword arguments of each) and keep its CDF. A no-op for ``"minmax"``."""
        names = self.numeric_columns
        if not names:
            return self
        if len(noise) != len(names):
            raise ValueError(f"Planned noise for {len(noise)} histograms, but {len(names)} numeric columns need one.")
        codes = encode(validate(data, self.domain), self.domain, bins=self.bins)
        for name, kwargs in zip(names, noise):
            col = self.domain[name]
            j = self.domain.names.index(name)
            k = col.n_bins(self.bins)
            present = codes[:, j][codes[:, j] < k]
            counts = noisy_histogram(present, (k,), ledger=ledger, rng=rng, secure=secure,
                                     label=f"quantile-transform histogram of {name!r}", **kwargs)
            self.cdfs[name] = np.concatenate([[0.0], np.cumsum(normalize_counts(counts))])
        return self

    def _to_unit(self, col: Numeric, v: np.ndarray) -> np.ndarray:
        if col.name in self.cdfs:
            return np.interp(v, col.edges(self.bins), self.cdfs[col.name])
        return (v - col.lower) / (col.upper - col.lower)

    def _from_unit(self, col: Numeric, u: np.ndarray) -> np.ndarray:
        u = np.clip(u, 0.0, 1.0)
        if col.name in self.cdfs:
            cdf = self.cdfs[col.name]
            keep = np.r_[True, np.diff(cdf) > 0]  # invert the strictly increasing part
            return np.interp(u, cdf[keep], col.edges(self.bins)[keep])
        return col.lower + u * (col.upper - col.lower)

    def transform(self, data: pd.DataFrame) -> np.ndarray:
        checked = validate(data, self.domain)
        out = np.zeros((len(checked), self.width), dtype=np.float32)
        for block in self.blocks:
            col = self.domain[block.name]
            s = checked[block.name]
            if block.kind == "onehot":
                codes = np.asarray(s.cat.codes, dtype=np.int64)
                codes = np.where(codes < 0, len(col.categories), codes)
                out[np.arange(len(s)), block.start + codes] = 1.0
            elif block.kind == "numeric":
                v = s.to_numpy(dtype=float)
                out[:, block.start] = np.where(np.isnan(v), 0.0, 2.0 * self._to_unit(col, np.nan_to_num(v, nan=col.lower)) - 1.0)
            else:
                out[:, block.start] = s.isna().to_numpy(dtype=np.float32)
        return out

    def inverse_transform(self, x: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Records from encoded vectors (or generator outputs): one-hot blocks by arg-max,
        numbers from ``[-1, 1]`` through the inverse scaling, missing where the indicator > 0.5."""
        x = np.asarray(x, dtype=float)
        codes = np.zeros((len(x), len(self.domain)), dtype=np.int64)
        numeric_values: dict[str, np.ndarray] = {}
        missing: dict[str, np.ndarray] = {}
        for block in self.blocks:
            seg = x[:, block.start : block.start + block.width]
            if block.kind == "onehot":
                codes[:, self.domain.names.index(block.name)] = seg.argmax(axis=1)
            elif block.kind == "numeric":
                numeric_values[block.name] = self._from_unit(self.domain[block.name], (seg[:, 0] + 1.0) / 2.0)
            else:
                missing[block.name] = seg[:, 0] > 0.5
        frame = decode(codes, self.domain, bins=self.bins, rng=rng)
        for name, values in numeric_values.items():
            col = self.domain[name]
            v = np.round(values) if col.integer else values
            v = np.where(missing.get(name, np.zeros(len(v), bool)), np.nan, np.clip(v, col.lower, col.upper))
            frame[name] = pd.Series(v).astype("Int64" if col.integer and col.nullable else ("int64" if col.integer else "float64"))
        return frame

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"numeric": self.numeric, "bins": self.bins, "cdf_columns": sorted(self.cdfs)}, {f"cdf::{k}": v for k, v in self.cdfs.items()}

    @classmethod
    def restore(cls, domain: Domain, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> "TabularEncoder":
        enc = cls(domain, numeric=state["numeric"], bins=int(state["bins"]))
        enc.cdfs = {k: np.asarray(arrays[f"cdf::{k}"], dtype=float) for k in state["cdf_columns"]}
        return enc
