"""The CUDA path end to end: streaming, baking and training on the GPU agree with the CPU.
Every test here needs CUDA and is skipped without it (benchmarks/gpu_check.sh runs them on a GPU)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from livelink_bridge.offline.bake import BakeOptions, bake
from livelink_bridge.engine import EngineConfig
from livelink_bridge.idle import IdleConfig
from livelink_bridge.engine import StreamingEngine, stream_array
from livelink_bridge.offline.writers import read_rig_file
from medtalk_core import checkpoint
from medtalk_core.audio import SAMPLE_RATE, write_audio
from medtalk_core.inference import Animator

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

NO_IDLE = dataclasses.replace(IdleConfig(), enabled=False)
ATOL = 1e-4  # float32 kernels differ between devices by rounding only


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6)) * (np.sin(2 * np.pi * 2.0 * t) > -0.2)
    return (0.3 * voiced + 0.01 * np.random.default_rng(seed).standard_normal(t.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def gpu_animator(tiny_checkpoint) -> Animator:
    return Animator.from_checkpoint(tiny_checkpoint, device="cuda")


def test_guidance_lives_on_the_gpu_and_rigs_come_back_as_numpy(gpu_animator: Animator) -> None:
    assert gpu_animator.guidance("happy").device.type == "cuda"
    rig = gpu_animator.animate(_speech(0.5), "happy", transcript="")
    assert isinstance(rig, np.ndarray) and rig.dtype == np.float32 and rig.shape == (30, 174)


def test_stream_on_cuda_matches_the_cpu_stream(gpu_animator: Animator, animator: Animator) -> None:
    audio = _speech(2.0)
    cfg = dataclasses.replace(EngineConfig(), idle=NO_IDLE)
    # the caller's guidance feature sits on the CPU while the engine's model runs on CUDA
    feature = animator.guidance("angry").cpu()
    gpu = stream_array(StreamingEngine(gpu_animator, cfg, guidance=feature), audio)
    cpu = stream_array(StreamingEngine(animator, cfg, guidance=feature), audio)
    assert gpu.shape == cpu.shape == (120, 174)
    np.testing.assert_allclose(gpu, cpu, atol=ATOL)


def test_guidance_change_mid_stream_on_cuda(gpu_animator: Animator) -> None:
    engine = StreamingEngine(gpu_animator, dataclasses.replace(EngineConfig(), idle=NO_IDLE), guidance="neutral")
    audio = _speech(1.5)
    engine.reset()
    frames = []
    for start in range(0, audio.shape[0], 160):
        if start == 8000:
            engine.set_guidance(gpu_animator.guidance("happy").cpu())  # a CPU feature mid-stream
        engine.insert_audio(audio[start:start + 160], start / SAMPLE_RATE)
        frames.extend(engine.process())
    frames.extend(engine.finish())
    assert [f.index for f in frames] == list(range(90))


def test_bake_on_cuda_matches_the_cpu(gpu_animator: Animator, animator: Animator, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i, seconds in enumerate((0.8, 1.3, 2.1)):
        write_audio(tmp_path / "in" / f"line_{i}.wav", _speech(seconds, seed=i))
    reports = {}
    for name, anim in (("gpu", gpu_animator), ("cpu", animator)):
        reports[name] = bake(anim, [tmp_path / "in"], tmp_path / name, BakeOptions(formats=("csv",)))
        assert len(reports[name].baked) == 3 and not reports[name].failed
    for i in range(3):
        gpu, _, _ = read_rig_file(tmp_path / "gpu" / f"line_{i}.csv")
        cpu, _, _ = read_rig_file(tmp_path / "cpu" / f"line_{i}.csv")
        np.testing.assert_allclose(gpu, cpu, atol=1e-3)  # the CSV keeps a few decimals


def test_training_on_cuda_writes_a_checkpoint_that_loads_on_cpu(tmp_path_factory) -> None:
    from test_train import TINY_MODEL, _recipe, _write_dataset  # the training tests' tiny set and recipe

    from medtalk_core.train import train

    root = _write_dataset(tmp_path_factory.mktemp("gpu_set"))
    model_yaml = tmp_path_factory.mktemp("gpu_model") / "tiny.yaml"
    model_yaml.write_text(yaml.safe_dump(TINY_MODEL), encoding="utf-8")
    recipe = dataclasses.replace(_recipe(root, model_yaml, self=1, acm=1, fim=1), device="cuda")
    results = train(recipe, tmp_path_factory.mktemp("gpu_run"), stage="all")
    assert [r.stage for r in results] == ["cross_recon", "acm", "fim"]
    assert all(np.isfinite(r.final_train_loss) for r in results)
    loaded = checkpoint.load(results[-1].checkpoint, "cpu")
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())
