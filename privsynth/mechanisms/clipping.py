"""Per-example gradient clipping on torch: module checks, book-keeping clipping, Opacus hooks.

**Book-keeping clipping** (Bu, Wang, Zha, Karypis, "Differentially Private Optimization on Large
Model at Small Cost", ICML 2023). For a ``Linear`` layer with 2-D input ``A`` (batch x in) and
output gradient ``G`` (batch x out), record ``i``'s weight gradient is the outer product
``G_i^T A_i``, so its squared norm is ``|G_i|^2 |A_i|^2`` (plus ``|G_i|^2`` for the bias) -- no
per-sample gradient is materialized. One ordinary backward (to the layer *outputs* only) gives
every ``G``; the clipped sum is one matmul per layer: ``(c * G)^T A`` with
``c_i = min(1, C / norm_i)``. On sequences (input ``batch x T x in``) record ``i``'s gradient is
``sum_t G_it^T A_it``, whose squared norm is ``sum_{t,s} (G_i G_i^T)_ts (A_i A_i^T)_ts`` (the ghost
norm of Li, Tramer, Liang, Hashimoto, "Large Language Models Can Be Strong Differentially Private
Learners", ICLR 2022), computed from the two ``T x T`` Gram matrices when they are the cheaper
way; an ``nn.Embedding`` is the same with ``A`` one-hot (``A_i A_i^T`` says which positions
hold the same index). :class:`Bookkeeper` implements it for models whose parameters all live in
``nn.Linear``, plain ``nn.Embedding`` and layers that compute their own records' norms and
clipped sums, each used once per forward (parameter-free layers such as a ``LayerNorm``
without affine weights in between); anything else goes through
Opacus (``GradSampleModule``), the general path and the reference the tests compare against.

The privacy argument: adding or removing one record changes the clipped sum by at most
``max_grad_norm``; Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm`` on
the sum, with Poisson sampling of the batch, is the subsampled Gaussian mechanism the accountant
composes.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, cast

import torch
from torch import nn

from privsynth.core.errors import PrivsynthError
from privsynth.mechanisms._common import ENGINES

__all__ = ["check_module", "bookkeeping_supported", "Bookkeeper", "opacus_clipped_sum", "ClippedSum", "ENGINES"]

_PARAMETER_FREE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity, nn.GELU, nn.Softplus, nn.ELU, nn.SiLU,
                   nn.LayerNorm, nn.Sequential, nn.ModuleList, nn.ModuleDict)  # a LayerNorm with weights has parameters: refused


def check_module(module: nn.Module) -> None:
    """Refuse layers that break DP-SGD, saying why and what to use instead.

    Raises:
        PrivsynthError: a batch-mixing layer (BatchNorm) or a layer Opacus cannot privatize.
    """
    for name, m in module.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise PrivsynthError(
                f"Layer {name or type(module).__name__!r} is {type(m).__name__}, which normalizes with statistics of the "
                "whole batch: one record's gradient then depends on the other records, so per-sample clipping no longer "
                "bounds any record's influence and the DP guarantee fails. Use nn.LayerNorm or nn.GroupNorm (per-sample) "
                "or no normalization."
            )
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(module, strict=False)
    if errors:
        raise PrivsynthError(f"The model cannot be trained with DP-SGD: {errors[0]}")


def _plain_embedding(m: nn.Module) -> bool:
    """An ``nn.Embedding`` whose gradient is the plain scatter of its output gradient."""
    return (isinstance(m, nn.Embedding) and m.padding_idx is None and m.max_norm is None and not m.scale_grad_by_freq
            and not m.sparse)


def _ghost_layer(m: nn.Module) -> bool:
    """A layer that computes its own records' gradient norms and clipped sums from its input and
    output gradient (``per_sample_norms_sq(input, grad)``, ``clipped_sums(input, grad, factor)``;
    e.g. the transformer's per-column output layer)."""
    return callable(getattr(m, "per_sample_norms_sq", None)) and callable(getattr(m, "clipped_sums", None))


def _recorded(m: nn.Module) -> bool:
    return isinstance(m, (nn.Linear, nn.Embedding)) or _ghost_layer(m)


def bookkeeping_supported(module: nn.Module) -> bool:
    """True when every parameter lives in an ``nn.Linear``, a plain ``nn.Embedding`` (no padding
    index, max norm, frequency scaling or sparse gradient) or a layer that computes its own
    per-record gradient norms, and the other layers have none."""
    for m in module.modules():
        own = list(m.parameters(recurse=False))
        if own and not (isinstance(m, nn.Linear) or _plain_embedding(m) or _ghost_layer(m)):
            return False
        if not own and not (_recorded(m) or isinstance(m, _PARAMETER_FREE)) and list(m.children()) == []:
            return False
    return True


def _sequences(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output gradient as ``batch x T x features`` (``T = 1`` for 2-D inputs)."""
    return a.reshape(a.shape[0], -1, a.shape[-1]), g.reshape(g.shape[0], -1, g.shape[-1])


def _linear_norms_sq(layer: nn.Linear, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Each record's squared gradient norm in ``layer`` (weight and bias)."""
    if a.dim() == 2:
        weight = g.pow(2).sum(dim=1) * a.pow(2).sum(dim=1)
        return weight + (g.pow(2).sum(dim=1) if layer.bias is not None else 0.0)
    a3, g3 = _sequences(a, g)
    steps = a3.shape[1]
    if steps * steps <= a3.shape[2] * g3.shape[2]:  # two T x T Gram matrices are cheaper than the gradients
        weight = (torch.bmm(g3, g3.transpose(1, 2)) * torch.bmm(a3, a3.transpose(1, 2))).sum(dim=(1, 2))
    else:
        weight = torch.bmm(g3.transpose(1, 2), a3).pow(2).sum(dim=(1, 2))
    return weight + (g3.sum(dim=1).pow(2).sum(dim=1) if layer.bias is not None else 0.0)


def _embedding_norms_sq(index: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Each record's squared gradient norm in an embedding: positions holding the same index add
    into the same row."""
    idx = index.reshape(index.shape[0], -1)
    g3 = g.reshape(g.shape[0], idx.shape[1], -1)
    same = (idx[:, :, None] == idx[:, None, :]).to(g3.dtype)
    return (same * torch.bmm(g3, g3.transpose(1, 2))).sum(dim=(1, 2))


class Bookkeeper:
    """Per-sample clipped gradient sums of a model of Linear and Embedding layers from one backward pass.

    Usage::

        keeper = Bookkeeper(model)
        with keeper.recording():
            losses = per_sample_loss(model, batch)        # shape (batch,)
        norms = keeper.accumulate_clipped(losses, max_grad_norm)   # adds into keeper.sums
    """

    def __init__(self, module: nn.Module) -> None:
        if not bookkeeping_supported(module):
            raise PrivsynthError("Book-keeping clipping supports models whose parameters are all in nn.Linear and plain "
                                 "nn.Embedding layers; use engine='opacus'.")
        self.module = module
        self.layers = [m for m in module.modules() if _recorded(m)]
        self._records: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
        self._handles: list = []
        self.sums: dict[Any, torch.Tensor] = {p: torch.zeros_like(p) for p in module.parameters() if p.requires_grad}

    def _hook(self, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        (a,) = inputs
        if a.dim() < 2 and isinstance(layer, nn.Linear):
            raise PrivsynthError("Book-keeping clipping needs batched inputs to Linear layers (batch x ... x features).")
        self._records.append((layer, a.detach(), output))

    def recording(self):
        keeper = self

        class _Ctx:
            def __enter__(self_inner):
                keeper._records = []
                keeper._handles = [layer.register_forward_hook(keeper._hook) for layer in keeper.layers]
                return keeper

            def __exit__(self_inner, *exc):
                for h in keeper._handles:
                    h.remove()
                keeper._handles = []
                return False

        return _Ctx()

    def accumulate_clipped(self, per_sample_losses: torch.Tensor, max_grad_norm: float) -> torch.Tensor:
        """Add the clipped per-sample gradient sum of ``per_sample_losses`` (recorded forward)
        into ``self.sums``; returns the per-sample norms before clipping."""
        layers = [r[0] for r in self._records]
        if len(set(map(id, layers))) != len(layers):
            raise PrivsynthError("A Linear layer ran twice in one forward; concatenate the inputs into one batch instead.")
        outputs = [r[2] for r in self._records]
        grads = torch.autograd.grad(per_sample_losses.sum(), outputs, allow_unused=True)
        norms_sq = torch.zeros(per_sample_losses.shape[0], device=per_sample_losses.device)
        parts = []
        for (layer, a, _), g in zip(self._records, grads):
            if g is None or not any(p.requires_grad for p in layer.parameters(recurse=False)):
                continue
            if _ghost_layer(layer):
                norms_sq += cast(Any, layer).per_sample_norms_sq(a, g)
            elif isinstance(layer, nn.Embedding):
                norms_sq += _embedding_norms_sq(a, g)
            else:
                norms_sq += _linear_norms_sq(cast(nn.Linear, layer), a, g)
            parts.append((layer, a, g))
        norms = norms_sq.sqrt()
        factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        for layer, a, g in parts:
            if _ghost_layer(layer):
                for p, total in cast(Any, layer).clipped_sums(a, g, factor).items():
                    self.sums[p] += total
                continue
            scaled = g * factor.reshape(-1, *([1] * (g.dim() - 1)))
            if isinstance(layer, nn.Embedding):
                self.sums[layer.weight].index_add_(0, a.reshape(-1), scaled.reshape(-1, scaled.shape[-1]))
                continue
            flat_g, flat_a = scaled.reshape(-1, scaled.shape[-1]), a.reshape(-1, a.shape[-1])
            self.sums[layer.weight] += flat_g.T @ flat_a
            if layer.bias is not None:
                self.sums[layer.bias] += flat_g.sum(dim=0)
        self._records = []
        return norms.detach()


def opacus_clipped_sum(grad_sample_module: nn.Module, per_sample_losses: torch.Tensor, max_grad_norm: float) -> dict:
    """Reference path: per-sample gradients from an Opacus ``GradSampleModule`` (hooks; built
    with ``loss_reduction="sum"``), clipped and summed explicitly. Returns ``{parameter: clipped sum}``."""
    grad_sample_module.zero_grad(set_to_none=True)
    per_sample_losses.sum().backward()
    samples = {p: getattr(p, "grad_sample", None) for p in grad_sample_module.parameters() if p.requires_grad}
    per_example = {p: g for p, g in samples.items() if g is not None}
    flat = torch.cat([g.reshape(g.shape[0], -1) for g in per_example.values()], dim=1)
    norms = flat.norm(dim=1)
    factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
    out = {p: torch.einsum("i,i...->...", factor, g) for p, g in per_example.items()}
    for p in per_example:
        p.grad_sample = None  # type: ignore[attr-defined]  # Opacus's attribute
    return out


#: ``loss(module, chunk_of_records, n_public) -> per-example losses`` (real records first).
LossFn = Callable[[nn.Module, Any, int], torch.Tensor]


class ClippedSum:
    """The per-example clipped gradient sum of ``module``'s parameters, by book-keeping clipping
    (``engine="bookkeeping"``; ``"auto"`` picks it whenever the model allows) or Opacus's
    per-sample gradients (``"opacus"``).

    Example:
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        >>> clipper = ClippedSum(model)
        >>> sums = clipper(lambda m, x, n_public: m(x).squeeze(1) ** 2, [(torch.randn(5, 3), 0)], max_grad_norm=1.0)
        >>> clipper.engine, sorted(tuple(s.shape) for s in sums.values())
        ('bookkeeping', [(1,), (1, 4), (4,), (4, 3)])
    """

    def __init__(self, module: nn.Module, engine: str = "auto") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}.")
        check_module(module)
        self.module = module
        self.engine = engine if engine != "auto" else ("bookkeeping" if bookkeeping_supported(module) else "opacus")
        self._keeper = Bookkeeper(module) if self.engine == "bookkeeping" else None
        self._gsm: Any = None
        if self.engine == "opacus":
            from opacus import GradSampleModule

            self._gsm = GradSampleModule(module, loss_reduction="sum")  # per-example losses are summed

    def __call__(self, loss: LossFn, chunks: Iterable[tuple[Any, int]], max_grad_norm: float) -> dict:
        """Sum over ``chunks`` of ``(records, n_public)`` of each example's gradient clipped to
        ``max_grad_norm`` (L2); returns ``{parameter: sum}``."""
        sums = {p: torch.zeros_like(p) for p in self.module.parameters() if p.requires_grad}
        for records, n_public in chunks:
            if self._keeper is not None:
                with self._keeper.recording():
                    losses = loss(self.module, records, n_public)
                if losses.numel():
                    self._keeper.accumulate_clipped(losses, max_grad_norm)
            else:
                losses = loss(self._gsm, records, n_public)
                if losses.numel():
                    for p, s in opacus_clipped_sum(self._gsm, losses, max_grad_norm).items():
                        sums[p] += s
        if self._keeper is not None:
            for p, s in self._keeper.sums.items():
                sums[p] += s
                s.zero_()
        return sums
