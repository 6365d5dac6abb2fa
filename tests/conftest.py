"""Shared fixtures: paths to the reference data in ../shared and deterministic seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_DIR = SHARED / "data" / "emoface_sample"
SAMPLE_NAME = "angry_gd04_001_021"


@pytest.fixture
def sample_wav() -> Path:
    path = SAMPLE_DIR / f"{SAMPLE_NAME}.wav"
    if not path.is_file():
        pytest.skip(f"reference sample not found at {path}")
    return path


@pytest.fixture
def sample_rig() -> np.ndarray:
    path = SAMPLE_DIR / f"{SAMPLE_NAME}.ctr.txt"
    if not path.is_file():
        pytest.skip(f"reference sample not found at {path}")
    return np.loadtxt(path, delimiter=",", dtype=np.float32)
