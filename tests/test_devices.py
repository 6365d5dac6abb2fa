"""Device choice: one rule (medtalk_core.devices) for the animator, training and evaluation; a CUDA
request without CUDA is one clear line, and whatever device the model runs on, what the animator
hands back is CPU data (numpy rigs), so callers never need to know."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from medtalk_core.audio import SAMPLE_RATE, write_audio
from medtalk_core.devices import DeviceError, resolve_device
from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import GuidanceSpec, mix
from medtalk_core.inference import Animator

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")


def test_none_picks_cuda_when_present_else_cpu() -> None:
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_an_unknown_device_name_is_a_user_error() -> None:
    with pytest.raises(DeviceError, match="unknown torch device 'gpu0'"):
        resolve_device("gpu0")


@no_cuda
def test_cuda_without_cuda_is_one_clear_line(tiny_checkpoint) -> None:
    with pytest.raises(MedtalkError, match="CUDA is not available on this machine; use device cpu") as info:
        Animator.from_checkpoint(tiny_checkpoint, "cuda")
    assert "\n" not in str(info.value)


@no_cuda
def test_cli_cuda_without_cuda_exits_2_with_one_line(tiny_checkpoint, tmp_path) -> None:
    wav = tmp_path / "line.wav"
    write_audio(wav, (0.1 * np.sin(np.arange(SAMPLE_RATE) * 0.05)).astype(np.float32))
    result = subprocess.run([sys.executable, "-m", "livelink_bridge.cli", "bake", str(wav), "--out", str(tmp_path / "o"),
                             "--checkpoint", str(tiny_checkpoint), "--device", "cuda"], capture_output=True, text=True)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("medtalk bake:")]
    assert len(lines) == 1 and "CUDA is not available" in lines[0]
    assert "Traceback" not in result.stderr


@no_cuda
def test_training_on_cuda_without_cuda_is_a_user_error(tmp_path) -> None:
    from medtalk_core.train import TrainRecipe, train
    from medtalk_core.train.recipe import DataConfig

    with pytest.raises(MedtalkError, match="CUDA is not available"):
        train(TrainRecipe(data=DataConfig(root=str(tmp_path)), device="cuda"), tmp_path / "run")


def test_animator_hands_back_numpy_rigs_and_device_guidance(animator: Animator) -> None:
    audio = (0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE)).astype(np.float32)
    rigs = animator.animate_batch([audio, audio[:8000]], ["happy", GuidanceSpec(text="a warm smile")], ["", None])
    for rig, n in zip(rigs, (SAMPLE_RATE, 8000)):
        assert isinstance(rig, np.ndarray) and rig.dtype == np.float32 and rig.shape == (n * 60 // SAMPLE_RATE, 174)
    g = animator.guidance("sad")
    assert g.device == animator.device and g.dtype == torch.float32
    feature = animator.guidance("sad").cpu().numpy()  # a caller's own feature, as numpy
    assert animator.animate(audio, feature, transcript="").shape == rigs[0].shape


def test_mix_takes_the_first_features_device() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    out = mix(a, b, 0.5)
    assert out.device == a.device
    np.testing.assert_allclose(out.norm().item(), 1.5, rtol=1e-6)  # strengths blend linearly
