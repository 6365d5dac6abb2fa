"""Shared fixtures: paths to the reference data in ../shared and deterministic seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_DIR = SHARED / "data" / "emoface_sample"
SAMPLE_NAME = "angry_gd04_001_021"
REAL_SPEECH_DIR = SHARED / "data" / "real_speech_sample"  # LibriVox utterances, 16 kHz mono


@pytest.fixture(scope="session")
def real_speech_dir() -> Path:
    """The folder of real speech utterances (wav + transcript txt per utterance)."""
    if not any(REAL_SPEECH_DIR.glob("*.wav")):
        pytest.skip(f"real speech sample not found at {REAL_SPEECH_DIR}")
    return REAL_SPEECH_DIR


@pytest.fixture(scope="session")
def real_speech(real_speech_dir) -> dict[str, Path]:
    """The real speech utterances by their last id ("0870": 7.1 s, "0880": 3.0 s, ...)."""
    return {p.stem.rsplit("-", 1)[-1]: p for p in sorted(real_speech_dir.glob("*.wav"))}


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


@pytest.fixture(scope="module")
def animator(tiny_checkpoint):
    """An Animator on the random tiny checkpoint, on the CPU."""
    from medtalk_core.inference import Animator

    return Animator.from_checkpoint(tiny_checkpoint, "cpu")


@pytest.fixture(scope="module")
def stream_animator(tiny_checkpoint):
    """The same, set up as the live daemon runs it: one torch thread, one BLAS thread."""
    import torch
    from threadpoolctl import threadpool_limits

    from medtalk_core.inference import Animator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small per-hop runs: one thread is fastest on a shared CPU
    with threadpool_limits(limits=1):  # idle BLAS threads would spin between the runs
        yield Animator.from_checkpoint(tiny_checkpoint, "cpu")
    torch.set_num_threads(threads)
