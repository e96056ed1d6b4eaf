"""Small pieces shared by the DP-SGD synthesizers: MLPs initialised from an explicit generator
(never the global seed) with output biases started at the DP marginals, the per-block
reconstruction loss, straight-through one-hot samples, and the export of a network's weights
for the numpy forward pass of :mod:`._numpy_net`."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.synthesizers._encoding import Block

__all__ = ["VAE", "mlp", "init_weights", "init_output_bias", "block_loss", "gumbel_one_hot", "activate", "export_layers"]


class VAE(nn.Module):
    """Encoder (to ``2 * latent``: means and log-variances) and decoder MLPs of :class:`~privsynth.synthesizers.DPVAE`."""

    def __init__(self, width: int, hidden: tuple[int, ...], latent: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp([width, *hidden, 2 * latent])
        self.decoder = mlp([latent, *reversed(hidden), width])


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


@torch.no_grad()
def init_output_bias(layer: nn.Linear, blocks: Sequence[Block], targets: dict[int, np.ndarray], *, weight_scale: float = 0.1) -> None:
    """Start an output layer at the DP marginals: each one-hot block's bias is the log of its
    target distribution (and a missing indicator's the logit of its rate), and the weights are
    scaled down so that the bias dominates at first -- the 1-way marginals start right and
    training spends its budget on the dependence."""
    layer.weight.mul_(weight_scale)
    for b in blocks:
        if b.start not in targets:
            continue
        t = np.clip(np.asarray(targets[b.start], dtype=float), 1e-6, 1.0)
        if b.kind == "onehot":
            value = np.log(t / t.sum())
        else:
            value = np.log(t / (1.0 - np.minimum(t, 1 - 1e-6)))
        layer.bias[b.start : b.start + b.width] = torch.as_tensor(value - value.mean() if b.kind == "onehot" else value,
                                                                  dtype=layer.bias.dtype)


def block_loss(out: torch.Tensor, x: torch.Tensor, blocks: Sequence[Block], numeric_sigma: float = 0.5) -> torch.Tensor:
    """Per-record reconstruction loss: cross-entropy per one-hot block, Gaussian for numbers,
    logistic for missing indicators."""
    loss = torch.zeros(len(x), device=x.device)
    for b in blocks:
        o, t = out[:, b.start : b.start + b.width], x[:, b.start : b.start + b.width]
        if b.kind == "onehot":
            loss = loss + F.cross_entropy(o, t.argmax(dim=1), reduction="none")
        elif b.kind in ("numeric", "ordinal"):
            loss = loss + ((torch.tanh(o[:, 0]) - t[:, 0]) ** 2) / (2 * numeric_sigma**2)
        else:
            loss = loss + F.binary_cross_entropy_with_logits(o[:, 0], t[:, 0], reduction="none")
    return loss


def gumbel_one_hot(logits: torch.Tensor, generator: torch.Generator, tau: float = 0.5) -> torch.Tensor:
    """One-hot samples from ``softmax(logits)`` (Gumbel-max) whose gradient is the tempered
    softmax's (straight-through): fakes look like real one-hot records to a discriminator, and
    the generator still learns through them."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-12, 1 - 1e-12)
    soft = torch.softmax((logits - torch.log(-torch.log(u))) / tau, dim=1)
    hard = F.one_hot(soft.argmax(dim=1), logits.shape[1]).to(soft.dtype)
    return hard - soft.detach() + soft


def activate(out: torch.Tensor, blocks: Sequence[Block], generator: torch.Generator | None = None) -> torch.Tensor:
    """Network outputs to the encoded space: per one-hot block a softmax (or, with a
    ``generator``, a straight-through one-hot sample), tanh for numbers, sigmoid for missing
    indicators."""
    parts = []
    for b in blocks:
        o = out[:, b.start : b.start + b.width]
        if b.kind == "onehot":
            parts.append(torch.softmax(o, dim=1) if generator is None else gumbel_one_hot(o, generator))
        else:
            parts.append(torch.sigmoid(o) if b.kind == "missing" else torch.tanh(o))
    return torch.cat(parts, dim=1)


def export_layers(module: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """An MLP's layers as ``(weight, bias, activation after it)`` numpy arrays (float32)."""
    layers: list[tuple[np.ndarray, np.ndarray, str]] = []
    for m in module:
        if isinstance(m, nn.Linear):
            layers.append((m.weight.detach().cpu().numpy().astype(np.float32).copy(),
                           m.bias.detach().cpu().numpy().astype(np.float32).copy(), ""))
        elif layers:
            name = {nn.ReLU: "relu", nn.Tanh: "tanh"}.get(type(m))
            if isinstance(m, nn.LeakyReLU):
                name = f"leaky_relu:{m.negative_slope}"
            if name is None:
                raise TypeError(f"No numpy forward pass for {type(m).__name__}.")
            w, b, _ = layers[-1]
            layers[-1] = (w, b, name)
    return layers

