"""Built-in backbones: frame alignment, what the features measure, the registry, pocketsphinx."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from medtalk_core.audio import SAMPLE_RATE, load_audio, num_frames
from medtalk_core.backbones import (BackboneConfig, BackboneSpec, Backbones, build_backbone, build_backbones,
                                    register, registered)
from medtalk_core.backbones.base import AudioFeatureBackbone, GuidanceBackbone, TextBackbone, Transcriber
from medtalk_core.backbones.hashed_text import HashedText
from medtalk_core.backbones.lexicon import EmotionLexicon
from medtalk_core.backbones.logmel import LogMel
from medtalk_core.backbones.prosody import Prosody
from medtalk_core.errors import ConfigError, MedtalkError
from medtalk_core.rig import EMOTIONS


def _tone(freq: float, seconds: float = 1.0, harmonics: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


@pytest.mark.parametrize("backbone", [LogMel(), Prosody()], ids=["logmel", "prosody"])
@pytest.mark.parametrize("n", [0, 100, 267, 16000, 16001, 53760, 40001])
def test_frame_count_is_num_frames(backbone, n: int) -> None:
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    feats = backbone.features(audio)
    assert feats.shape == (num_frames(n), backbone.dim)
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()


def test_frame_count_on_real_sample(sample_wav) -> None:
    audio = load_audio(sample_wav)
    for backbone in (LogMel(), Prosody()):
        assert backbone.features(audio).shape[0] == num_frames(len(audio))


def test_logmel_peaks_at_the_tone() -> None:
    mel = LogMel()
    low, high = mel.features(_tone(300.0)), mel.features(_tone(3000.0))
    assert mel.dim == 80
    assert int(low[30].argmax()) < int(high[30].argmax())
    # silence sits at the floor, a tone well above it
    silence = mel.features(np.zeros(SAMPLE_RATE, np.float32))
    assert float(silence.max()) < float(low.max()) - 1.0


@pytest.mark.parametrize("f0", [110.0, 200.0, 310.0])
def test_prosody_pitch_and_voicing(f0: float) -> None:
    feats = Prosody().features(_tone(f0, harmonics=5))  # (T, 24)
    middle = feats[10:-10]
    assert float(middle[:, 1].mean()) > 0.8  # voiced
    assert abs(float(middle[:, 2].median()) - np.log2(f0 / 200.0)) < 0.05  # log2(f0 / 200)


def test_prosody_energy_follows_loudness_and_noise_is_unvoiced() -> None:
    prosody = Prosody()
    quiet, loud = prosody.features(_tone(200.0) * 0.05), prosody.features(_tone(200.0))
    assert float(loud[10:-10, 0].mean()) > float(quiet[10:-10, 0].mean()) + 0.5
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    assert float(prosody.features(noise)[10:-10, 1].mean()) < 0.45


def test_hashed_text_features() -> None:
    text = HashedText(dim=64)
    feats = text.features("Smiling, she said: hello!")
    assert feats.shape == (4, 64)
    assert torch.equal(feats, HashedText(dim=64).features("smiling she said hello"))  # deterministic, case-free
    assert text.features("").shape == (1, 64) and text.features("...").shape == (1, 64)

    def cos(a: str, b: str) -> float:
        return float(torch.cosine_similarity(text.features(a)[0], text.features(b)[0], dim=0))

    assert cos("smiling", "smile") > cos("smiling", "tractor") + 0.2


def test_lexicon_reading() -> None:
    lex = EmotionLexicon()
    r = lex.read("a tired, reluctant smile")
    assert r.weights[EMOTIONS.index("sad")] == pytest.approx(2 / 3)
    assert r.weights[EMOTIONS.index("happy")] == pytest.approx(1 / 3)
    assert r.strength == pytest.approx(1.0)
    assert lex.read("very angry").strength > 1.0 > lex.read("slightly angry").strength
    assert lex.read("not happy at all").weights[EMOTIONS.index("neutral")] == 1.0
    feats = lex.encode_text(["furious", "a gentle smile"])
    assert feats.shape == (2, lex.dim) and torch.allclose(feats[:, :7].sum(1), torch.ones(2))
    with pytest.raises(MedtalkError, match="no emotion word"):
        lex.read("a person standing by a tractor")
    with pytest.raises(MedtalkError, match="backbones.guidance.name"):
        lex.encode_image([np.zeros((8, 8, 3), np.uint8)])


def test_build_default_backbones_implement_the_interfaces() -> None:
    b = build_backbones(BackboneConfig())
    assert isinstance(b, Backbones)
    assert isinstance(b.audio_content, AudioFeatureBackbone) and b.audio_content.dim == 80
    assert isinstance(b.audio_emotion, AudioFeatureBackbone) and b.audio_emotion.dim == 24
    assert isinstance(b.transcriber, Transcriber)
    assert isinstance(b.text, TextBackbone) and b.text.dim == 64
    assert isinstance(b.guidance, GuidanceBackbone)
    for kind in ("audio_content", "audio_emotion", "transcriber", "text", "guidance"):
        assert registered(kind)


def test_registry_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"backbones\.audio_content\.name = 'wav3vec'"):
        build_backbone("audio_content", BackboneSpec("wav3vec"))
    with pytest.raises(ConfigError, match=r"backbones\.text\.options\.dimm"):
        build_backbone("text", BackboneSpec("hashed", options={"dimm": 3}))
    with pytest.raises(ConfigError, match=r"backbones\.text\.name cannot be 'none'"):
        build_backbone("text", BackboneSpec("none"))
    assert build_backbone("transcriber", BackboneSpec("none")) is None
    assert build_backbone("guidance", BackboneSpec("none")) is None
    assert build_backbone("text", BackboneSpec("hashed", options={"dim": 16})).dim == 16


def test_register_a_new_backbone() -> None:
    class Constant:
        name, dim = "constant", 3

        def __init__(self, spec: BackboneSpec) -> None:
            self.value = float(spec.options.get("value", 0.0))

        def features(self, audio_16k: np.ndarray) -> torch.Tensor:
            return torch.full((num_frames(len(audio_16k)), 3), self.value)

    register("audio_emotion", "constant_for_test", Constant)
    built = build_backbone("audio_emotion", BackboneSpec("constant_for_test", options={"value": 2.0}))
    assert torch.equal(built.features(np.zeros(1600, np.float32)), torch.full((6, 3), 2.0))
    with pytest.raises(ValueError):
        register("video", "x", Constant)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_pocketsphinx_transcribes_espeak_speech(tmp_path) -> None:
    sentence = "the weather is nice today and I am very happy to see you"
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "130", "-w", str(wav), sentence], check=True, capture_output=True)
    audio = load_audio(wav)
    transcript = build_backbone("transcriber", BackboneSpec("pocketsphinx")).transcribe(audio)
    heard = set(re.findall(r"[a-z']+", transcript.text))
    assert len(heard & set(sentence.lower().split())) >= 2, transcript.text
    starts = [w.start_s for w in transcript.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start_s < w.end_s <= len(audio) / SAMPLE_RATE + 0.05 for w in transcript.words)
    assert " ".join(w.text for w in transcript.words) == transcript.text
