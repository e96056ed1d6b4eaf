"""Checkpoints of DP-SGD training, over an explicit training state.

A checkpoint holds the step reached, the ledger's entries, the public state released before
training (noisy count, encoder, conditional marginal), and the module and optimizer state --
every one a DP output or public (DESIGN.md rule 4). It holds *no* generator state and no record
count: a resumed fit re-derives its private randomness from its name and step (the same streams
for a seeded fit, fresh OS entropy otherwise), so nothing in a checkpoint can be stepped back to
recover a pre-noise value. A checkpoint is as sensitive as the model, not as the data. It is
written with ``torch.save`` and read with ``torch.load(weights_only=True)``: no pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from privsynth.core.errors import PrivsynthError
from privsynth.privacy.ledger import LedgerEntry

__all__ = ["TrainingState", "save_checkpoint", "load_checkpoint", "CHECKPOINT_FILE"]

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass(frozen=True)
class TrainingState:
    """Where a DP-SGD fit stands after ``step`` steps."""

    config: str
    step: int
    entries: tuple
    public: Mapping[str, Any]
    public_arrays: Mapping[str, np.ndarray]
    modules: Mapping[str, Mapping[str, torch.Tensor]]
    optimizers: Mapping[str, Any]


def save_checkpoint(directory: str | os.PathLike, state: TrainingState) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically."""
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "config": state.config,
        "step": int(state.step),
        "entries": json.dumps([e.to_dict() for e in state.entries]),
        "public": json.dumps(state.public),
        "public_arrays": {k: torch.as_tensor(np.asarray(v)) for k, v in state.public_arrays.items()},
        "modules": {k: dict(v) for k, v in state.modules.items()},
        "optimizers": dict(state.optimizers),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(directory: str | os.PathLike, config: str) -> TrainingState | None:
    """The state saved in ``directory`` (``None`` if there is none).

    Raises:
        PrivsynthError: the checkpoint was written by another configuration or domain.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    blob = torch.load(path, weights_only=True, map_location="cpu")
    if blob.get("config") != config:
        raise PrivsynthError(f"The checkpoint in {str(path.parent)!r} was written by a different configuration or domain; "
                             "use a new checkpoint_dir (or delete it) to start over.")
    return TrainingState(
        config=config,
        step=int(blob["step"]),
        entries=tuple(LedgerEntry.from_dict(e) for e in json.loads(blob["entries"])),
        public=json.loads(blob["public"]),
        public_arrays={k: v.numpy() for k, v in blob["public_arrays"].items()},
        modules=blob["modules"],
        optimizers=blob["optimizers"],
    )
