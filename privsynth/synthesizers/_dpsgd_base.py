"""Shared machinery of the DP-SGD synthesizers (``DPVAE``, ``DPGAN``); training needs the ``deep``
extra (torch, imported when a fit starts), sampling a fitted model numpy only.

Who does what:

* :mod:`~privsynth.synthesizers._dpsgd_plan` -- the plan: every charge, from public parameters;
* :class:`DPSGDSynthesizer` (here) -- parameters, the releases made before training (a noisy
  count and the DP 1-way marginals, which start the output layer, feed the quantile transform
  and the GAN's conditional vector, and calibrate the samples), public state, sampling in numpy,
  model files;
* :mod:`~privsynth.synthesizers._calibration` -- the outputs tilted onto the DP marginals;
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
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping

import numpy as np
import pandas as pd

from privsynth.core import checks
from privsynth.core.domain import Domain
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import FrameTable, Table
from privsynth.mechanisms._common import ENGINES
from privsynth.mechanisms.counts import noisy_count, noisy_counts
from privsynth.privacy.accountants import Accountant
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._calibration import Calibration, fit_calibration
from privsynth.synthesizers._discrete import normalize_counts
from privsynth.synthesizers._dpsgd_plan import plan_dpsgd
from privsynth.synthesizers._encoding import TabularEncoder
from privsynth.synthesizers._numpy_net import forward_numpy, layers_from_arrays, layers_to_arrays, one_blas_thread
from privsynth.synthesizers._plan import FitPlan
from privsynth.synthesizers._public_domain import domain_prior
from privsynth.synthesizers.base import Synthesizer

if TYPE_CHECKING:  # training needs the deep extra; sampling a fitted model needs numpy only
    import torch
    from torch import nn

__all__ = ["DPSGDSynthesizer", "require_torch"]


def require_torch(owner: str) -> None:
    """Training needs torch and opacus (the ``deep`` extra); sampling a fitted model does not.

    Raises:
        ImportError: torch is not installed, with the command that installs it.
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"Fitting {owner} needs the 'deep' extra: pip install 'privsynth[deep]' (torch and opacus). "
                          "Sampling, saving and loading a fitted model need numpy only.") from exc

#: Latent draws used to fit the calibration (post-processing).
_CALIBRATION_POOL = 20_000
#: Rows generated per numpy forward pass when sampling (best of 5 x 1M DPVAE rows on a 2-core CPU:
#: 8192 -> 319-353k rows/s, 32768 -> 353-357k, 65536 -> 388-459k).
_CHUNK = 65_536
#: Parameters that do not change what a checkpoint resumes.
_OPERATIONAL = ("progress", "checkpoint_every", "device", "devices")


class DPSGDSynthesizer(Synthesizer):
    """Base of the DP-SGD synthesizers (see the module docstring)."""

    supports_checkpoints: ClassVar[bool] = True

    delta: float | None  # type: ignore[assignment]  # None: the public default
    epochs: float
    sampling_rate: float
    max_grad_norm: float
    marginal_share: float
    calibrate: bool
    numeric: str
    onehot_limit: int
    bins: int
    engine: str
    max_physical_batch_size: int | None
    device: str
    devices: int
    checkpoint_every: int
    progress: bool | None
    assumptions: ClassVar[tuple[str, ...]] = (
        "only the modules that see records are trained, with DP-SGD; everything else is post-processing",
        "no early stopping or model selection on private data",
    )

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        owner = type(self).__name__
        checks.number(self.epsilon, "epsilon", low=0, low_open=True, owner=owner)
        checks.number(self.delta, "delta (None: the public default 1e-5)", low=0, high=1, low_open=True, high_open=True, none=True,
                      owner=owner)
        checks.number(self.sampling_rate, "sampling_rate", low=0, high=1, low_open=True, owner=owner)
        checks.number(self.marginal_share, "marginal_share", low=0, high=0.9, low_open=True, high_open=True, owner=owner)
        for name in ("epochs", "max_grad_norm"):
            checks.number(getattr(self, name), name, low=0, low_open=True, owner=owner)
        for name in ("checkpoint_every", "devices", "bins"):
            checks.integer(getattr(self, name), name, owner=owner)
        checks.integer(self.max_physical_batch_size, "max_physical_batch_size", none=True, owner=owner)
        checks.choice(self.engine, "engine", ENGINES, owner=owner)
        self._check_encoding_params()
        checks.flag(self.calibrate, "calibrate", owner=owner)
        checks.flag(self.secure, "secure", owner=owner)
        require_torch(owner)
        from privsynth.mechanisms.dpsgd import resolve_device

        resolve_device(self.device)

    def _check_encoding_params(self) -> None:
        """The parameters of the records' encoding (:meth:`_make_encoder`): the one-hot encoder's here."""
        owner = type(self).__name__
        checks.integer(self.onehot_limit, "onehot_limit", owner=owner)
        checks.choice(self.numeric, "numeric", ("minmax", "quantile"), owner=owner)

    # -- the plan and the releases before training ------------------------------------------------
    def _histograms(self, domain: Domain) -> dict[str, tuple[float, int]]:
        """Histograms released before training: ``name -> (share of epsilon, how many)``."""
        return {"marginals": (float(self.marginal_share), len(domain))}

    def _plan(self, domain: Domain, accountant: Accountant) -> FitPlan:
        # a DP domain's charges come first on the fit's ledger: the noise is calibrated after them
        plan = plan_dpsgd(epsilon=self.epsilon, delta=self.delta, sampling_rate=self.sampling_rate, epochs=self.epochs,
                          accountant=accountant, histograms=self._histograms(domain), **domain_prior(domain))
        how = (
            "DP-SGD randomness (secure=True): Poisson batches from OS CSPRNG bits (exact Bernoulli trials at the dyadic "
            "rate); gradient noise: float Gaussian from a torch generator seeded from the OS CSPRNG at every step"
            if self.secure else
            "DP-SGD randomness: Poisson batches from float64 uniforms (numpy PCG64) and float Gaussian gradient noise "
            "(torch), on the fit's private streams"
        )
        return dataclasses.replace(plan, assumptions=(*plan.assumptions, how))

    def _fit(self, data: Any, domain: Domain, *, ledger: Ledger, plan: FitPlan, randomness: PrivateRandomness,
             checkpoint_dir: Any = None) -> None:
        self.domain_ = domain
        if self.devices and self.devices > 1:  # the workers get the records in memory, every world-th each
            from privsynth.synthesizers._ddp import fit_distributed

            fit_distributed(self, data.to_frame(), domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir)
        else:
            from privsynth.synthesizers._dpsgd_train import train

            train(self, data, domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir)
        if self.calibrate:  # post-processing: the trained network and the DP marginals only
            self._calibrate(randomness.generator("public"))

    def _calibrate(self, rng: np.random.Generator) -> None:
        """Fit the calibration on a pool of generated outputs (post-processing)."""
        pool = self._raw_outputs(_CALIBRATION_POOL, rng)
        self.calibration_ = fit_calibration(pool.T, self.encoder_.blocks, self.encoder_.targets())

    def _set_plan_attributes(self, plan: FitPlan) -> None:
        self.sampling_rate_, self.steps_ = float(plan["sampling_rate"]), int(plan["steps"])
        self.noise_multiplier_, self.delta_ = float(plan["noise_multiplier"]), float(plan.delta)

    def _release(self, data: pd.DataFrame | Table, domain: Domain, ledger: Ledger, plan: FitPlan, rng: np.random.Generator) -> None:
        """The DP releases before training (on one worker), each with the plan's noise; counted
        in the table's engine."""
        table = data if isinstance(data, Table) else FrameTable(data, domain)
        self.n_hat_ = noisy_count(table, epsilon=plan["eps_count"], ledger=ledger, rng=rng, secure=self.secure,
                                  label="record count (expected batch size)")
        self.expected_batch_ = max(1.0, plan["sampling_rate"] * self.n_hat_)
        counts = table.marginals([(j,) for j in range(len(domain))], bins=self.bins)
        self.marginals_ = [
            normalize_counts(noisy_counts(counts[j], ledger=ledger, rng=rng, secure=self.secure,
                                          label=f"1-way marginal of {name!r}", **noise))
            for j, (name, noise) in enumerate(zip(domain.names, plan["histograms"]["marginals"]))
        ]
        self.encoder_ = self._make_encoder(domain)
        self._after_release()

    def _make_encoder(self, domain: Domain, state: Mapping[str, Any] | None = None) -> Any:
        """The records' encoding for the network, from the released marginals (or a stored state)."""
        if state is not None:
            return TabularEncoder.restore(domain, dict(state), self.marginals_)
        return TabularEncoder(domain, numeric=self.numeric, bins=self.bins, marginals=self.marginals_, onehot_limit=self.onehot_limit)

    def _public_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What the releases before training made public (restored on resume and on other workers)."""
        state = {"n_hat": int(self.n_hat_), "expected_batch": float(self.expected_batch_), "encoder": self.encoder_.state(),
                 "n_marginals": len(self.marginals_)}
        return state, {f"marginal_{j}": m for j, m in enumerate(self.marginals_)}

    def _restore_public_state(self, domain: Domain, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.n_hat_, self.expected_batch_ = int(state["n_hat"]), float(state["expected_batch"])
        self.marginals_ = [np.asarray(arrays[f"marginal_{j}"], dtype=float) for j in range(int(state["n_marginals"]))]
        self.encoder_ = self._make_encoder(domain, state["encoder"])
        self._after_release()

    def _config_key(self, domain: Domain) -> str:
        """What a checkpoint must match to be resumed (public parameters and the domain)."""
        params = {k: v for k, v in self.public_params().items() if k not in _OPERATIONAL}
        return json.dumps({"params": params, "domain": domain.fingerprint(), "class": type(self).__name__}, sort_keys=True)

    # -- hooks for subclasses ------------------------------------------------------------------
    def _after_release(self) -> None:
        """Derive model-specific public state from the released marginals (the GAN's condition)."""

    def _build(self, width: int, device: torch.device, generator: torch.Generator) -> None:
        """Create the networks (initialised from ``generator``) and their optimizers."""
        raise NotImplementedError

    #: Attribute holding the module trained with DP-SGD (the one that sees real records).
    _private_attribute: str = ""
    #: Checkpoint name -> attribute of each module whose state a checkpoint keeps.
    _state_attributes: dict[str, str] = {}
    #: The optimizers ``_build`` makes, by name.
    _opt: dict[str, torch.optim.Optimizer]
    #: Threads running the sampling network ahead of the decoding (one where a chunk's forward
    #: pass costs about what its decoding does; more where the network dominates).
    _network_workers: int = 1

    def _private_module(self) -> nn.Module:
        return getattr(self, self._private_attribute)

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
        """The optimizers ``_build`` made (``self._opt``): ``"private"`` steps the private module."""
        return self._opt

    def _modules_for_state(self) -> dict[str, nn.Module]:
        return {name: getattr(self, attribute) for name, attribute in self._state_attributes.items()}

    def _export_layers(self) -> Any:
        """The sampling network (decoder, generator) as numpy layers (:data:`Layers` for the MLPs)."""
        raise NotImplementedError

    def _latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The sampling network's input for ``n`` records, ``features x n`` (public randomness)."""
        raise NotImplementedError

    # -- sampling (numpy only) -------------------------------------------------------------------
    def _raw_outputs(self, n: int, rng: np.random.Generator, workspace: list[np.ndarray] | None = None) -> np.ndarray:
        """The sampling network's outputs before activation, ``width x n`` (in ``workspace``'s
        buffer when given: overwritten by the next call)."""
        return self._network(self._latent(n, rng), workspace)

    def _network(self, latent: np.ndarray, workspace: list[np.ndarray] | None = None) -> np.ndarray:
        """From the latent input to the raw outputs, with no randomness (it runs in a worker
        thread while the previous chunk is decoded): the MLP's forward pass, or a chain of them."""
        return forward_numpy(latent, self.layers_, workspace)

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Chunks of ``_CHUNK`` rows. With several chunks the forward passes of the next
        ``_network_workers`` chunks run in worker threads (BLAS on one thread each) while chunk
        ``k`` is decoded, so the work spreads over the cores. ``rng`` is used in a fixed order --
        the latents of every chunk submitted ahead, then the decoding of chunk ``k`` -- so a public
        seed still fixes every row."""
        sizes = [_CHUNK] * (n // _CHUNK) + ([n % _CHUNK] if n % _CHUNK or n == 0 else [])
        if len(sizes) == 1:
            return self.encoder_.decode([self._raw_outputs(sizes[0], rng)], rng, self.calibration_)
        with one_blas_thread():
            return self.encoder_.decode(self._pipelined_outputs(sizes, rng), rng, self.calibration_)

    def _pipelined_outputs(self, sizes: list[int], rng: np.random.Generator) -> Iterator[np.ndarray]:
        """The network's outputs chunk by chunk, chunk ``k + 1 .. k + ahead`` computed while chunk
        ``k`` is decoded (``ahead + 1`` buffers in turn: a chunk is decoded before its buffer is
        written again). Chunk ``j``'s latents are drawn when it is submitted: chunks ``0 .. ahead - 1``
        first, then chunk ``k + ahead`` before chunk ``k`` is decoded."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        ahead = int(self._network_workers)
        workspaces: list[list[np.ndarray]] = [[] for _ in range(ahead + 1)]
        with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="privsynth-forward") as pool:
            pending = deque(pool.submit(self._network, self._latent(sizes[j], rng), workspaces[j])
                            for j in range(min(ahead, len(sizes))))
            for k in range(len(sizes)):
                j = k + ahead
                if j < len(sizes):
                    pending.append(pool.submit(self._network, self._latent(sizes[j], rng), workspaces[j % (ahead + 1)]))
                yield pending.popleft().result()

    # -- persistence (model files) -------------------------------------------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        public, arrays = self._public_state()
        network, weights = self._network_state()
        plan = {"sampling_rate": self.sampling_rate_, "steps": self.steps_, "noise_multiplier": self.noise_multiplier_,
                "delta": self.delta_}
        return {"public": public, "plan": plan, **network, "engine": self.engine_}, {**arrays, **weights}

    def _network_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The sampling network and its calibration in a model file."""
        activations, weights = layers_to_arrays("net", self.layers_)
        return {"activations": activations}, {**weights, **self.calibration_.to_arrays()}

    def _restore(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self._restore_public_state(self.domain_, state["public"], arrays)
        plan = state["plan"]
        self.sampling_rate_, self.steps_ = float(plan["sampling_rate"]), int(plan["steps"])
        self.noise_multiplier_, self.delta_ = float(plan["noise_multiplier"]), float(plan["delta"])
        self.engine_ = state["engine"]
        self._restore_network(state, arrays)

    def _restore_network(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.layers_ = layers_from_arrays("net", state["activations"], arrays)
        self.calibration_ = Calibration.from_arrays(dict(arrays))
