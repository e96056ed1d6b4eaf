"""Data-parallel DP-SGD across ``devices`` processes (torch.distributed; gloo on CPU, NCCL on GPUs).

Every worker Poisson-samples its own shard at the common rate ``q`` (together: Poisson sampling
of the whole table at ``q``), computes the clipped gradient sum of its records, and the sums are
all-reduced; rank 0 draws the noise once per logical step and broadcasts the noisy gradient, so
all replicas take identical steps. Only rank 0 charges the ledger and writes the model and its
certificate. Workers are spawned here, so a Hydra job or a script runs once and gets one model.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import PrivsynthError

__all__ = ["fit_distributed"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, backend: str, port: int, cls_name: str, params: dict, data: pd.DataFrame,
            domain_dict: dict, out_dir: str, checkpoint_dir: Any) -> None:
    import torch.distributed as dist

    import privsynth.synthesizers as synthesizers

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        synth = getattr(synthesizers, cls_name)(**{**params, "devices": 1})
        domain = Domain.from_dict(domain_dict)
        shard = np.arange(rank, len(data), world)
        synth._fit_process(data, domain, ledger=None, checkpoint_dir=checkpoint_dir if rank == 0 else None,
                           rank=rank, world=world, shard=shard)
        if rank == 0:
            synth.save(Path(out_dir) / "model.privsynth")
    finally:
        dist.destroy_process_group()


def fit_distributed(synth: Any, data: pd.DataFrame, domain: Domain, *, checkpoint_dir: Any = None) -> Any:
    """Fit ``synth`` with ``synth.devices`` workers and copy rank 0's result into it."""
    import torch
    import torch.multiprocessing as mp

    from privsynth.core.rng import derive_seed
    from privsynth.synthesizers.base import load

    world = int(synth.devices)
    cuda = str(synth.device).startswith("cuda") or (synth.device == "auto" and torch.cuda.is_available())
    if cuda and torch.cuda.device_count() < world:
        raise PrivsynthError(f"devices={world} needs {world} GPUs, but {torch.cuda.device_count()} are present; lower devices or use device='cpu'.")
    params = synth.get_params()
    if not isinstance(params.get("random_state"), int):  # every worker must draw the same seeds
        params["random_state"] = derive_seed(params.get("random_state"))
    params["device"] = "cuda" if cuda else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(world, "nccl" if cuda else "gloo", _free_port(), type(synth).__name__, params, data, domain.to_dict(),
                                tmp, checkpoint_dir), nprocs=world, join=True)
        fitted = load(Path(tmp) / "model.privsynth")
    fitted._ensure_built()
    for key, value in vars(fitted).items():
        if key.endswith("_") or key.startswith("_"):
            setattr(synth, key, value)
    return synth
