"""The forward pass of a fitted generator network in numpy: sampling never needs torch.

A network is a list of ``(weight, bias, activation)`` layers in torch's layout (``weight`` is
``out x in``), exported after training and stored in the model file's ``.npz`` as
``<prefix>::<i>::w`` / ``::b`` with the activations in the JSON state. The pass runs on
*column-major batches*: ``x`` is ``features x rows`` and so is the output, so that every
per-feature step afterwards (one softmax block, one numeric output) reads contiguous rows.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["Layers", "forward_numpy", "layers_to_arrays", "layers_from_arrays", "one_blas_thread"]

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while any sampler in the process is inside (reference-counted, so
    samplers running concurrently in threads restore the original limits only when the last one
    leaves). Pipelined sampling overlaps one forward-pass thread with decoding on the other core;
    a multi-threaded BLAS on top would oversubscribe the cores. Measured on 2 cores, 1M DPGAN rows:
    483-488k rows/s with one BLAS thread, 364k without the limit, 387k sequential."""
    global _blas_users, _blas_limiter
    from threadpoolctl import threadpool_limits

    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None

Layers = Sequence[tuple[np.ndarray, np.ndarray, str]]


def forward_numpy(x: np.ndarray, layers: Layers, workspace: list[np.ndarray] | None = None) -> np.ndarray:
    """The MLP's forward pass in float32 on a ``features x rows`` batch (output: ``width x rows``).

    Args:
        x: The input batch, ``features x rows``.
        layers: The network (see the module docstring).
        workspace: A list (empty at first) in which the pass keeps one output buffer per layer
            and reuses it while the batch has the same number of rows: no fresh allocation (and
            page faults) per batch. The returned array is then one of those buffers: the next
            pass with the same workspace overwrites it.

    Example:
        >>> layers = [(np.eye(2, dtype=np.float32), np.zeros(2, np.float32), "relu")]
        >>> forward_numpy(np.array([[1.0], [-1.0]]), layers).tolist()
        [[1.0], [0.0]]
    """
    h = np.asarray(x, dtype=np.float32)
    if workspace is not None and (len(workspace) != len(layers) or workspace[0].shape[1] != h.shape[1]):
        workspace[:] = [np.empty((w.shape[0], h.shape[1]), dtype=np.float32) for w, _, _ in layers]
    for i, (w, b, act) in enumerate(layers):
        h = np.matmul(w, h) if workspace is None else np.matmul(w, h, out=workspace[i])
        h += b[:, None]
        if act == "relu":
            np.maximum(h, 0, out=h)
        elif act.startswith("leaky_relu"):
            np.multiply(h, np.where(h > 0, np.float32(1), np.float32(act.split(":")[1])), out=h)
        elif act == "tanh":
            np.tanh(h, out=h)
        elif act:
            raise ValueError(f"Unknown activation {act!r} in a stored network.")
    return h


def layers_to_arrays(prefix: str, layers: Layers) -> tuple[list[str], dict[str, np.ndarray]]:
    """Activations (for the JSON state) and weight arrays (for the ``.npz``) of a network."""
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b, _) in enumerate(layers):
        arrays[f"{prefix}::{i}::w"], arrays[f"{prefix}::{i}::b"] = w, b
    return [act for _, _, act in layers], arrays


def layers_from_arrays(prefix: str, activations: Sequence[str],
                       arrays: Mapping[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Inverse of :func:`layers_to_arrays`."""
    return [(np.asarray(arrays[f"{prefix}::{i}::w"], dtype=np.float32), np.asarray(arrays[f"{prefix}::{i}::b"], dtype=np.float32), str(act))
            for i, act in enumerate(activations)]
