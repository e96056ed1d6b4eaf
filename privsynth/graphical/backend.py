"""Array backends of the estimation engine: numpy (always) or torch (optional, on a GPU when one
is present).

Belief propagation and mirror descent run on whichever backend the caller names; their inputs
(noisy measurements, public sizes) and outputs (model marginals, natural parameters) are numpy
arrays either way, so everything around the estimate -- selection, sampling, model files -- is
backend-free. Post-processing only: a backend changes floating-point rounding, never what the
estimate is a function of.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Backend", "NumpyBackend", "TorchBackend", "BACKENDS", "NUMPY", "get_backend"]

#: Names :func:`get_backend` accepts.
BACKENDS = ("numpy", "torch", "auto")


class Backend:
    """The few array operations the engine needs beyond ``+ - * /``, ``reshape`` and ``sum``."""

    name = "abstract"

    def asarray(self, values: Any) -> Any:
        """A float64 copy of ``values`` (a numpy array, a list or this backend's array) on this backend."""
        raise NotImplementedError

    def to_numpy(self, values: Any) -> np.ndarray:
        raise NotImplementedError

    def zeros(self, shape: tuple[int, ...]) -> Any:
        raise NotImplementedError

    def exp(self, values: Any) -> Any:
        raise NotImplementedError

    def log(self, values: Any) -> Any:
        raise NotImplementedError

    def logsumexp(self, values: Any, axes: tuple[int, ...]) -> Any:
        """``log(sum(exp(values)))`` over ``axes`` (dropped), stably; all ``-inf`` gives ``-inf``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NumpyBackend(Backend):
    """float64 numpy arrays on the CPU (the default).

    Example:
        >>> NumpyBackend().logsumexp(np.log(np.array([[1.0, 3.0]])), (1,))
        array([1.38629436])
    """

    name = "numpy"

    def asarray(self, values: Any) -> np.ndarray:
        return np.array(values, dtype=float, copy=True)

    def to_numpy(self, values: Any) -> np.ndarray:
        return np.asarray(values, dtype=float)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape)

    def exp(self, values: np.ndarray) -> np.ndarray:
        return np.exp(values)

    def log(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a cell with no mass is log 0 = -inf
            return np.log(values)

    def logsumexp(self, values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        top = values.max(axis=axes, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            out = np.log(np.exp(values - top).sum(axis=axes, keepdims=True)) + top
        return out.reshape([s for i, s in enumerate(values.shape) if i not in axes])


#: The shared numpy backend (the default of every engine function).
NUMPY = NumpyBackend()


class TorchBackend(Backend):
    """float64 torch tensors on ``device`` (default: CUDA when available, else the CPU).

    Example:
        >>> TorchBackend("cpu").to_numpy(TorchBackend("cpu").asarray([1.0, 2.0]))
        array([1., 2.])
    """

    name = "torch"

    def __init__(self, device: str | None = None) -> None:
        try:
            import torch
        except ImportError as err:  # pragma: no cover - exercised where torch is absent
            raise ImportError("the torch backend of the graphical-model engine needs PyTorch: pip install 'privsynth[deep]', "
                              "or use backend='numpy'.") from err
        self._torch = torch
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))

    def asarray(self, values: Any) -> Any:
        if isinstance(values, self._torch.Tensor):
            return values.to(device=self.device, dtype=self._torch.float64, copy=True)
        return self._torch.as_tensor(np.asarray(values, dtype=float), dtype=self._torch.float64, device=self.device).clone()

    def to_numpy(self, values: Any) -> np.ndarray:
        return values.detach().cpu().numpy() if isinstance(values, self._torch.Tensor) else np.asarray(values, dtype=float)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self._torch.zeros(shape, dtype=self._torch.float64, device=self.device)

    def exp(self, values: Any) -> Any:
        return self._torch.exp(values)

    def log(self, values: Any) -> Any:
        return self._torch.log(values)

    def logsumexp(self, values: Any, axes: tuple[int, ...]) -> Any:
        return self._torch.logsumexp(values, dim=axes)

    def __repr__(self) -> str:
        return f"TorchBackend({str(self.device)!r})"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # numpy-only installs
        return False
    return bool(torch.cuda.is_available())


def get_backend(name: str | Backend = "numpy") -> Backend:
    """The backend called ``name``: ``"numpy"``; ``"torch"`` (on CUDA when available, else the
    CPU); ``"auto"`` (torch on a GPU when one is present, else numpy). A :class:`Backend` is
    returned as is.

    Example:
        >>> get_backend("numpy").name
        'numpy'
    """
    if isinstance(name, Backend):
        return name
    if name == "numpy":
        return NUMPY
    if name == "torch":
        return TorchBackend()
    if name == "auto":
        return TorchBackend("cuda") if _cuda_available() else NUMPY
    raise ValueError(f"unknown engine backend {name!r}: use one of {', '.join(BACKENDS)}.")
