"""Shared machinery of the DP-SGD synthesizers (``DPVAE``, ``DPGAN``); needs the ``deep`` extra.

A fit spends, in this order, each through the ledger:

1. a noisy record count (1% of epsilon): the sampling rate ``q = batch_size / n_hat`` and the
   default ``delta = min(1e-5, 1 / (10 n_hat))`` are post-processing of it;
2. optionally DP histograms for the quantile transform of numeric columns, and the model's own
   extra releases (the GAN's conditional marginal);
3. ``steps`` DP-SGD steps with a noise multiplier calibrated *before* training so that
   everything composes to at most ``(epsilon, delta)``; every step is charged to the ledger
   before it runs (consecutive steps are coalesced into one entry), so training can never
   overspend.

Batches are Poisson-sampled by Opacus's ``UniformWithReplacementSampler`` (the sampling the
accountant assumes), split into physical chunks of ``max_physical_batch_size`` if needed, and
clipped per sample by book-keeping clipping (or Opacus's hooks for other layer types); one noise
draw per logical step. ``fit(..., checkpoint_dir=...)`` saves model, optimizer, RNG and ledger
state every ``checkpoint_every`` steps and resumes from it, without re-spending or losing spend.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from privsynth.core.dataset import validate
from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, PrivsynthError
from privsynth.core.rng import derive_seed, resolve_rng
from privsynth.mechanisms.counts import noisy_count
from privsynth.privacy.budget import Budget
from privsynth.privacy.calibrate import dpsgd_noise_multiplier, split_epsilon
from privsynth.privacy.events import SubsampledGaussianEvent
from privsynth.privacy.ledger import Ledger, LedgerEntry
from privsynth.synthesizers._encoding import TabularEncoder
from privsynth.synthesizers.base import Synthesizer, _json_safe

try:  # the deep extra
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised without torch
    raise ImportError("DPVAE and DPGAN need the 'deep' extra: pip install 'privsynth[deep]' (torch and opacus).") from exc

from privsynth.mechanisms.dpsgd import Bookkeeper, add_noise, bookkeeping_supported, check_module, opacus_clipped_sum, resolve_device

__all__ = ["DPSGDSynthesizer"]

_COUNT_SHARE = 0.01
_CHECKPOINT = "checkpoint.pt"


class DPSGDSynthesizer(Synthesizer):
    """Base of the DP-SGD synthesizers (see the module docstring). Subclasses build the
    networks, the per-sample loss of the privatized model and the public (post-processing)
    updates."""

    assumptions: ClassVar[tuple[str, ...]] = (
        "DP-SGD: Poisson sampling at the recorded sampling rate (Opacus UniformWithReplacementSampler)",
        "per-sample gradients clipped to max_grad_norm (L2) and one Gaussian noise draw of std "
        "noise_multiplier * max_grad_norm per step on the clipped sum",
        "no early stopping or model selection on private data",
    )
    _extra_share: ClassVar[float] = 0.0  # budget share of model-specific releases (e.g. the GAN's conditional)

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        delta = self.delta
        if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1):
            raise ValueError(f"{type(self).__name__}: delta must be in (0, 1) or None (automatic), got {delta!r}.")
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"{type(self).__name__}: epsilon must be a finite number > 0, got {eps!r}.")
        for name in ("epochs", "batch_size", "max_physical_batch_size", "checkpoint_every", "devices", "bins"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {v!r}.")
        if not (isinstance(self.max_grad_norm, (int, float)) and self.max_grad_norm > 0):
            raise ValueError(f"{type(self).__name__}: max_grad_norm must be > 0, got {self.max_grad_norm!r}.")
        if self.engine not in ("auto", "bookkeeping", "opacus"):
            raise ValueError(f"engine must be 'auto', 'bookkeeping' or 'opacus', got {self.engine!r}.")
        if self.numeric not in ("minmax", "quantile"):
            raise ValueError(f"numeric must be 'minmax' or 'quantile', got {self.numeric!r}.")
        resolve_device(self.device)

    # -- hooks for subclasses ------------------------------------------------------------------
    def _build(self, width: int, device: torch.device, torch_gen: torch.Generator) -> None:
        raise NotImplementedError

    def _private_module(self) -> nn.Module:
        raise NotImplementedError

    def _per_sample_loss(self, batch: torch.Tensor, module: nn.Module, *, n_public: int = 0) -> torch.Tensor:
        """One loss per real record of ``batch`` (then one per public example, if the model uses
        ``n_public`` of them), from one forward of ``module``."""
        raise NotImplementedError

    def _after_private_step(self) -> None:
        """Post-processing updates after each DP step (the GAN's generator)."""

    def _extra_releases(self, data: pd.DataFrame, ledger: Ledger, rng: np.random.Generator, epsilon: float) -> None:
        """Model-specific DP releases before training (charged)."""

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, domain: Domain, *, ledger: Ledger | None = None,
            checkpoint_dir: str | os.PathLike | None = None) -> "DPSGDSynthesizer":
        """Fit with DP-SGD; see :meth:`Synthesizer.fit`.

        Args:
            checkpoint_dir: Save training state there every ``checkpoint_every`` steps and resume
                from it when it holds a checkpoint of the same configuration (the data must be
                the same; nothing derived from the data is stored but DP outputs).
        """
        self._check_params()
        checked = validate(data, domain)
        if len(checked) == 0:
            raise DomainError("Cannot fit on an empty table; pass at least one record.")
        if ledger is not None and checkpoint_dir is not None:
            raise ValueError("checkpoint_dir works with the synthesizer's own ledger; do not pass a shared ledger too.")
        if self.devices and self.devices > 1:
            from privsynth.synthesizers._ddp import fit_distributed

            return fit_distributed(self, checked, domain, checkpoint_dir=checkpoint_dir)
        return self._fit_process(checked, domain, ledger=ledger, checkpoint_dir=checkpoint_dir)

    def _fit(self, data: pd.DataFrame, domain: Domain, *, ledger: Ledger, rng: np.random.Generator) -> None:
        """Fitting goes through :meth:`fit` (which resolves ``delta`` from the noisy count
        before the ledger exists); this hook trains on a given ledger."""
        self._fit_process(data, domain, ledger=ledger, checkpoint_dir=None)

    def _fit_process(self, checked: pd.DataFrame, domain: Domain, *, ledger: Ledger | None, checkpoint_dir: Any,
                     rank: int = 0, world: int = 1, shard: np.ndarray | None = None) -> "DPSGDSynthesizer":
        device = resolve_device(self.device if world == 1 else (f"cuda:{rank}" if self.device.startswith("cuda") else "cpu"))
        ckpt_path = Path(checkpoint_dir) / _CHECKPOINT if checkpoint_dir is not None else None
        state = self._load_checkpoint(ckpt_path, domain) if ckpt_path is not None and ckpt_path.is_file() else None
        rng = resolve_rng(self.random_state)
        seed = derive_seed(rng)
        torch_gen = torch.Generator(device="cpu").manual_seed(seed)
        sampler_gen = torch.Generator(device="cpu").manual_seed(seed + 1 + rank)
        noise_gen = None if self.secure_mode else torch.Generator(device=device).manual_seed(seed + 7)
        self._loss_gen = torch.Generator(device="cpu").manual_seed(seed + 100 + rank)  # per-rank randomness inside losses

        if state is None:
            own = ledger is None
            pre = Ledger(Budget(epsilon=self.epsilon), accountant=self.accountant) if own else ledger
            start = len(pre.entries)
            eps_count, eps_rest = split_epsilon(self.epsilon, [_COUNT_SHARE, 1 - _COUNT_SHARE])
            self.n_hat_ = noisy_count(checked, epsilon=eps_count, ledger=pre, rng=rng, secure=self.secure, label="record count (sampling rate)")
            self.delta_ = float(self.delta) if self.delta is not None else min(1e-5, 1.0 / (10.0 * max(self.n_hat_, 1)))
            if own:
                ledger = Ledger.restore(Budget(epsilon=self.epsilon, delta=self.delta_), pre.entries, accountant=self.accountant)
            elif ledger.budget.delta < self.delta_:
                raise ValueError(f"The shared ledger's delta ({ledger.budget.delta:g}) is below this synthesizer's ({self.delta_:g}).")
            shares = [s for s in (0.1 if self.numeric == "quantile" else 0.0, self._extra_share) if s > 0]
            eps_pre = split_epsilon(eps_rest, [*shares, 1 - sum(shares)])[:-1] if shares else ()
            self.encoder_ = TabularEncoder(domain, numeric=self.numeric, bins=self.bins)
            it = iter(eps_pre)
            if self.numeric == "quantile":
                self.encoder_.fit(checked, ledger=ledger, rng=rng, epsilon=next(it), secure=self.secure)
            if self._extra_share:
                self._extra_releases(checked, ledger, rng, next(it))
            self.sampling_rate_ = min(1.0, self.batch_size / max(self.n_hat_, 1))
            self.steps_ = max(1, math.ceil(self.epochs / self.sampling_rate_))
            mine = [e.event for e in ledger.entries[start:]]
            self.noise_multiplier_ = dpsgd_noise_multiplier(epsilon=self.epsilon, delta=self.delta_, sampling_rate=self.sampling_rate_,
                                                            steps=self.steps_, accountant=ledger.accountant, already_spent=mine)
            self._build(self.encoder_.width, device, torch_gen)
            step = 0
        else:
            ledger = self._restore_checkpoint(state, domain, device, torch_gen, sampler_gen, noise_gen, rng)
            step = int(state["step"])

        module = self._private_module()
        check_module(module)
        engine = self.engine if self.engine != "auto" else ("bookkeeping" if bookkeeping_supported(module) else "opacus")
        keeper = Bookkeeper(module) if engine == "bookkeeping" else None
        gsm = None
        if engine == "opacus":
            from opacus import GradSampleModule

            gsm = GradSampleModule(module, loss_reduction="sum")  # per-sample losses are summed
        self.engine_ = engine

        x = torch.as_tensor(self.encoder_.transform(checked), device=device)
        if shard is not None:
            x = x[torch.as_tensor(shard, device=device)]
        from opacus.utils.uniform_sampler import UniformWithReplacementSampler

        # kept local: the sampler knows the exact record count, which the fitted model must not hold
        sampler = UniformWithReplacementSampler(num_samples=len(x), sample_rate=self.sampling_rate_, generator=sampler_gen)
        self.sampling_ = type(sampler).__name__
        event = SubsampledGaussianEvent(noise_multiplier=self.noise_multiplier_, sampling_rate=self.sampling_rate_, steps=1)
        optimizer = self._optimizers()["private"]
        from tqdm.auto import tqdm

        bar = tqdm(total=self.steps_, initial=step, desc=type(self).__name__, unit="step",
                   disable=(None if self.progress is None else not self.progress) if rank == 0 else True)
        while step < self.steps_:
            for indices in sampler:
                if rank == 0:
                    ledger.charge(event, label="DP-SGD steps", coalesce=True)
                optimizer.zero_grad(set_to_none=True)
                idx = torch.as_tensor(indices, dtype=torch.long, device=device)
                sums = self._clipped_sums(x, idx, module, keeper, gsm)
                if world > 1:
                    import torch.distributed as dist

                    for s in sums.values():
                        dist.all_reduce(s, op=dist.ReduceOp.SUM)  # the global clipped sum, on every rank
                    add_noise(sums, self.noise_multiplier_ * self.max_grad_norm, float(self.batch_size), noise_gen)
                    for p in sums:
                        dist.broadcast(p.grad, src=0)  # rank 0's noise draw: one draw per logical step
                else:
                    add_noise(sums, self.noise_multiplier_ * self.max_grad_norm, float(self.batch_size), noise_gen)
                optimizer.step()
                self._after_private_step()
                step += 1
                bar.update(1)
                if rank == 0:
                    bar.set_postfix(epoch=f"{step * self.sampling_rate_:.1f}", epsilon=f"{ledger.spent().epsilon:.3f}")
                hook = getattr(self, "_on_step", None)
                if hook is not None:
                    hook(step)
                if ckpt_path is not None and rank == 0 and (step % self.checkpoint_every == 0 or step == self.steps_):
                    self._save_checkpoint(ckpt_path, step, ledger, rng, torch_gen, sampler_gen, noise_gen, domain)
                if step >= self.steps_:
                    break
        bar.close()
        self._certify(ledger, domain, rng, parameters={
            "resolved_delta": self.delta_, "sampling_rate": self.sampling_rate_, "steps": self.steps_,
            "noise_multiplier": self.noise_multiplier_, "max_grad_norm": self.max_grad_norm},
            assumptions=(f"sampling rate {self.sampling_rate_:.6g}, {self.steps_} steps, noise multiplier "
                         f"{self.noise_multiplier_:.6g}, clipping norm {self.max_grad_norm}, engine {engine}",))
        return self

    def _clipped_sums(self, x: torch.Tensor, idx: torch.Tensor, module: nn.Module, keeper: Bookkeeper | None, gsm: Any) -> dict:
        """Per-example clipped gradient sum of one logical step, in physical chunks.

        The first chunk also carries the step's public examples (``batch_size`` of them, a fixed
        number, e.g. the GAN's fakes), so that how many there are never depends on the data: one
        record then moves the sum by at most ``max_grad_norm``.
        """
        chunk = self.max_physical_batch_size or max(len(idx), 1)
        parts = torch.split(idx, chunk) if len(idx) else (idx,)
        sums = {p: torch.zeros_like(p) for p in module.parameters() if p.requires_grad}
        for i, part in enumerate(parts):
            n_public = int(self.batch_size) if i == 0 else 0
            if keeper is not None:
                with keeper.recording():
                    losses = self._per_sample_loss(x[part], module, n_public=n_public)
                if losses.numel():
                    keeper.accumulate_clipped(losses, self.max_grad_norm)
            else:
                losses = self._per_sample_loss(x[part], gsm, n_public=n_public)
                if losses.numel():
                    for p, s in opacus_clipped_sum(gsm, losses, self.max_grad_norm).items():
                        sums[p] += s
        if keeper is not None:
            for p, s in keeper.sums.items():
                sums[p] += s
                s.zero_()
        return sums

    # -- checkpoints ---------------------------------------------------------------------------
    def _config_key(self, domain: Domain) -> str:
        params = {k: v for k, v in _json_safe(self.get_params()).items() if k not in ("progress", "checkpoint_every")}
        return json.dumps({"params": params, "domain": domain.fingerprint(), "class": type(self).__name__}, sort_keys=True)

    def _save_checkpoint(self, path: Path, step: int, ledger: Ledger, rng: np.random.Generator, torch_gen: torch.Generator,
                         sampler_gen: torch.Generator, noise_gen: torch.Generator | None, domain: Domain) -> None:
        enc_state, enc_arrays = self.encoder_.state()
        state = {
            "config": self._config_key(domain), "step": step, "ledger": json.dumps([e.to_dict() for e in ledger.entries]),
            "budget": json.dumps(ledger.budget.to_dict()), "n_hat": int(self.n_hat_), "delta": float(self.delta_),
            "sampling_rate": float(self.sampling_rate_), "steps": int(self.steps_), "noise_multiplier": float(self.noise_multiplier_),
            "numpy_rng": json.dumps(rng.bit_generator.state), "torch_gen": torch_gen.get_state(), "sampler_gen": sampler_gen.get_state(),
            "noise_gen": noise_gen.get_state() if noise_gen is not None else torch.zeros(0, dtype=torch.uint8),
            "loss_gen": self._loss_gen.get_state(),
            "encoder": json.dumps(enc_state), "encoder_arrays": {k: torch.as_tensor(v) for k, v in enc_arrays.items()},
            "extra": json.dumps(self._extra_state()),
            "modules": {k: m.state_dict() for k, m in self._modules_for_state().items()},
            "optimizers": {k: o.state_dict() for k, o in self._optimizers().items()},
        }
        tmp = path.with_suffix(".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _load_checkpoint(self, path: Path, domain: Domain) -> dict:
        state = torch.load(path, weights_only=True, map_location="cpu")
        if state.get("config") != self._config_key(domain):
            raise PrivsynthError(f"The checkpoint in {str(path.parent)!r} was written by a different configuration or domain; "
                                 "use a new checkpoint_dir (or delete it) to start over.")
        return state

    def _restore_checkpoint(self, state: dict, domain: Domain, device: torch.device, torch_gen: torch.Generator,
                            sampler_gen: torch.Generator, noise_gen: torch.Generator | None, rng: np.random.Generator) -> Ledger:
        self.n_hat_, self.delta_ = int(state["n_hat"]), float(state["delta"])
        self.sampling_rate_, self.steps_ = float(state["sampling_rate"]), int(state["steps"])
        self.noise_multiplier_ = float(state["noise_multiplier"])
        self.encoder_ = TabularEncoder.restore(domain, json.loads(state["encoder"]), {k: v.numpy() for k, v in state["encoder_arrays"].items()})
        self._restore_extra_state(json.loads(state["extra"]))
        self._build(self.encoder_.width, device, torch_gen)
        for k, m in self._modules_for_state().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self._optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch_gen.set_state(state["torch_gen"])
        sampler_gen.set_state(state["sampler_gen"])
        if noise_gen is not None and state["noise_gen"].numel():
            noise_gen.set_state(state["noise_gen"])
        self._loss_gen.set_state(state["loss_gen"])
        entries = [LedgerEntry.from_dict(e) for e in json.loads(state["ledger"])]
        return Ledger.restore(Budget.from_dict(json.loads(state["budget"])), entries, accountant=self.accountant)

    def _extra_state(self) -> dict:
        return {}

    def _restore_extra_state(self, state: Mapping[str, Any]) -> None:
        pass

    def _modules_for_state(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    # -- persistence (model files) -------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        enc_state, enc_arrays = self.encoder_.state()
        arrays = {f"enc::{k}": v for k, v in enc_arrays.items()}
        for name, module in self._modules_for_state().items():
            for k, v in module.state_dict().items():
                arrays[f"{name}::{k}"] = v.detach().cpu().numpy()
        state = {"encoder": enc_state, "n_hat": int(self.n_hat_), "delta": self.delta_, "sampling_rate": self.sampling_rate_,
                 "steps": self.steps_, "noise_multiplier": self.noise_multiplier_, "width": self.encoder_.width,
                 "extra": self._extra_state(), "engine": self.engine_}
        return state, arrays

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.n_hat_, self.delta_ = int(state["n_hat"]), state["delta"]
        self.sampling_rate_, self.steps_ = state["sampling_rate"], state["steps"]
        self.noise_multiplier_, self.engine_ = state["noise_multiplier"], state["engine"]
        self._restore_extra_state(state["extra"])
        self._pending_arrays = dict(arrays)
        self._pending_state = dict(state)

    def _ensure_built(self) -> None:
        if getattr(self, "_pending_arrays", None) is None:
            return
        arrays, state = self._pending_arrays, self._pending_state
        self.encoder_ = TabularEncoder.restore(self.domain_, state["encoder"], {k[5:]: v for k, v in arrays.items() if k.startswith("enc::")})
        self._build(int(state["width"]), torch.device("cpu"), torch.Generator().manual_seed(0))
        for name, module in self._modules_for_state().items():
            module.load_state_dict({k.split("::", 1)[1]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith(f"{name}::")})
        self._pending_arrays = None
