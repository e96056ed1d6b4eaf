"""Data-parallel DP-SGD across ``devices`` processes (torch.distributed; gloo on CPU, NCCL on GPUs).

Rank 0 makes every release before training (noisy count, quantile histograms, the GAN's
conditional marginal), charges them and broadcasts the results, with the initial weights; no
other worker releases anything. The workers then check that they hold the same plan and public
state before step 1 (a digest, all-gathered), so a mismatch fails at once instead of hanging a
collective. Every step, each worker Poisson-samples its shard (every ``world``-th record) at the
common rate with its own private stream -- together, Poisson sampling of the whole table --
computes its clipped gradient sum, the sums are all-reduced, and rank 0 charges the step, draws
the noise once and broadcasts the noisy gradient, so all replicas take identical steps. A worker
whose shard is empty (more workers than records) just contributes zero sums.

The workers share the fit's :class:`~privsynth.core.rng.PrivateRandomness` in memory; no seed
is invented or written anywhere. The parent takes over rank 0's model and replays its charges
into the fit's ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from privsynth.core.domain import Domain
from privsynth.core.errors import PrivsynthError
from privsynth.core.io import read_bundle, write_bundle
from privsynth.core.rng import PrivateRandomness
from privsynth.privacy.budget import Budget
from privsynth.privacy.ledger import Ledger, LedgerEntry
from privsynth.synthesizers._plan import FitPlan

__all__ = ["fit_distributed", "broadcast_public_state", "broadcast_modules", "check_same_plan"]

_RESULT = "rank0.privsynth"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, backend: str, port: int, cls_name: str, params: dict, data: pd.DataFrame, domain_dict: dict,
            plan: FitPlan, randomness: PrivateRandomness, accountant: dict, out_dir: str, checkpoint_dir: Any) -> None:
    import torch.distributed as dist

    from privsynth.synthesizers._dpsgd_train import train
    from privsynth.synthesizers.names import synthesizer_class

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        synth = synthesizer_class(cls_name)(**params)
        domain = Domain.from_dict(domain_dict)
        ledger = Ledger(Budget(epsilon=synth.epsilon, delta=plan.delta), accountant=accountant) if rank == 0 else None
        train(synth, data, domain, ledger=ledger, plan=plan, randomness=randomness, checkpoint_dir=checkpoint_dir,
              rank=rank, world=world)
        if ledger is not None:
            state, arrays = synth._state()
            write_bundle(Path(out_dir) / _RESULT, arrays=arrays,
                         documents={"state": state, "ledger": {"entries": [e.to_dict() for e in ledger.entries]}})
    finally:
        dist.destroy_process_group()


def fit_distributed(synth: Any, data: pd.DataFrame, domain: Domain, *, ledger: Ledger, plan: FitPlan,
                    randomness: PrivateRandomness, checkpoint_dir: Any = None) -> None:
    """Train ``synth`` with ``synth.devices`` workers; rank 0's model and charges come back here."""
    import torch.multiprocessing as mp

    world = int(synth.devices)
    cuda = str(synth.device).startswith("cuda") or (synth.device == "auto" and torch.cuda.is_available())
    if cuda and torch.cuda.device_count() < world:
        raise PrivsynthError(f"devices={world} needs {world} GPUs, but {torch.cuda.device_count()} are present; "
                             "lower devices or use device='cpu'.")
    params = {**synth.get_params(), "devices": 1, "device": "cuda" if cuda else "cpu"}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            mp.spawn(_worker, nprocs=world, join=True,
                     args=(world, "nccl" if cuda else "gloo", _free_port(), type(synth).__name__, params, data, domain.to_dict(),
                           plan, randomness, ledger.accountant.to_dict(), tmp, checkpoint_dir))
        except mp.ProcessRaisedException as exc:
            last = [line for line in str(exc).strip().splitlines() if line.strip()][-1]
            raise PrivsynthError(f"A data-parallel DP-SGD worker failed: {last}") from None
        documents, arrays = read_bundle(Path(tmp) / _RESULT)
    ledger.extend(LedgerEntry.from_dict(e) for e in documents["ledger"]["entries"])
    synth._restore(documents["state"], arrays)


def _broadcast_bytes(payload: bytes | None, device: torch.device, rank: int) -> bytes:
    import torch.distributed as dist

    length = torch.tensor([len(payload) if payload is not None else 0], dtype=torch.int64, device=device)
    dist.broadcast(length, src=0)
    if payload is not None:  # rank 0
        buffer = torch.tensor(list(payload), dtype=torch.uint8, device=device)
    else:
        buffer = torch.empty(int(length.item()), dtype=torch.uint8, device=device)
    dist.broadcast(buffer, src=0)
    return bytes(buffer.cpu().numpy().tobytes())


def _public_payload(synth: Any) -> bytes:
    state, arrays = synth._public_state()
    return json.dumps({"state": state, "arrays": {k: np.asarray(v).tolist() for k, v in arrays.items()}}, sort_keys=True).encode()


def broadcast_public_state(synth: Any, domain: Domain, device: torch.device, rank: int) -> None:
    """Rank 0's releases before training, sent to every worker (JSON, no pickle)."""
    payload = _broadcast_bytes(_public_payload(synth) if rank == 0 else None, device, rank)
    if rank != 0:
        doc = json.loads(payload)
        synth._restore_public_state(domain, doc["state"], {k: np.asarray(v, dtype=float) for k, v in doc["arrays"].items()})


def broadcast_modules(synth: Any) -> None:
    """Rank 0's initial weights to every worker."""
    import torch.distributed as dist

    for module in synth._modules_for_state().values():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def check_same_plan(synth: Any, plan: FitPlan, device: torch.device) -> None:
    """Every worker must hold the same plan and public state before step 1.

    Raises:
        PrivsynthError: they differ (on every worker, so none waits in a collective forever).
    """
    import torch.distributed as dist

    settings = json.dumps({k: plan.settings[k] for k in sorted(plan.settings)}, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(settings + _public_payload(synth)).digest()
    mine = torch.tensor(list(digest), dtype=torch.uint8, device=device)
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    if any(not torch.equal(other, everyone[0]) for other in everyone):
        raise PrivsynthError("The data-parallel workers disagree on the training plan or on the releases before training; "
                             "refusing to train (this is a bug: please report it).")
