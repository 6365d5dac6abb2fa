"""Backbone overrides (YAML `backbones:` and --backbone) over a checkpoint's stored backbones, and
the resampler choice behind audio.resample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livelink_bridge.daemon_config import load_daemon_config
from medtalk_core.audio import load_audio, resample, resampled_length
from medtalk_core.backbones import BackboneConfig, BackboneSpec
from medtalk_core.backbones.overrides import BackboneOverrides, SlotOverride, apply_overrides, parse_flags
from medtalk_core.errors import ConfigError
from medtalk_core.long_audio import AudioFileReader

STORED = BackboneConfig(audio_content=BackboneSpec("wav2vec2", "facebook/wav2vec2-base-960h", {"mode": "release"}),
                        transcriber=BackboneSpec("faster_whisper", "base"))


def test_flags_win_over_yaml_and_yaml_over_the_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "w2v"
    folder.mkdir()
    yaml_file = tmp_path / "cfg.yaml"
    yaml_file.write_text("backbones:\n  audio_content: {path: /nowhere/else, dtype: float16}\n")
    with pytest.raises(ConfigError, match="backbone audio_content: local model not found: /nowhere/else"):
        load_daemon_config(yaml_file)
    yaml_file.write_text("backbones:\n  audio_content: {path: hub/name, dtype: float16}\n")
    section = load_daemon_config(yaml_file).backbones
    merged = section.merged(parse_flags([f"audio_content={folder}", "audio_content.device=cpu",
                                         "transcriber.name=none"]))
    cfg = apply_overrides(STORED, merged)
    assert cfg.audio_content == BackboneSpec("wav2vec2", str(folder), {"mode": "release", "device": "cpu", "fp16": True})
    assert cfg.transcriber == BackboneSpec("none")  # another implementation: the old path and options go
    assert cfg.text == STORED.text and apply_overrides(STORED, None) is STORED
    yaml_file.write_text("backbones:\n  audio_contnet: {path: x}\n")
    with pytest.raises(ConfigError, match="unknown config key: backbones.audio_contnet"):
        load_daemon_config(yaml_file)
    with pytest.raises(ConfigError, match="dtype must be one of float32, float16"):
        BackboneOverrides(text=SlotOverride(dtype="bf16"))


def test_soxr_gives_librosa_lengths_and_whole_file_results_window_by_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    native = (0.2 * rng.standard_normal(48000 * 2 + 7)).astype(np.float32)
    for method in ("poly", "soxr"):
        out = resample(native, 48000, method=method)
        assert out.shape == (resampled_length(native.size, 48000),) and out.dtype == np.float32
    import soundfile as sf

    wav = tmp_path / "a48.wav"
    sf.write(str(wav), native, 48000, subtype="FLOAT")
    whole = load_audio(wav, resampler="soxr")
    reader = AudioFileReader(wav, resampler="soxr")
    pieces = np.concatenate([reader.read(a, b) for a, b in [(0, 5000), (5000, 17000), (17000, reader.num_samples)]])
    assert np.allclose(pieces, whole, atol=1e-6)
    assert not np.allclose(whole, load_audio(wav), atol=1e-3)  # the two resamplers do differ
    with pytest.raises(ConfigError, match="resampler must be one of poly, soxr"):
        resample(native, 48000, method="sinc")
