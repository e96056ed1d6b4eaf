"""Small torch pieces shared by the DP-SGD synthesizers: MLPs initialised from an explicit
generator (never the global seed), the per-block reconstruction loss and output decoding."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.synthesizers._encoding import Block

__all__ = ["mlp", "init_weights", "block_loss", "activate", "decode_outputs"]


def mlp(sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(int(sizes[i]), int(sizes[i + 1])))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


@torch.no_grad()
def init_weights(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every ``nn.Linear`` as PyTorch does by default, from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                bound = 1.0 / math.sqrt(layer.weight.shape[1]) if layer.weight.shape[1] else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


def block_loss(out: torch.Tensor, x: torch.Tensor, blocks: Sequence[Block], numeric_sigma: float = 0.1) -> torch.Tensor:
    """Per-record reconstruction loss: cross-entropy per one-hot block, Gaussian for numbers,
    logistic for missing indicators."""
    loss = torch.zeros(len(x), device=x.device)
    for b in blocks:
        o, t = out[:, b.start : b.start + b.width], x[:, b.start : b.start + b.width]
        if b.kind == "onehot":
            loss = loss + F.cross_entropy(o, t.argmax(dim=1), reduction="none")
        elif b.kind == "numeric":
            loss = loss + ((torch.tanh(o[:, 0]) - t[:, 0]) ** 2) / (2 * numeric_sigma**2)
        else:
            loss = loss + F.binary_cross_entropy_with_logits(o[:, 0], t[:, 0], reduction="none")
    return loss


def activate(out: torch.Tensor, blocks: Sequence[Block]) -> torch.Tensor:
    """Network outputs to the encoded space: softmax per one-hot block, tanh for numbers,
    sigmoid for missing indicators."""
    parts = []
    for b in blocks:
        o = out[:, b.start : b.start + b.width]
        parts.append(torch.softmax(o, dim=1) if b.kind == "onehot" else (torch.tanh(o) if b.kind == "numeric" else torch.sigmoid(o)))
    return torch.cat(parts, dim=1)


def decode_outputs(out: torch.Tensor, blocks: Sequence[Block], gen: torch.Generator) -> np.ndarray:
    """Network outputs to encoded records: categories *sampled* from the softmax, numbers via
    tanh, missing indicators sampled from the sigmoid."""
    res = torch.zeros_like(out)
    for b in blocks:
        o = out[:, b.start : b.start + b.width]
        if b.kind == "onehot":
            pick = torch.multinomial(torch.softmax(o, dim=1), 1, generator=gen).squeeze(1)
            res[torch.arange(len(o)), b.start + pick] = 1.0
        elif b.kind == "numeric":
            res[:, b.start] = torch.tanh(o[:, 0])
        else:
            res[:, b.start] = (torch.rand(len(o), generator=gen) < torch.sigmoid(o[:, 0])).float()
    return res.numpy()
