"""Shared machinery of the DP-SGD synthesizers (``DPVAE``, ``DPGAN``); needs the ``deep`` extra.

Who does what:

* :mod:`~privsynth.synthesizers._dpsgd_plan` -- the plan: every charge, from public parameters;
* :class:`DPSGDSynthesizer` (here) -- parameters, the releases made before training (noisy count,
  quantile transform, model-specific marginals), public state, model files;
* :mod:`~privsynth.synthesizers._dpsgd_train` -- the training loop, one worker or many;
* :mod:`privsynth.mechanisms.dpsgd` -- the private step itself (charge, clip, all-reduce, noise);
* :mod:`~privsynth.synthesizers._checkpoint` -- resumable training state;
* :mod:`~privsynth.synthesizers._ddp` -- data-parallel workers (``devices > 1``).

Subclasses build the networks and give the per-example loss of the privatized module and the
public (post-processing) updates.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain, Numeric
from privsynth.core.rng import PrivateRandomness
from privsynth.mechanisms.counts import noisy_count
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._dpsgd_plan import plan_dpsgd
from privsynth.synthesizers._encoding import TabularEncoder
from privsynth.synthesizers._plan import FitPlan
from privsynth.synthesizers.base import Synthesizer

try:  # the deep extra
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised without torch
    raise ImportError("DPVAE and DPGAN need the 'deep' extra: pip install 'privsynth[deep]' (torch and opacus).") from exc

from privsynth.mechanisms.clipping import ENGINES
from privsynth.mechanisms.dpsgd import resolve_device

__all__ = ["DPSGDSynthesizer", "QUANTILE_SHARE"]

#: Share of epsilon for the DP quantile transform of numeric columns (``numeric="quantile"``).
QUANTILE_SHARE = 0.1
#: Parameters that do not change what a checkpoint resumes.
_OPERATIONAL = ("progress", "checkpoint_every", "device", "devices")


class DPSGDSynthesizer(Synthesizer):
    """Base of the DP-SGD synthesizers (see the module docstring)."""

    supports_checkpoints: ClassVar[bool] = True
    assumptions: ClassVar[tuple[str, ...]] = (
        "only the modules that see records are trained, with DP-SGD; everything else is post-processing",
        "no early stopping or model selection on private data",
    )

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        delta = self.delta
        if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1):
            raise ValueError(f"{type(self).__name__}: delta must be in (0, 1) or None (the public default 1e-5), got {delta!r}.")
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ValueError(f"{type(self).__name__}: epsilon must be a finite number > 0, got {eps!r}.")
        q = self.sampling_rate
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise ValueError(f"{type(self).__name__}: sampling_rate must be in (0, 1], got {q!r}.")
        for name in ("epochs", "max_grad_norm"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"{type(self).__name__}: {name} must be a finite number > 0, got {v!r}.")
        for name in ("max_physical_batch_size", "checkpoint_every", "devices", "bins"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {v!r}.")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}.")
        if self.numeric not in ("minmax", "quantile"):
            raise ValueError(f"numeric must be 'minmax' or 'quantile', got {self.numeric!r}.")
        if not isinstance(self.secure, bool):
            raise ValueError(f"{type(self).__name__}: secure must be True or False.")
        resolve_device(self.device)

    # -- the plan and the releases before training ------------------------------------------------
    def _histograms(self, domain: Domain) -> dict[str, tuple[float, int]]:
        """Histograms released before training: ``name -> (share of epsilon, how many)``."""
        numerics = sum(isinstance(c, Numeric) for c in domain) if self.numeric == "quantile" else 0
        return {"quantile": (QUANTILE_SHARE, numerics)}

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        plan = plan_dpsgd(epsilon=self.epsilon, delta=self.delta, sampling_rate=self.sampling_rate, epochs=self.epochs,
                          accountant=accountant, histograms=self._histograms(domain))
        how = (
            "DP-SGD randomness (secure=True): Poisson batches from OS CSPRNG bits (exact Bernoulli trials at the dyadic "
            "rate); gradient noise: float Gaussian from a torch generator seeded from the OS CSPRNG at every step"
            if self.secure else
            "DP-SGD randomness: Poisson batches from float64 uniforms (numpy PCG64) and float Gaussian gradient noise "
            "(torch), on the fit's private streams"
        )
        return dataclasses.replace(plan, assumptions=(*plan.assumptions, how))

    def _fit(self, data: pd.DataFrame, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        self.domain_ = domain
        if self.devices and self.devices > 1:
            from privsynth.synthesizers._ddp import fit_distributed

            fit_distributed(self, data, domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir)
        else:
            from privsynth.synthesizers._dpsgd_train import train

            train(self, data, domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir)

    def _set_plan_attributes(self, plan: FitPlan) -> None:
        self.sampling_rate_, self.steps_ = float(plan["sampling_rate"]), int(plan["steps"])
        self.noise_multiplier_, self.delta_ = float(plan["noise_multiplier"]), float(plan.delta)

    def _release(self, data: pd.DataFrame, domain: Domain, ledger: Ledger, plan: FitPlan, rng: np.random.Generator) -> None:
        """The DP releases before training (on one worker), each with the plan's noise."""
        self.n_hat_ = noisy_count(data, epsilon=plan["eps_count"], ledger=ledger, rng=rng, secure=self.secure,
                                  label="record count (expected batch size)")
        self.expected_batch_ = max(1.0, plan["sampling_rate"] * self.n_hat_)
        self.encoder_ = TabularEncoder(domain, numeric=self.numeric, bins=self.bins)
        self.encoder_.fit(data, ledger=ledger, rng=rng, noise=plan["histograms"].get("quantile", []), secure=self.secure)
        self._extra_releases(data, ledger, plan, rng)

    def _public_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What the releases before training made public (restored on resume and on other workers)."""
        enc_state, enc_arrays = self.encoder_.state()
        state = {"n_hat": int(self.n_hat_), "expected_batch": float(self.expected_batch_), "encoder": enc_state,
                 "extra": self._extra_state()}
        return state, enc_arrays

    def _restore_public_state(self, domain: Domain, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.n_hat_, self.expected_batch_ = int(state["n_hat"]), float(state["expected_batch"])
        self.encoder_ = TabularEncoder.restore(domain, dict(state["encoder"]), dict(arrays))
        self._restore_extra_state(state["extra"])

    def _config_key(self, domain: Domain) -> str:
        """What a checkpoint must match to be resumed (public parameters and the domain)."""
        params = {k: v for k, v in self.public_params().items() if k not in _OPERATIONAL}
        return json.dumps({"params": params, "domain": domain.fingerprint(), "class": type(self).__name__}, sort_keys=True)

    # -- hooks for subclasses ------------------------------------------------------------------
    def _extra_releases(self, data: pd.DataFrame, ledger: Ledger, plan: FitPlan, rng: np.random.Generator) -> None:
        """Model-specific DP releases before training (planned in :meth:`_histograms`)."""

    def _extra_state(self) -> dict:
        return {}

    def _restore_extra_state(self, state: Mapping[str, Any]) -> None:
        pass

    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        """Create the networks (initialised from ``generator``) and their optimizers."""
        raise NotImplementedError

    def _private_module(self) -> nn.Module:
        raise NotImplementedError

    def _per_sample_loss(self, module: nn.Module, batch: torch.Tensor, n_public: int, *, generator: torch.Generator) -> torch.Tensor:
        """One loss per real record of ``batch``, then one per public example (``n_public``), from
        one forward of ``module``; ``generator`` is private randomness for the loss."""
        raise NotImplementedError

    def _public_examples(self) -> int:
        """Public examples per step in the privatized loss (a fixed number: e.g. the GAN's fakes)."""
        return 0

    def _after_private_step(self, generator: torch.Generator) -> None:
        """Post-processing updates after each DP step (the GAN's generator)."""

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def _modules_for_state(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    # -- persistence (model files) -------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        public, public_arrays = self._public_state()
        arrays = {f"enc::{k}": v for k, v in public_arrays.items()}
        for name, module in self._modules_for_state().items():
            for k, v in module.state_dict().items():
                arrays[f"{name}::{k}"] = v.detach().cpu().numpy()
        plan = {"sampling_rate": self.sampling_rate_, "steps": self.steps_, "noise_multiplier": self.noise_multiplier_,
                "delta": self.delta_}
        return {"public": public, "plan": plan, "width": self.encoder_.width, "engine": self.engine_}, arrays

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self._restore_public_state(self.domain_, state["public"], {k[5:]: v for k, v in arrays.items() if k.startswith("enc::")})
        plan = state["plan"]
        self.sampling_rate_, self.steps_ = float(plan["sampling_rate"]), int(plan["steps"])
        self.noise_multiplier_, self.delta_ = float(plan["noise_multiplier"]), float(plan["delta"])
        self.engine_ = state["engine"]
        self._build(int(state["width"]), torch.device("cpu"), torch.Generator())
        for name, module in self._modules_for_state().items():
            module.load_state_dict({k.split("::", 1)[1]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith(f"{name}::")})
