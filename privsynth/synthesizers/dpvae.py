"""``DPVAE``: a TVAE-style variational autoencoder trained end to end with DP-SGD.

Both the encoder and the decoder see real records, so the whole network is privatized; see
:mod:`privsynth.synthesizers._dpsgd_base` for the accounting. Needs the ``deep`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.core.domain import DEFAULT_BINS
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers.base import register

__all__ = ["DPVAE"]


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class _VAE(nn.Module):
    def __init__(self, width: int, hidden: tuple[int, ...], latent: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp([width, *hidden, 2 * latent])
        self.decoder = mlp([latent, *reversed(hidden), width])


def block_loss(out: torch.Tensor, x: torch.Tensor, blocks, numeric_sigma: float = 0.1) -> torch.Tensor:
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


def decode_outputs(out: torch.Tensor, blocks, gen: torch.Generator) -> np.ndarray:
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


@register
class DPVAE(DPSGDSynthesizer):
    """Variational autoencoder trained with DP-SGD (book-keeping clipping by default).

    Args:
        epsilon: Privacy budget.
        delta: ``None``: ``min(1e-5, 1 / (10 n_hat))`` from the noisy record count.
        epochs: Expected passes over the data (steps = epochs / sampling rate).
        batch_size: *Expected* Poisson batch size.
        max_grad_norm: Per-sample clipping norm.
        hidden: Hidden layer sizes of the encoder (mirrored in the decoder).
        latent: Latent dimension.
        learning_rate: Adam learning rate.
        numeric: ``"minmax"`` (public bounds) or ``"quantile"`` (DP histograms, charged).
        engine: ``"auto"``, ``"bookkeeping"`` or ``"opacus"`` (per-sample gradients by hooks).
        max_physical_batch_size: Split logical batches into chunks of at most this many records.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        devices: Data-parallel workers (``> 1`` spawns torch.distributed processes).
        checkpoint_every: Steps between checkpoints when ``fit(checkpoint_dir=...)``.
        accountant, random_state, secure, progress: As for every synthesizer.
        secure_mode: Seed the noise generator from the OS CSPRNG at every step.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(600, random_state=0)
        >>> syn = DPVAE(epsilon=2.0, epochs=1, batch_size=100, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(3).shape, syn.certificate_.spent.epsilon <= 2.0
        ((3, 10), True)
    """

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: int = 10,
        batch_size: int = 256,
        max_grad_norm: float = 1.0,
        hidden: tuple = (128, 128),
        latent: int = 32,
        learning_rate: float = 1e-3,
        numeric: str = "minmax",
        bins: int = DEFAULT_BINS,
        engine: str = "auto",
        max_physical_batch_size: int | None = None,
        device: str = "auto",
        devices: int = 1,
        checkpoint_every: int = 100,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        secure_mode: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.hidden = hidden
        self.latent = latent
        self.learning_rate = learning_rate
        self.numeric = numeric
        self.bins = bins
        self.engine = engine
        self.max_physical_batch_size = max_physical_batch_size
        self.device = device
        self.devices = devices
        self.checkpoint_every = checkpoint_every
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.secure_mode = secure_mode
        self.progress = progress

    def _build(self, width: int, device: torch.device, torch_gen: torch.Generator) -> None:
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=torch_gen)))  # weights init, seeded
        self.vae_ = _VAE(width, tuple(int(h) for h in self.hidden), int(self.latent)).to(device)
        self._opt = {"private": torch.optim.Adam(self.vae_.parameters(), lr=self.learning_rate)}
        self._gen = torch_gen
        self._device = device

    def _private_module(self) -> nn.Module:
        return self.vae_

    def _modules_for_state(self) -> dict[str, nn.Module]:
        return {"vae": self.vae_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._opt

    def _per_sample_loss(self, batch: torch.Tensor, module: nn.Module, *, n_public: int = 0) -> torch.Tensor:
        vae = module._module if hasattr(module, "_module") else module
        stats = vae.encoder(batch)
        mu, logvar = stats[:, : vae.latent], stats[:, vae.latent :].clamp(-10, 10)
        eps = torch.randn(mu.shape, generator=self._loss_gen).to(mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        out = vae.decoder(z)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
        return block_loss(out, batch, self.encoder_.blocks) + kl

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        self._ensure_built()
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        vae = self.vae_.cpu().eval()
        with torch.no_grad():
            out = vae.decoder(torch.randn((n, vae.latent), generator=gen)) if n else torch.zeros((0, self.encoder_.width))
        return self.encoder_.inverse_transform(decode_outputs(out, self.encoder_.blocks, gen), rng)
