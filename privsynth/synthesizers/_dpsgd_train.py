"""The DP-SGD training loop of one worker (of ``world``; rank 0 alone charges and draws noise).

Each step Poisson-samples this worker's shard at the plan's rate with its own private stream,
and takes one private step (:func:`privsynth.mechanisms.dpsgd.dp_sgd_step`); the parameter update
and the GAN's generator update are post-processing. Every private draw comes from a stream named
by what it is for and the step (:class:`~privsynth.core.rng.PrivateRandomness`), so a resumed fit
needs no stored generator state; ``secure=True`` takes the batch's bits and each step's noise
seed straight from the OS CSPRNG.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch

from privsynth.core.domain import Domain
from privsynth.core.progress import progress
from privsynth.core.rng import PrivateRandomness
from privsynth.data.table import FrameTable, Table
from privsynth.mechanisms.clipping import ClippedSum
from privsynth.mechanisms.dpsgd import dp_sgd_step, resolve_device
from privsynth.mechanisms.sampling import poisson_sample
from privsynth.privacy.ledger import Ledger
from privsynth.synthesizers._calibration import Calibration
from privsynth.synthesizers._checkpoint import TrainingState, load_checkpoint, save_checkpoint
from privsynth.synthesizers._plan import FitPlan
from privsynth.synthesizers._record_store import RecordStore

__all__ = ["train"]


def train(synth: Any, data: pd.DataFrame | Table, domain: Domain, *, ledger: Ledger | None, plan: FitPlan,
          randomness: PrivateRandomness, checkpoint_dir: Any = None, rank: int = 0, world: int = 1) -> None:
    """Train ``synth`` on ``data`` (the whole table; this worker trains on every ``world``-th
    record). A table in an engine (DuckDB, Spark; one worker) is encoded once into a private
    file and read a batch at a time (:class:`~privsynth.synthesizers._record_store.RecordStore`)."""
    device = resolve_device(synth.device if world == 1 else (f"cuda:{rank}" if str(synth.device).startswith("cuda") else "cpu"))
    synth._set_plan_attributes(plan)
    config = synth._config_key(domain)
    state = load_checkpoint(checkpoint_dir, config) if checkpoint_dir is not None else None
    if state is not None:
        start = _resume(synth, domain, state, ledger, device)
    else:
        start = _begin(synth, data, domain, ledger, plan, randomness, device, rank, world)
    records = _records(synth, data, randomness, device, rank, world)
    clipper = ClippedSum(synth._private_module(), synth.engine)
    synth.engine_ = clipper.engine
    optimizer = synth._optimizers()["private"]
    bar = progress(total=plan["steps"], initial=start, desc=type(synth).__name__, unit="step",
                   enabled=False if rank else synth.progress)
    for step in range(start, plan["steps"]):
        optimizer.zero_grad(set_to_none=True)
        index = _batch(len(records), plan, randomness, rank, step)
        batch = (torch.as_tensor(records.gather(index), device=device) if isinstance(records, RecordStore)
                 else records[torch.as_tensor(index, device=device)])
        dp_sgd_step(partial(synth._per_sample_loss, generator=_generator(randomness, device, "loss", rank, step)), batch,
                    clipper=clipper, noise_multiplier=plan["noise_multiplier"], sampling_rate=plan["sampling_rate"],
                    max_grad_norm=synth.max_grad_norm, normalizer=synth.expected_batch_, ledger=ledger,
                    noise=None if rank else _noise(randomness, device, step), n_public=0 if rank else synth._public_examples(),
                    max_physical_batch_size=synth.max_physical_batch_size, distributed=world > 1)
        optimizer.step()
        if ledger is not None:  # rank 0: the post-processing updates, progress and checkpoints
            synth._after_private_step(_generator(randomness, device, "generator", step))
            bar.update(1)
            bar.set_postfix(epoch=f"{(step + 1) * plan['sampling_rate']:.2f}", epsilon=f"{ledger.spent().epsilon:.3f}")
            if checkpoint_dir is not None and ((step + 1) % synth.checkpoint_every == 0 or step + 1 == plan["steps"]):
                save_checkpoint(checkpoint_dir, _training_state(synth, config, step + 1, ledger))
    bar.close()
    if isinstance(records, RecordStore):
        records.close()
    synth.layers_, synth.calibration_ = synth._export_layers(), Calibration()  # for sampling; calibrated afterwards


def _records(synth: Any, data: pd.DataFrame | Table, randomness: PrivateRandomness, device: torch.device, rank: int,
             world: int) -> torch.Tensor | RecordStore:
    """This worker's encoded records: a tensor for records in memory, a store on disk otherwise."""
    rng = randomness.generator("dequantize", rank)
    if isinstance(data, Table) and not isinstance(data, FrameTable):
        return RecordStore(data, lambda frame: synth.encoder_.transform(frame, rng=rng))
    frame = data.to_frame() if isinstance(data, Table) else data
    return torch.as_tensor(synth.encoder_.transform(frame.iloc[rank::world], rng=rng), device=device)


def _begin(synth: Any, data: pd.DataFrame | Table, domain: Domain, ledger: Ledger | None, plan: FitPlan, randomness: PrivateRandomness,
           device: torch.device, rank: int, world: int) -> int:
    """Releases before training on rank 0, shared with the other workers; networks initialised."""
    if rank == 0:
        synth._release(data, domain, ledger, plan, randomness.generator("releases"))
    if world > 1:
        from privsynth.synthesizers._ddp import broadcast_public_state

        broadcast_public_state(synth, domain, device, rank)
    synth._build(synth.encoder_.width, device, torch.Generator(device=device).manual_seed(randomness.integer_seed("init")))
    if world > 1:
        from privsynth.synthesizers._ddp import broadcast_modules, check_same_plan

        broadcast_modules(synth)
        check_same_plan(synth, plan, device)
    return 0


def _resume(synth: Any, domain: Domain, state: TrainingState, ledger: Ledger | None, device: torch.device) -> int:
    synth._restore_public_state(domain, state.public, state.public_arrays)
    synth._build(synth.encoder_.width, device, torch.Generator(device=device))  # weights come from the checkpoint
    for name, module in synth._modules_for_state().items():
        module.load_state_dict(state.modules[name])
    for name, optimizer in synth._optimizers().items():
        optimizer.load_state_dict(state.optimizers[name])
    if ledger is not None:
        ledger.extend(state.entries)
    return state.step


def _training_state(synth: Any, config: str, step: int, ledger: Ledger) -> TrainingState:
    public, arrays = synth._public_state()
    return TrainingState(config=config, step=step, entries=ledger.entries, public=public, public_arrays=arrays,
                         modules={k: m.state_dict() for k, m in synth._modules_for_state().items()},
                         optimizers={k: o.state_dict() for k, o in synth._optimizers().items()})


def _batch(n: int, plan: FitPlan, randomness: PrivateRandomness, rank: int, step: int) -> np.ndarray:
    """This worker's Poisson sample for ``step`` (private randomness)."""
    if randomness.secure:
        return poisson_sample(n, plan["sampling_rate"], secure=True)
    return poisson_sample(n, plan["sampling_rate"], rng=randomness.generator("sampling", rank, step))


def _noise(randomness: PrivateRandomness, device: torch.device, step: int) -> torch.Generator:
    """The generator of ``step``'s gradient noise: seeded from the OS CSPRNG at every step when secure."""
    seed = secrets.randbits(63) if randomness.secure else randomness.integer_seed("noise", step)
    return torch.Generator(device=device).manual_seed(seed)


def _generator(randomness: PrivateRandomness, device: torch.device, stream: str, *index: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(randomness.integer_seed(stream, *index))
