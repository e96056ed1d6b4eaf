"""The network of :class:`~privsynth.synthesizers.DPTransformer` (torch): a small causal
transformer over a record's columns, one token per column.

A record's codes ``x_0 .. x_{d-1}`` (the domain's discrete codes; numbers on their public bins)
become the sequence ``[start, x_0, .., x_{d-2}]``; the output at position ``t`` is column
``t``'s distribution given the columns before it, so the record's log-likelihood is the sum of
``d`` cross-entropies and sampling draws the columns in order. Every column has its own token
range in one embedding table, so a token also says which position it sits at: no position
embedding is needed. Blocks are pre-norm (``LayerNorm`` without weights, so that every
parameter is in an ``nn.Linear`` or ``nn.Embedding`` and book-keeping clipping applies), causal
self-attention, then a ReLU feed-forward layer. The output layer (:class:`ColumnHeads`) gives
position ``t`` the logits of column ``t``'s codes only.

:func:`export_transformer` hands the weights to the numpy sampler
(:mod:`~privsynth.synthesizers._numpy_transformer`), which must compute exactly this network.
"""

from __future__ import annotations

import math
from typing import Sequence, cast

import numpy as np
import torch
from torch import nn

from privsynth.synthesizers._nets import init_weights
from privsynth.synthesizers._numpy_transformer import NumpyTransformer

__all__ = ["CausalTransformer", "ColumnHeads", "export_transformer"]

#: Standard deviation of the token embeddings at initialisation (LayerNorm follows, so only their
#: directions matter at first).
_EMBED_STD = 1.0
#: Scale of the output layer's weights at initialisation: the biases (the DP 1-way marginals) dominate.
_HEAD_SCALE = 0.1


class _Block(nn.Module):
    """Pre-norm causal self-attention and feed-forward layer, each added to the residual stream."""

    def __init__(self, width: int, heads: int, feedforward: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.up = nn.Linear(width, feedforward)
        self.down = nn.Linear(feedforward, width)

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        head_dim = width // self.heads
        q, k, v = self.qkv(self.norm1(x)).view(batch, steps, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        # explicit attention: with a few positions and small heads it is faster on the CPU than the fused kernel
        weights = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(head_dim)) + causal, dim=-1)
        x = x + self.out((weights @ v).transpose(1, 2).reshape(batch, steps, width))
        return x + self.down(torch.relu(self.up(self.norm2(x))))


class ColumnHeads(nn.Module):
    """The output layer: position ``t``'s logits over column ``t``'s codes only (``batch x T x
    max(levels)``, padded with ``-inf``), from one weight row per code. Each row serves one
    position, so a record's gradient norm is ``sum_t |g_t|^2 (|h_t|^2 + 1)`` and the layer gives
    :class:`~privsynth.mechanisms.clipping.Bookkeeper` its norms and clipped sums itself (and
    Opacus its per-sample gradients, registered below) -- computing every code's logit at every
    position would cost ``T`` times more."""

    def __init__(self, width: int, levels: Sequence[int]) -> None:
        super().__init__()
        levels = tuple(int(k) for k in levels)
        vocab, top = sum(levels), max(levels)
        self.weight = nn.Parameter(torch.empty(vocab, width))
        self.bias = nn.Parameter(torch.zeros(vocab))
        starts = np.concatenate([[0], np.cumsum(levels)[:-1]])
        index = np.zeros((len(levels), top), dtype=np.int64)
        pad = np.full((len(levels), top), -np.inf, dtype=np.float32)
        for t, (s, k) in enumerate(zip(starts, levels)):
            index[t, :k], pad[t, :k] = s + np.arange(k), 0.0
        # plain attributes, not buffers (Opacus refuses a trainable layer with buffers); they follow the weights' device
        self.index, self.pad = torch.as_tensor(index), torch.as_tensor(pad)
        self.valid = torch.isfinite(self.pad).float()

    def _apply(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]  # .to(device) moves the index tables too
        out = super()._apply(fn, *args, **kwargs)
        device = self.weight.device
        self.index, self.pad, self.valid = self.index.to(device), self.pad.to(device), self.valid.to(device)
        return out

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.einsum("btw,tkw->btk", h, self.weight[self.index]) + self.bias[self.index] + self.pad

    def per_sample_norms_sq(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        g_sq = (g * self.valid).pow(2).sum(dim=2)
        return (g_sq * (h.pow(2).sum(dim=2) + 1.0)).sum(dim=1)

    def clipped_sums(self, h: torch.Tensor, g: torch.Tensor, factor: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
        scaled = g * self.valid * factor[:, None, None]
        rows = torch.einsum("btk,btw->tkw", scaled, h)
        weight = torch.zeros_like(self.weight).index_put_((self.index.reshape(-1),), rows.reshape(-1, rows.shape[-1]), accumulate=True)
        bias = torch.zeros_like(self.bias).index_put_((self.index.reshape(-1),), scaled.sum(dim=0).reshape(-1), accumulate=True)
        return {self.weight: weight, self.bias: bias}

    def per_sample_grads(self, h: torch.Tensor, g: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
        """Every record's gradient (for Opacus; ``batch x vocab x width`` in memory)."""
        masked = g * self.valid
        rows = torch.einsum("btk,btw->btkw", masked, h).reshape(len(h), -1, h.shape[-1])
        flat = self.index.reshape(-1)
        weight = h.new_zeros(len(h), *self.weight.shape).index_add_(1, flat, rows)
        bias = h.new_zeros(len(h), len(self.bias)).index_add_(1, flat, masked.reshape(len(h), -1))
        return {self.weight: weight, self.bias: bias}


def _register_with_opacus() -> None:
    """Opacus's per-sample gradients of :class:`ColumnHeads` (the engine="opacus" path)."""
    try:
        from opacus.grad_sample import register_grad_sampler
    except ImportError:  # pragma: no cover - opacus is part of the deep extra
        return

    def grads(layer: ColumnHeads, activations: list, backprops: torch.Tensor) -> dict:
        return layer.per_sample_grads(activations[0], backprops)

    register_grad_sampler(ColumnHeads)(grads)  # Opacus's own table of per-layer gradient samplers


_register_with_opacus()


class CausalTransformer(nn.Module):
    """Per-record negative log-likelihood of the columns' codes under the causal transformer.

    Args:
        levels: Codes per column (the domain's levels at the fit's bins).
        width: Model width (``d_model``); a multiple of ``heads``.
        heads: Attention heads.
        layers: Transformer blocks.
        feedforward: Hidden units of each block's feed-forward layer.

    Example:
        >>> net = CausalTransformer((3, 2), width=8, heads=2, layers=1, feedforward=16)
        >>> net(torch.tensor([[0, 1], [2, 0]])).shape
        torch.Size([2])
    """

    def __init__(self, levels: Sequence[int], *, width: int, heads: int, layers: int, feedforward: int) -> None:
        super().__init__()
        self.levels = tuple(int(k) for k in levels)
        vocab = sum(self.levels)
        self.embed = nn.Embedding(vocab + 1, width)  # the last token starts every record
        self.blocks = nn.ModuleList(_Block(width, heads, feedforward) for _ in range(layers))
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.head = ColumnHeads(width, self.levels)
        starts = np.concatenate([[0], np.cumsum(self.levels)[:-1]]).astype(np.int64)
        steps = len(self.levels)
        causal = torch.triu(torch.full((steps, steps), float("-inf")), diagonal=1)
        self.register_buffer("starts", torch.as_tensor(starts), persistent=False)
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        codes = codes.long()
        tokens = codes + cast(torch.Tensor, self.starts)
        start = torch.full((len(tokens), 1), self.embed.num_embeddings - 1, dtype=torch.long, device=tokens.device)
        x = self.embed(torch.cat([start, tokens[:, :-1]], dim=1))
        for block in self.blocks:
            x = block(x, self.causal)
        logits = self.head(self.norm(x))
        return -torch.log_softmax(logits, dim=2).gather(2, codes[:, :, None]).squeeze(2).sum(dim=1)

    def _blocks(self) -> list[_Block]:
        return [cast(_Block, b) for b in self.blocks]

    @torch.no_grad()
    def initialise(self, generator: torch.Generator, marginals: Sequence[np.ndarray]) -> None:
        """Weights from ``generator`` (never the global seed); each residual branch's last layer
        scaled by ``1 / sqrt(2 * layers)`` (GPT-2's rule, so the stream's scale does not grow with
        depth); the output layer starts at the DP 1-way marginals (its biases are their logs,
        its weights small): training starts from the independent-columns model."""
        init_weights(self, generator)
        nn.init.normal_(self.embed.weight, std=_EMBED_STD, generator=generator)
        nn.init.kaiming_uniform_(self.head.weight, a=math.sqrt(5), generator=generator)  # as an nn.Linear's
        for block in self._blocks():
            for layer in (block.out, block.down):
                layer.weight.mul_(1.0 / math.sqrt(2 * max(len(self.blocks), 1)))
        self.head.weight.mul_(_HEAD_SCALE)
        for s, k, m in zip(cast(torch.Tensor, self.starts).tolist(), self.levels, marginals):
            p = np.clip(np.asarray(m, dtype=float)[:k], 1e-6, None)
            logp = np.log(p / p.sum())
            self.head.bias[s : s + k] = torch.as_tensor(logp - logp.mean(), dtype=self.head.bias.dtype)


def export_transformer(net: CausalTransformer) -> NumpyTransformer:
    """The trained weights as the numpy sampler's network (float32 copies)."""

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32).copy()

    blocks = [{"qkv_w": arr(b.qkv.weight), "qkv_b": arr(b.qkv.bias), "out_w": arr(b.out.weight), "out_b": arr(b.out.bias),
               "up_w": arr(b.up.weight), "up_b": arr(b.up.bias), "down_w": arr(b.down.weight), "down_b": arr(b.down.bias)}
              for b in net._blocks()]
    heads = net._blocks()[0].heads if len(net.blocks) else 1
    return NumpyTransformer(levels=net.levels, heads=heads, embed=arr(net.embed.weight), blocks=blocks,
                            head_w=arr(net.head.weight), head_b=arr(net.head.bias))
