"""``DPDiffusion``: a tabular diffusion model trained with DP-SGD.

Records are encoded as for DPVAE (:class:`~privsynth.synthesizers._encoding.TabularEncoder`:
one-hot blocks over the declared categories, numbers and many-level ordinals in ``[-1, 1]``
through their DP CDF, missing indicators), scaled to ``[-1, 1]`` and diffused with Gaussian
noise on a cosine schedule (continuous time ``t`` in ``(0, 1)``; Gaussian diffusion of the
one-hot blocks, as in TabDDPM's Gaussian variant and "analog bits"). A denoising MLP takes the
noisy record and sinusoidal features of ``t`` and predicts the *clean* record as the
synthesizer's raw outputs -- logits per one-hot block, a number per numeric column, a logit
per missing indicator -- trained with DPVAE's per-block likelihood
(:func:`~privsynth.synthesizers._nets.block_loss`), averaged over ``repeats`` noise levels per
record (each record's gradient is still clipped once). The whole network sees records, so all of
it is privatized; accounting, the DP count and 1-way marginals, checkpoints, secure mode and
data-parallel workers are those of every DP-SGD synthesizer
(:mod:`~privsynth.synthesizers._dpsgd_base`).

Sampling is numpy only: Gaussian noise, then ``sampling_steps`` deterministic DDIM steps (each
one MLP pass: the clean-record estimate is the outputs' softmax per block mapped to ``[-1, 1]``,
tanh for numbers), and the last pass's outputs are decoded as DPVAE's are -- categories drawn
from their softmax, calibrated onto the DP 1-way marginals (post-processing). Needs the
``deep`` extra to fit.

How the defaults were chosen (discretized Adult, epsilon 1, seed 0, 2-way TVD of a release of all
rows; 20 epochs at ``sampling_rate=0.05``, ``marginal_share=0.5`` as DPTransformer's; fits measured
while another benchmark shared the 2 cores, so their seconds are high): ``hidden`` (256, 256) with
``learning_rate`` 2e-3 -> 0.062 (0.037 at epsilon 1e4); (128, 128) with 5e-3 -> 0.060 in half the
time; with 1e-2 -> 0.063; ``repeats`` 8 instead of 4 (2e-3) -> 0.062 at twice the cost.
``sampling_steps`` (one fitted model per epsilon, recalibrated for each count; 2-way TVD at epsilon
1 / 1e4): 20 -> 0.0595 / 0.0380, 10 -> 0.0542 / 0.0373, 8 -> 0.0545 / 0.0384, 6 -> 0.0506 / 0.0390,
5 -> 0.0512 / 0.0399, 4 -> 0.0521 / 0.0430, 3 -> 0.0547 / 0.0457, 1 -> 0.0781 / 0.0815. Under DP noise
a long chain compounds the denoiser's errors, so 6 steps are better at epsilon 1 (on raw Adult and
SynMeter's six tables too: ``benchmarks/results/deep_ablations_adult.md``), near 20's without noise,
and sample 2.8 times as fast as 20 on one thread (4.5 times on two). ``sampling_rate`` 0.1 (200
steps of twice the batch) against 0.05 (400 steps), 6 sampling steps, machine otherwise quiet --
epsilon 1, seeds 0-2: 0.0486 / 0.0492 / 0.0498 against 0.0506 for seed 0 (0.0505 +- 0.0007 over
three seeds in ``statistical.py``); seed 0 at epsilon 3: 0.0414 against 0.0430 (three seeds), at
1e4: 0.0381 against 0.0390; in about 30 s instead of 40 s. 0.2 gave 0.0505 at epsilon 1, and 0.1
with 40 epochs 0.0511: the larger batch's better signal-to-noise ratio per step, not more steps,
is what helps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from privsynth.core import checks
from privsynth.core.domain import DEFAULT_BINS
from privsynth.synthesizers._dpsgd_base import DPSGDSynthesizer
from privsynth.synthesizers._numpy_net import forward_numpy

if TYPE_CHECKING:  # torch is imported when a fit starts; sampling needs numpy only
    import torch
    from torch import nn

__all__ = ["DPDiffusion", "alpha_bar"]

#: Offset of the cosine schedule (Nichol and Dhariwal, 2021).
_COSINE_OFFSET = 0.008
#: The last noise level the schedule reaches at ``t = 1`` is clipped above this (no zero signal).
_MIN_ALPHA_BAR = 1e-4


def alpha_bar(t: Any) -> Any:
    """Signal share ``alpha_bar(t)`` of the cosine schedule at time ``t`` in ``[0, 1]`` (numpy or torch).

    Example:
        >>> round(float(alpha_bar(np.array(0.0))), 6), round(float(alpha_bar(np.array(1.0))), 6)
        (1.0, 0.0001)
    """
    lib: Any = np if isinstance(t, (np.ndarray, float, int)) else __import__("torch")
    f = lib.cos((t + _COSINE_OFFSET) / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2
    f0 = math.cos(_COSINE_OFFSET / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2
    return lib.clip(f / f0, _MIN_ALPHA_BAR, 1.0)


def time_features(t: Any, count: int) -> Any:
    """``count`` sinusoidal features of ``t`` (numpy ``(n,)`` or torch ``(n,)`` -> ``(n, count)``)."""
    lib: Any = np if isinstance(t, np.ndarray) else __import__("torch")
    half = count // 2
    freqs = (2.0 ** np.arange(half)) * math.pi
    angles = t[:, None] * (lib.as_tensor(freqs, dtype=t.dtype, device=t.device) if lib is not np else freqs)
    return lib.cat([lib.sin(angles), lib.cos(angles)], 1) if lib is not np else np.concatenate([np.sin(angles), np.cos(angles)], 1)


class DPDiffusion(DPSGDSynthesizer):
    """Gaussian diffusion over the encoded record, with a denoising MLP trained by DP-SGD.

    Args:
        epsilon: Privacy budget.
        delta: ``None``: the fixed public default ``1e-5``; choose it well below ``1 / n``.
        epochs: Expected passes over the data (``steps = ceil(epochs / sampling_rate)``).
        sampling_rate: Poisson sampling rate of each step (a public parameter).
        max_grad_norm: Per-sample clipping norm.
        hidden: Hidden layer sizes of the denoiser.
        learning_rate: Adam learning rate.
        repeats: Noise levels drawn per record and step; the record's loss is their mean.
        time_features: Sinusoidal features of the diffusion time fed to the denoiser (even).
        sampling_steps: DDIM steps when sampling (each one pass of the denoiser); the calibration
            is fitted for this count.
        numeric_sigma: Scale of the Gaussian loss of numbers in ``[-1, 1]``.
        marginal_share: Share of epsilon for the DP 1-way marginals (output biases, quantile
            transform, calibration).
        calibrate: Tilt the outputs onto the DP marginals after training (post-processing).
        numeric: ``"quantile"`` (through the DP marginal's CDF) or ``"minmax"`` (public bounds).
        onehot_limit: Ordinal columns with more categories are modelled as one number.
        engine, max_physical_batch_size, device, devices, checkpoint_every, accountant,
            random_state, secure, progress: As for every DP-SGD synthesizer.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(600, random_state=0)
        >>> syn = DPDiffusion(epsilon=2.0, epochs=1, sampling_rate=0.2, random_state=0, progress=False).fit(df, domain)
        >>> syn.sample(3).shape, syn.certificate_.spent.epsilon <= 2.0
        ((3, 10), True)
    """

    _private_attribute = "denoiser_"
    _state_attributes = {"denoiser": "denoiser_"}
    #: A chunk's chain of passes costs about 16 times its decoding (65,536 rows of discretized
    #: Adult, 6 steps): two chunks' chains run at once, one per core.
    _network_workers = 2

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: float = 20,
        sampling_rate: float = 0.1,
        max_grad_norm: float = 1.0,
        hidden: tuple = (128, 128),
        learning_rate: float = 5e-3,
        repeats: int = 4,
        time_features: int = 16,
        sampling_steps: int = 6,
        numeric_sigma: float = 0.5,
        marginal_share: float = 0.5,
        calibrate: bool = True,
        numeric: str = "quantile",
        onehot_limit: int = 32,
        bins: int = DEFAULT_BINS,
        engine: str = "auto",
        max_physical_batch_size: int | None = None,
        device: str = "auto",
        devices: int = 1,
        checkpoint_every: int = 100,
        accountant: str = "rdp",
        random_state: Any = None,
        secure: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.sampling_rate = sampling_rate
        self.max_grad_norm = max_grad_norm
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.repeats = repeats
        self.time_features = time_features
        self.sampling_steps = sampling_steps
        self.numeric_sigma = numeric_sigma
        self.marginal_share = marginal_share
        self.calibrate = calibrate
        self.numeric = numeric
        self.onehot_limit = onehot_limit
        self.bins = bins
        self.engine = engine
        self.max_physical_batch_size = max_physical_batch_size
        self.device = device
        self.devices = devices
        self.checkpoint_every = checkpoint_every
        self.accountant = accountant
        self.random_state = random_state
        self.secure = secure
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("repeats", "sampling_steps", "time_features"):
            checks.integer(getattr(self, name), name, owner="DPDiffusion")
        if int(self.time_features) % 2:
            raise ValueError(f"DPDiffusion: time_features must be even (sines and cosines), got {self.time_features}.")
        checks.number(self.numeric_sigma, "numeric_sigma", low=0, low_open=True, owner="DPDiffusion")
        checks.number(self.learning_rate, "learning_rate", low=0, low_open=True, owner="DPDiffusion")

    # -- the network ---------------------------------------------------------------------------
    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        import torch
        from torch import nn

        from privsynth.synthesizers._nets import init_output_bias, init_weights, mlp

        net = mlp([width + int(self.time_features), *(int(h) for h in self.hidden), width])
        init_weights(net, generator)
        init_output_bias(cast(nn.Linear, net[-1]), self.encoder_.blocks, self.encoder_.targets())
        self.denoiser_ = net.to(device)
        self._opt: dict[str, torch.optim.Optimizer] = {"private": torch.optim.Adam(self.denoiser_.parameters(), lr=self.learning_rate)}

    def _after_release(self) -> None:
        """The affine map of encoded records onto ``[-1, 1]`` (one-hot and missing blocks from
        ``{0, 1}``; numbers are there already), fixed once per encoder."""
        self._scale = np.ones(self.encoder_.width, dtype=np.float32)
        self._shift = np.zeros(self.encoder_.width, dtype=np.float32)
        for b in self.encoder_.blocks:
            if b.kind in ("onehot", "missing"):
                self._scale[b.start : b.start + b.width], self._shift[b.start : b.start + b.width] = 2.0, -1.0

    def _signed(self, batch: Any) -> Any:
        """The encoded records scaled to ``[-1, 1]``."""
        if isinstance(batch, np.ndarray):
            return batch * self._scale + self._shift
        return batch * batch.new_tensor(self._scale) + batch.new_tensor(self._shift)

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        import torch

        from privsynth.synthesizers._nets import block_loss

        k, (n, width) = int(self.repeats), batch.shape
        # a record's k noisy copies are one sequence (records x k x features): the clipping sees one record
        clean = self._signed(batch)[:, None, :].expand(n, k, width)
        t = torch.rand((n, k), generator=generator, device=batch.device)
        signal = alpha_bar(t)[:, :, None]
        noise = torch.randn(clean.shape, generator=generator, device=batch.device)
        noisy = signal.sqrt() * clean + (1 - signal).sqrt() * noise
        features = time_features(t.reshape(-1), int(self.time_features)).view(n, k, -1)
        out = module(torch.cat([noisy, features], dim=2))
        target = batch[:, None, :].expand(n, k, width).reshape(n * k, width)
        losses = block_loss(out.reshape(n * k, width), target, self.encoder_.blocks, numeric_sigma=self.numeric_sigma)
        return losses.view(n, k).mean(dim=1)

    # -- sampling (numpy) ----------------------------------------------------------------------------
    def _export_layers(self) -> Any:
        from privsynth.synthesizers._nets import export_layers

        return export_layers(self.denoiser_)

    def _latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((self.encoder_.width, n), dtype=np.float32)

    def _estimate(self, out: np.ndarray) -> np.ndarray:
        """The clean-record estimate in ``[-1, 1]`` from raw outputs (``width x rows``)."""
        x0 = np.empty_like(out)
        for b in self.encoder_.blocks:
            seg = out[b.start : b.start + b.width]
            if b.kind == "onehot":
                e = np.exp(seg - seg.max(axis=0))
                x0[b.start : b.start + b.width] = 2.0 * e / e.sum(axis=0) - 1.0
            elif b.kind == "missing":
                x0[b.start] = np.tanh(seg[0] / 2.0)  # 2 * sigmoid - 1
            else:
                x0[b.start] = np.tanh(seg[0])
        return x0

    def _network(self, latent: np.ndarray, workspace: list[np.ndarray] | None = None) -> np.ndarray:
        """DDIM from noise: ``sampling_steps`` passes of the denoiser; the last pass's raw outputs.
        The time features are the same for every record of a pass, so their share of the first
        layer is folded into its bias (no per-record copy of them)."""
        x = np.asarray(latent, dtype=np.float32)
        steps, width = int(self.sampling_steps), latent.shape[0]  # >= 1 (checked)
        times = np.linspace(1.0, 0.0, steps + 1)
        (w, b, act), rest = self.layers_[0], list(self.layers_[1:])
        w_x, w_t = np.ascontiguousarray(w[:, :width]), w[:, width:]
        for i in range(steps):
            features = time_features(np.array([times[i]]), int(self.time_features))[0].astype(np.float32)
            out = forward_numpy(x, [(w_x, (b + w_t @ features).astype(np.float32), act), *rest], workspace)
            if i + 1 == steps:
                break
            x0 = self._estimate(out)
            a, a_next = float(alpha_bar(np.array(times[i]))), float(alpha_bar(np.array(times[i + 1])))
            eps = (x - math.sqrt(a) * x0) / math.sqrt(1.0 - a)
            x = (math.sqrt(a_next) * x0 + math.sqrt(1.0 - a_next) * eps).astype(np.float32)
        return out
