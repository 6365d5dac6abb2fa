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


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Folder of a randomly initialised `tiny`-profile MEDTalk with the built-in backbones,
    saved through medtalk_core.checkpoint.save, so tests never need the trained default model."""
    import torch

    from medtalk_core.backbones import BackboneConfig
    from medtalk_core.checkpoint import save
    from medtalk_core.model import MEDTalk, load_model_config

    torch.manual_seed(0)
    model = MEDTalk(load_model_config("tiny"))
    return save(tmp_path_factory.mktemp("tiny_checkpoint"), model, BackboneConfig(), stage="init", step=0)
