"""DP-safe tabular encoding for neural synthesizers (numpy only).

Categorical columns (missing state included) become one-hot blocks over the *declared*
categories -- except ordinal columns with more than ``onehot_limit`` categories (an age in
years, a discretized amount), which become one number, like numeric columns: a value in
``[-1, 1]`` through the CDF of the column's DP 1-way marginal (``"quantile"``; no extra budget,
the fit releases the marginals anyway) or, for numeric columns, the public bounds
(``"minmax"``). Nullable non-one-hot columns get a missing indicator. Nothing is fitted on raw
private data (no per-column mixture models).

:meth:`TabularEncoder.decode` turns network outputs back into records, vectorized in numpy:
categories sampled from each block's softmax, numbers through the (calibrated) inverse map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from privsynth.core.categories import cell_codes, decode_cells
from privsynth.core.dataset import validate
from privsynth.core.domain import DEFAULT_BINS, Categorical, Domain, Numeric, Ordinal
from privsynth.synthesizers._calibration import QUANTILES, Calibration

__all__ = ["TabularEncoder", "Block", "ONEHOT_LIMIT"]

#: Ordinal columns with more categories than this are encoded as one number.
ONEHOT_LIMIT = 32
#: Points of the lookup tables that map a CDF value to a number or level.
_GRID = 65537
#: Buckets of the search-free piecewise-linear CDF.
_BUCKETS = 65536
#: Outputs this close to a point mass of the calibration pool are on it (float32 ulps near 1 are 6e-8).
_ATOM_WIDTH = np.float32(1e-6)


@dataclass(frozen=True)
class Block:
    """Where one column lives in the encoded vector."""

    name: str
    kind: str  # "onehot" | "numeric" | "ordinal" | "missing"
    start: int
    width: int


class TabularEncoder:
    """Encode validated records to ``float32`` vectors, and network outputs back to records.

    Args:
        domain: The public domain.
        numeric: ``"minmax"`` or ``"quantile"`` for numeric columns (see the module docstring).
        bins: Bins of numeric columns whose domain declares none.
        marginals: The DP 1-way marginals, one per column over ``levels(domain, bins)``; they
            give the quantile transforms and the calibration targets.
        onehot_limit: Ordinal columns with more categories are encoded as one number.

    Example:
        >>> from privsynth.core.domain import Domain, Numeric, Categorical
        >>> d = Domain((Numeric("x", 0, 10), Categorical("c", ("a", "b"))))
        >>> enc = TabularEncoder(d)
        >>> enc.transform(pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]})).tolist()
        [[-1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """

    def __init__(self, domain: Domain, *, numeric: str = "minmax", bins: int = DEFAULT_BINS,
                 marginals: Sequence[np.ndarray] | None = None, onehot_limit: int = ONEHOT_LIMIT) -> None:
        if numeric not in ("minmax", "quantile"):
            raise ValueError(f"numeric must be 'minmax' or 'quantile', got {numeric!r}.")
        self.domain, self.numeric, self.bins, self.onehot_limit = domain, numeric, bins, int(onehot_limit)
        self.marginals = None if marginals is None else [np.asarray(m, dtype=float) for m in marginals]
        self.cdfs: dict[str, np.ndarray] = {}  # per numeric/ordinal column: the CDF at its bin (or level) edges
        blocks, pos = [], 0
        for j, col in enumerate(domain):
            cells = col.n_bins(bins) if isinstance(col, Numeric) else col.cells
            if isinstance(col, Categorical) and not self._as_number(col):
                blocks.append(Block(col.name, "onehot", pos, col.levels))
                pos += col.levels
                continue
            if self.marginals is not None:
                self.cdfs[col.name] = _cdf(self.marginals[j], cells)
            elif isinstance(col, Ordinal):
                self.cdfs[col.name] = np.linspace(0.0, 1.0, cells + 1)
            blocks.append(Block(col.name, "numeric" if isinstance(col, Numeric) else "ordinal", pos, 1))
            pos += 1
            if col.nullable:
                blocks.append(Block(col.name, "missing", pos, 1))
                pos += 1
        self.blocks, self.width = tuple(blocks), pos

    def _as_number(self, col: Categorical) -> bool:
        return isinstance(col, Ordinal) and len(col.categories) > self.onehot_limit

    # -- numbers -------------------------------------------------------------------------------
    def _to_unit(self, col: Numeric, v: np.ndarray) -> np.ndarray:
        if self.numeric == "quantile" and col.name in self.cdfs:
            return np.interp(v, col.edges(self.bins), self.cdfs[col.name])
        return (v - col.lower) / (col.upper - col.lower)

    def _from_unit(self, col: Numeric, u: np.ndarray, *, quantile: bool | None = None) -> np.ndarray:
        u = np.clip(u, 0.0, 1.0)
        if (self.numeric == "quantile" if quantile is None else quantile) and col.name in self.cdfs:
            # a non-decreasing CDF: np.interp's search lands on the segment after a flat run, so
            # no value falls inside a bin of zero mass
            return np.interp(u, self.cdfs[col.name], col.edges(self.bins))
        return col.lower + u * (col.upper - col.lower)

    def _level_to_unit(self, col: Ordinal, codes: np.ndarray) -> np.ndarray:
        cdf = self.cdfs[col.name]
        return (cdf[codes] + cdf[codes + 1]) / 2.0  # the middle of the level's CDF interval

    def _unit_to_level(self, col: Ordinal, u: np.ndarray) -> np.ndarray:
        cdf = self.cdfs[col.name]
        return np.clip(np.searchsorted(cdf[1:-1], u, side="right"), 0, len(col.categories) - 1)

    # -- records to vectors ------------------------------------------------------------------------
    def transform(self, data: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
        """Records as ``float32`` vectors. With ``rng``, a many-level ordinal's value is drawn
        uniformly from its level's CDF interval instead of the interval's middle (dequantized):
        a model of continuous values then never tells real records by their exact grid points."""
        checked = validate(data, self.domain)
        out = np.zeros((len(checked), self.width), dtype=np.float32)
        for block in self.blocks:
            col: Any = self.domain[block.name]
            s = checked[block.name]
            if block.kind == "onehot":
                codes = cell_codes(s.cat.codes, col.categories, col.merged, missing=col.cells)
                out[np.arange(len(s)), block.start + codes] = 1.0
            elif block.kind == "ordinal":
                codes = np.maximum(np.asarray(s.cat.codes, dtype=np.int64), 0)
                cdf = self.cdfs[col.name]
                u = self._level_to_unit(col, codes) if rng is None else cdf[codes] + rng.random(len(codes)) * (cdf[codes + 1] - cdf[codes])
                out[:, block.start] = np.where(np.asarray(s.cat.codes) < 0, 0.0, 2.0 * u - 1.0)
            elif block.kind == "numeric":
                v = s.to_numpy(dtype=float)
                out[:, block.start] = np.where(np.isnan(v), 0.0, 2.0 * self._to_unit(col, np.nan_to_num(v, nan=col.lower)) - 1.0)
            else:
                out[:, block.start] = s.isna().to_numpy(dtype=np.float32)
        return out

    def targets(self) -> dict[int, np.ndarray]:
        """The DP marginals per one-hot or missing block start (calibration and output biases)."""
        if self.marginals is None:
            return {}
        out: dict[int, np.ndarray] = {}
        index = {name: j for j, name in enumerate(self.domain.names)}
        for b in self.blocks:
            marginal = self.marginals[index[b.name]]
            if b.kind == "onehot":
                out[b.start] = marginal / max(marginal.sum(), 1e-300)
            elif b.kind == "missing":
                out[b.start] = np.array([marginal[-1] / max(marginal.sum(), 1e-300)])
        return out

    # -- network outputs to records ---------------------------------------------------------------
    def decode(self, chunks: Iterable[np.ndarray], rng: np.random.Generator, calibration: Calibration | None = None) -> pd.DataFrame:
        """Records from raw network outputs (before activation), given chunk by chunk as
        ``width x rows`` arrays: each category sampled from its block's softmax (plus the
        calibration's offsets), numbers and many-level ordinals through tanh and the inverse map
        (calibrated: the model's own CDF onto the DP marginal's), missing values sampled from the
        indicator's sigmoid."""
        cal = calibration or Calibration()
        mappers = {b.start: self._mapper(b, cal.quantiles.get(b.start)) for b in self.blocks if b.kind in ("numeric", "ordinal")}
        parts: dict[str, list[np.ndarray]] = {c.name: [] for c in self.domain}
        missing: dict[str, list[np.ndarray]] = {}
        for raw in chunks:
            raw = np.asarray(raw, dtype=np.float32)
            for b in self.blocks:
                seg = raw[b.start : b.start + b.width]
                if b.kind == "onehot":
                    offset = cal.offsets.get(b.start)
                    parts[b.name].append(_sample_columns(seg if offset is None else seg + offset.astype(np.float32)[:, None], rng))
                elif b.kind == "missing":
                    logit = seg[0].astype(np.float64) + (float(cal.offsets[b.start][0]) if b.start in cal.offsets else 0.0)
                    missing.setdefault(b.name, []).append(rng.random(seg.shape[1]) < 1.0 / (1.0 + np.exp(-logit)))
                else:
                    parts[b.name].append(mappers[b.start](np.tanh(seg[0]), rng))
        return self._frame(parts, missing, rng)

    def _mapper(self, block: Block, model_quantiles: np.ndarray | None) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
        """The map from tanh outputs ``t`` to numbers (or ordinal levels): ``u`` is the model's own
        CDF at ``t`` when calibrated (else ``(t + 1) / 2``; randomized on the CDF's jumps, see
        :class:`_PiecewiseCdf`), then the inverse map of ``u`` through a table on a fine uniform grid
        of ``u`` -- no per-value search on the hot path of sampling."""
        grid = np.linspace(0.0, 1.0, _GRID)
        col: Any = self.domain[block.name]
        cdf = None if model_quantiles is None else _PiecewiseCdf(model_quantiles)
        if block.kind == "ordinal":
            table = self._unit_to_level(col, grid)
        else:
            table = self._from_unit(col, grid, quantile=None if model_quantiles is None else True)

        def apply(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            u = (t + np.float32(1.0)) / np.float32(2.0) if cdf is None else cdf(t, rng)
            pos = np.clip(u, 0.0, 1.0) * np.float32(_GRID - 1)
            if block.kind == "ordinal":
                return table[np.rint(pos).astype(np.int32)]
            i = np.minimum(pos.astype(np.int32), _GRID - 2)
            return table[i] + (pos - i) * (table[i + 1] - table[i])

        return apply

    def _frame(self, parts: dict[str, list[np.ndarray]], missing: dict[str, list[np.ndarray]], rng: np.random.Generator) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for col in self.domain:
            values = np.concatenate(parts[col.name]) if parts[col.name] else np.zeros(0)
            gone = np.concatenate(missing[col.name]) if col.name in missing else None
            if isinstance(col, Categorical):
                codes = values.astype(np.int64)
                codes = decode_cells(codes, col.categories, col.merged, rng) if gone is None else np.where(gone, -1, codes)
                data[col.name] = pd.Categorical.from_codes(codes, categories=list(col.categories), ordered=isinstance(col, Ordinal))
            else:
                v = np.clip(np.round(values) if col.integer else values, col.lower, col.upper)
                if gone is not None:
                    v = np.where(gone, np.nan, v)
                dtype = "Int64" if col.integer and col.nullable else ("int64" if col.integer else "float64")
                data[col.name] = pd.Series(v).astype(dtype)
        return pd.DataFrame(data, columns=list(self.domain.names))

    def state(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "bins": self.bins, "onehot_limit": self.onehot_limit}

    @classmethod
    def restore(cls, domain: Domain, state: dict[str, Any], marginals: Sequence[np.ndarray] | None) -> "TabularEncoder":
        return cls(domain, numeric=state["numeric"], bins=int(state["bins"]), marginals=marginals,
                   onehot_limit=int(state.get("onehot_limit", ONEHOT_LIMIT)))


def _sample_columns(logits: np.ndarray, rng: np.random.Generator | None, u: np.ndarray | None = None) -> np.ndarray:
    """One index per column of ``logits`` (``cells x rows``), drawn from its softmax by inverse
    CDF (with the uniforms ``u`` when given, else drawn from ``rng``); every step runs over
    contiguous rows of cells."""
    e = logits - logits.max(axis=0)
    np.exp(e, out=e)
    for i in range(1, len(e)):  # running sums, row by row (faster than cumsum along axis 0)
        e[i] += e[i - 1]
    if u is None:
        assert rng is not None, "either rng or u"
        u = rng.random(e.shape[1], dtype=np.float32)
    else:
        u = np.array(u, dtype=np.float32)
    u *= e[-1]
    out = np.zeros(e.shape[1], dtype=np.int64)
    for cell in e[:-1]:
        out += cell < u
    return out


class _PiecewiseCdf:
    """The piecewise-linear CDF through ``knots`` (a model output's quantiles at
    :data:`QUANTILES`), evaluated exactly without a per-value binary search: a fine uniform
    bucket grid over the knots' range gives each value its segment up to one step, and the rare
    value in a bucket holding several knots (a very concentrated output) goes through
    ``np.interp``. float32 throughout: it is the hot path of sampling.

    Where several knots are equal the output has a point mass (a ReLU network whose units are all
    off for most latents gives one exact value to most records), and the CDF jumps there: a value
    on such an atom gets ``u`` uniform over the jump (the randomized probability integral
    transform), so the calibrated column still follows the DP marginal instead of piling onto
    the one level at the jump's top. Uniforms are drawn only for values on an atom. "On" means
    within :data:`_ATOM_WIDTH`: the pool and a later batch compute the same constant through
    matrix products whose summation order depends on the batch, a few float32 ulps apart.
    """

    def __init__(self, knots: np.ndarray) -> None:
        self.knots64 = np.asarray(knots, dtype=np.float64)
        self.knots = self.knots64.astype(np.float32)
        self.lo, hi, self.last = float(self.knots64[0]), float(self.knots64[-1]), len(self.knots64) - 2
        self.scale = _BUCKETS / (hi - self.lo) if hi > self.lo else 0.0
        if not self.scale:
            return
        self._atoms = self.atoms()
        edges = self.lo + np.arange(_BUCKETS + 1) / self.scale
        self.starts = np.clip(np.searchsorted(self.knots64, edges[:-1], side="right") - 1, 0, self.last).astype(np.int32)
        inside = np.searchsorted(self.knots64, edges[1:], side="right") - 1 - self.starts  # knots past a bucket's start
        self.dense = inside > 1
        width = np.diff(self.knots64)
        step = QUANTILES[1] - QUANTILES[0]
        self.slope = np.divide(step, width, out=np.zeros_like(width), where=width > 0).astype(np.float32)
        self.base = QUANTILES[:-1].astype(np.float32)

    def atoms(self) -> list[tuple[np.float32, float, float]]:
        """The point masses: ``(value, u below, u above)`` for each run of equal knots."""
        tied = np.flatnonzero(np.diff(self.knots) == 0)  # knots i and i + 1 equal (as float32, as compared)
        runs = np.split(tied, np.flatnonzero(np.diff(tied) > 1) + 1) if len(tied) else []
        return [(self.knots[r[0]], float(QUANTILES[r[0]]), float(QUANTILES[r[-1] + 1])) for r in runs]

    def __call__(self, t: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        tt = np.asarray(t, dtype=np.float32)
        if not self.scale:  # one point mass: every value is on it
            return (rng.random(tt.shape, dtype=np.float32) if rng is not None else np.full(tt.shape, 0.5, dtype=np.float32))
        u = self._continuous(tt)
        if rng is not None:
            for value, below, above in self._atoms:
                on = np.abs(tt - value) <= _ATOM_WIDTH
                if on.any():
                    u[on] = below + (above - below) * rng.random(int(on.sum()), dtype=np.float32)
        return u

    def _continuous(self, tt: np.ndarray) -> np.ndarray:
        bucket = np.clip(((tt - np.float32(self.lo)) * np.float32(self.scale)).astype(np.int32), 0, _BUCKETS - 1)
        k = self.starts[bucket]
        k += (self.knots[k + 1] <= tt) & (k < self.last)
        u = self.base[k] + (tt - self.knots[k]) * self.slope[k]
        dense = self.dense[bucket]
        if dense.any():
            u[dense] = np.interp(tt[dense].astype(np.float64), self.knots64, QUANTILES)
        u[tt < self.knots[0]] = QUANTILES[0]  # below the range; needed when the lowest knots are a point mass
        return np.clip(u, 0.0, 1.0, out=u)


def _cdf(marginal: np.ndarray, cells: int) -> np.ndarray:
    """CDF at the cell edges of a column's DP marginal over its bins or levels (the missing cell
    left out)."""
    p = np.clip(np.asarray(marginal[:cells], dtype=float), 0.0, None)
    total = p.sum()
    p = p / total if total > 0 else np.full(cells, 1.0 / cells)
    return np.concatenate([[0.0], np.cumsum(p)])
