"""Shared fixtures: small built-in data, and the shared real data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):  # parallel workers share the cores: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

import pytest  # noqa: E402

from privsynth.datasets import make_census  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs pytest on small projects


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
