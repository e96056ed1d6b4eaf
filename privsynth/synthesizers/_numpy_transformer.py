"""Sampling :class:`~privsynth.synthesizers.DPTransformer`'s network in numpy: column by column,
with a key/value cache, so a fitted model samples without torch.

It computes exactly the torch network of :mod:`~privsynth.synthesizers._transformer_net` (the
tests compare the two): token embedding, per block a weightless ``LayerNorm`` (``eps = 1e-5``),
causal self-attention and a ReLU feed-forward layer added to the residual stream, a final
``LayerNorm`` and column ``t``'s slice of the output layer. Batches are *column-major*
(``features x rows``), as in :mod:`~privsynth.synthesizers._numpy_net`.

The same pass fits the calibration (post-processing): with ``targets``, column ``t``'s logit
offsets are fitted on the pool before column ``t`` is drawn, so each column's 1-way marginal
is the DP one given the calibrated columns before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from privsynth.synthesizers._calibration import _tilt
from privsynth.synthesizers._encoding import _sample_columns

__all__ = ["NumpyTransformer"]

_EPS = np.float32(1e-5)
_BLOCK_KEYS = ("qkv_w", "qkv_b", "out_w", "out_b", "up_w", "up_b", "down_w", "down_b")
#: Rows generated together, two chunks at a time on two threads (best of 3 x 100k rows of a 2-block,
#: width-32 network on discretized Adult's 14 columns, 2-core CPU: 1024 -> 41k rows/s, 2048 -> 55k,
#: 4096 -> 57k, 8192 -> 68k, 16384 -> 65k).
CHUNK = 8192


def _layer_norm(x: np.ndarray) -> np.ndarray:
    """LayerNorm without weights over the features (axis 0) of a column-major batch."""
    centred = x - x.mean(axis=0, dtype=np.float32)
    var = np.mean(np.square(centred), axis=0, dtype=np.float32)
    centred *= 1.0 / np.sqrt(var + _EPS)
    return centred


@dataclass
class NumpyTransformer:
    """The trained network's weights (float32, torch's ``out x in`` layout) and the sampler.

    Args:
        levels: Codes per column, in the model's order.
        heads: Attention heads.
        embed: Token embeddings, ``(sum(levels) + 1) x width`` (the last: the start token).
        blocks: Per block the arrays named in :data:`_BLOCK_KEYS`.
        head_w, head_b: The output layer onto every column's codes.

    Raises:
        ValueError: an array's shape does not fit the levels and the width (a damaged or
            foreign model file), naming the array.
    """

    levels: tuple[int, ...]
    heads: int
    embed: np.ndarray
    blocks: list[dict[str, np.ndarray]]
    head_w: np.ndarray
    head_b: np.ndarray
    starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.levels = tuple(int(k) for k in self.levels)
        vocab, width = sum(self.levels), int(self.embed.shape[1]) if np.ndim(self.embed) == 2 else -1
        if width <= 0 or self.heads < 1 or width % self.heads:
            raise ValueError(f"A transformer of width {width} with {self.heads} heads cannot be sampled.")
        expected = {"embed": (vocab + 1, width), "head_w": (vocab, width), "head_b": (vocab,)}
        for name, shape in expected.items():
            self._check(name, getattr(self, name), shape)
        for i, block in enumerate(self.blocks):
            ff = int(np.shape(block.get("up_w", np.zeros((0, 0))))[0])
            shapes = {"qkv_w": (3 * width, width), "qkv_b": (3 * width,), "out_w": (width, width), "out_b": (width,),
                      "up_w": (ff, width), "up_b": (ff,), "down_w": (width, ff), "down_b": (width,)}
            for key, shape in shapes.items():
                self._check(f"block {i} {key}", block.get(key), shape)
        self.starts = np.concatenate([[0], np.cumsum(self.levels)[:-1]]).astype(np.int64)
        self._embed_t = np.ascontiguousarray(self.embed.T)

    @staticmethod
    def _check(name: str, array: np.ndarray | None, shape: tuple[int, ...]) -> None:
        if array is None or tuple(np.shape(array)) != shape or not np.all(np.isfinite(array)):
            got = None if array is None else tuple(np.shape(array))
            raise ValueError(f"The transformer's {name} array has shape {got}, expected {shape} with finite values: the model "
                             "file is damaged or was not written for this domain.")

    @property
    def width(self) -> int:
        return int(self.embed.shape[1])

    # -- model files ---------------------------------------------------------------------------------
    def to_arrays(self, prefix: str = "transformer") -> dict[str, np.ndarray]:
        out = {f"{prefix}::embed": self.embed, f"{prefix}::head_w": self.head_w, f"{prefix}::head_b": self.head_b}
        for i, block in enumerate(self.blocks):
            out.update({f"{prefix}::{i}::{k}": block[k] for k in _BLOCK_KEYS})
        return out

    @classmethod
    def from_arrays(cls, levels: Sequence[int], heads: int, layers: int, arrays: Mapping[str, np.ndarray],
                    prefix: str = "transformer") -> "NumpyTransformer":
        def get(key: str) -> np.ndarray:
            if key not in arrays:
                raise ValueError(f"The model file has no array {key!r}: it is damaged or not a DPTransformer's.")
            return np.asarray(arrays[key], dtype=np.float32)

        blocks = [{k: get(f"{prefix}::{i}::{k}") for k in _BLOCK_KEYS} for i in range(int(layers))]
        return cls(levels=tuple(levels), heads=int(heads), embed=get(f"{prefix}::embed"), blocks=blocks,
                   head_w=get(f"{prefix}::head_w"), head_b=get(f"{prefix}::head_b"))

    # -- sampling ----------------------------------------------------------------------------------------
    def generate(self, n: int, rng: np.random.Generator, *, offsets: Mapping[int, np.ndarray] | None = None,
                 given: np.ndarray | None = None) -> np.ndarray:
        """``n`` records' codes (``n x columns``, int64), drawn column by column.

        Args:
            n: Records.
            rng: Public randomness.
            offsets: Per column, logit offsets added before drawing (the calibration).
            given: Codes of the first ``given.shape[1]`` columns, one row per record (``n`` rows):
                those columns are kept and the others drawn given them.
        """
        out = np.empty((n, len(self.levels)), dtype=np.int64)
        bounds = [(lo, min(n, lo + CHUNK)) for lo in range(0, n, CHUNK)]
        if len(bounds) <= 1:
            for lo, hi in bounds:
                out[lo:hi] = self._chunk(hi - lo, rng, offsets or {}, given, None)
            return out
        from concurrent.futures import ThreadPoolExecutor

        from privsynth.synthesizers._numpy_net import one_blas_thread

        # Chunks run on two threads (numpy releases the GIL; BLAS on one thread each). Each chunk's
        # uniforms are drawn here, in chunk order, so a public seed fixes every row whatever the timing.
        with one_blas_thread(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="privsynth-transformer") as pool:
            pending = []
            for lo, hi in bounds:
                uniforms = rng.random((len(self.levels), hi - lo), dtype=np.float32)
                part = None if given is None else given[lo:hi]
                pending.append((lo, hi, pool.submit(self._chunk, hi - lo, None, offsets or {}, part, None, None, uniforms)))
                while len(pending) > 3:  # a bounded number of chunks in flight: memory stays flat
                    a, b, done = pending.pop(0)
                    out[a:b] = done.result()
            for a, b, done in pending:
                out[a:b] = done.result()
        return out

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        """Each record's log-likelihood under the network (no offsets): what training maximized."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.zeros(len(codes))
        for lo in range(0, len(codes), CHUNK):
            hi = min(len(codes), lo + CHUNK)
            self._chunk(hi - lo, np.random.default_rng(0), {}, codes[lo:hi], None, out[lo:hi])
        return out

    def fit_offsets(self, n: int, rng: np.random.Generator, targets: Sequence[np.ndarray]) -> dict[int, np.ndarray]:
        """Logit offsets that give each column the 1-way marginal ``targets[t]`` on a pool of ``n``
        records drawn with the offsets of the columns before it."""
        fitted: dict[int, np.ndarray] = {}
        self._chunk(n, rng, fitted, None, targets)
        return fitted

    def _chunk(self, m: int, rng: np.random.Generator | None, offsets: Mapping[int, np.ndarray] | dict[int, np.ndarray],
               given: np.ndarray | None, targets: Sequence[np.ndarray] | None, loglik: np.ndarray | None = None,
               uniforms: np.ndarray | None = None) -> np.ndarray:
        """``m`` records drawn column by column (the uniforms from ``rng``, column by column, or
        the rows of ``uniforms``); see :meth:`generate`, :meth:`fit_offsets`, :meth:`log_likelihood`."""
        d, width, heads = len(self.levels), self.width, self.heads
        head_dim = width // heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        keys = [np.empty((d, heads, head_dim, m), dtype=np.float32) for _ in self.blocks]
        values = [np.empty((d, heads, head_dim, m), dtype=np.float32) for _ in self.blocks]
        codes = np.empty((m, d), dtype=np.int64)
        token = np.full(m, self.embed.shape[0] - 1, dtype=np.int64)
        for t in range(d):
            x = self._embed_t[:, token]
            for b, block in enumerate(self.blocks):
                qkv = block["qkv_w"] @ _layer_norm(x)
                qkv += block["qkv_b"][:, None]
                q = qkv[:width].reshape(heads, head_dim, m)
                keys[b][t] = qkv[width : 2 * width].reshape(heads, head_dim, m)
                values[b][t] = qkv[2 * width :].reshape(heads, head_dim, m)
                scores = np.einsum("shdm,hdm->shm", keys[b][: t + 1], q * scale)  # (positions, heads, rows); no temporary
                scores -= scores.max(axis=0)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=0)
                mixed = np.einsum("shm,shdm->hdm", scores, values[b][: t + 1]).reshape(width, m)
                x = x + block["out_w"] @ mixed
                x += block["out_b"][:, None]
                hidden = block["up_w"] @ _layer_norm(x)
                hidden += block["up_b"][:, None]
                np.maximum(hidden, 0, out=hidden)
                x += block["down_w"] @ hidden
                x += block["down_b"][:, None]
            s, k = int(self.starts[t]), self.levels[t]
            logits = self.head_w[s : s + k] @ _layer_norm(x)
            logits += self.head_b[s : s + k, None]
            if targets is not None:
                assert isinstance(offsets, dict)
                offsets[t] = _tilt(logits.T.astype(np.float64), np.asarray(targets[t], dtype=float))
            if t in offsets:
                logits += np.asarray(offsets[t], dtype=np.float32)[:, None]
            if given is not None and t < given.shape[1]:
                codes[:, t] = given[:, t]
            else:
                codes[:, t] = _sample_columns(logits, rng, None if uniforms is None else uniforms[t])
            if loglik is not None:
                top = logits.max(axis=0)
                norm = top + np.log(np.exp(logits - top).sum(axis=0))
                loglik += logits[codes[:, t], np.arange(m)] - norm
            token = codes[:, t] + s
        return codes
