"""Shared pytest fixtures: real data location, one local Ray instance per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real photos with alpha, real backgrounds); skips when absent."""
    root = Path(os.environ.get("SYNTH_SHARED_DATA", SHARED_DATA))
    if not (root / "alphamatting" / "alpha").is_dir():
        pytest.skip(f"real sample data not found at {root}")
    return root


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole test session (2 CPUs, no dashboard)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 1024 * 1024,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()
