"""Shared fixtures: small built-in data, and the shared real data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from privsynth.datasets import make_census

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("PRIVSYNTH_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if (path / "adult.csv").is_file() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("shared data not found: set PRIVSYNTH_DATA to the folder holding adult.csv")
    return path


@pytest.fixture(scope="session")
def census():
    """(data, domain) of 1,500 built-in census records."""
    return make_census(1500, random_state=0)
