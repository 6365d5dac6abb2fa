"""The Animator, guidance and checkpoints, through the real loading path (tiny random model)."""

from __future__ import annotations

import dataclasses
import os
import pickle

import numpy as np
import pytest
import torch

from medtalk_core import checkpoint as ckpt
from medtalk_core.audio import load_audio, num_frames
from medtalk_core.backbones import BackboneConfig, BackboneSpec
from medtalk_core.errors import CheckpointError, ConfigError, MedtalkError
from medtalk_core.guidance import GuidanceSpec, mix
from medtalk_core.inference import DEFAULT_MODEL_DIR, Animator
from medtalk_core.model import MEDTalk, load_model_config
from medtalk_core.rig import valid_ranges


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    tone = np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * t)) * t)
    return ((tone + 0.2 * rng.standard_normal(n)) * envelope * 0.3).astype(np.float32)


def _in_range(rig: np.ndarray) -> bool:
    low, high = valid_ranges()
    return bool(np.all(rig >= low) and np.all(rig <= high))


def test_animate_real_sample(animator: Animator, sample_wav) -> None:
    audio = load_audio(sample_wav)
    rig = animator.animate(audio, "angry")  # transcript None: runs the pocketsphinx transcriber
    assert rig.shape == (num_frames(len(audio)), 174) and rig.dtype == np.float32
    assert np.all(np.isfinite(rig)) and _in_range(rig)
    assert animator.transcriber is not None and animator.device == torch.device("cpu")


def test_smoothing_and_clamping(animator: Animator) -> None:
    audio = _speechlike(1.0)
    raw = animator.animate(audio, "happy", transcript="", smooth=False)
    smoothed = animator.animate(audio, "happy", transcript="", smooth=True)
    assert not np.array_equal(raw, smoothed)
    # second differences shrink under Savitzky-Golay
    assert np.abs(np.diff(smoothed, 2, axis=0)).mean() < np.abs(np.diff(raw, 2, axis=0)).mean()
    assert _in_range(raw) and _in_range(smoothed)


def test_batch_equals_one_at_a_time(animator: Animator) -> None:
    clips = [_speechlike(1.0, 1), _speechlike(0.4, 2), _speechlike(0.7, 3)]
    guidance = ["sad", animator.guidance("happy", 0.5), GuidanceSpec(text="very surprised")]
    transcripts = ["i am so sad", "", None]
    batch = animator.animate_batch(clips, guidance, [t if t is not None else "wow" for t in transcripts])
    for clip, g, t, got in zip(clips, guidance, transcripts, batch):
        single = animator.animate(clip, g, transcript=t if t is not None else "wow")
        assert got.shape == single.shape == (num_frames(len(clip)), 174)
        np.testing.assert_allclose(got, single, atol=1e-5)


def test_empty_and_bad_audio(animator: Animator) -> None:
    assert animator.animate(np.zeros(100, np.float32), "neutral", transcript="").shape == (0, 174)
    with pytest.raises(MedtalkError, match="mono"):
        animator.animate(np.zeros((100, 2), np.float32), "neutral")
    with pytest.raises(MedtalkError, match="NaN"):
        animator.animate(np.full(1000, np.nan, np.float32), "neutral")
    with pytest.raises(MedtalkError, match="guidances"):
        animator.animate_batch([np.zeros(1000, np.float32)], [])


def test_label_parsing(animator: Animator) -> None:
    happy = animator.guidance("happy")
    for label in ("HAPPY", "hap", "Happ", 3, "3", GuidanceSpec(label="happy")):
        assert torch.equal(animator.guidance(label), happy)
    assert not torch.allclose(happy, animator.guidance("sad"))
    for bad in ("ha", "joyful", 7, -1):
        with pytest.raises(MedtalkError):
            animator.guidance(bad)


def test_strength(animator: Animator) -> None:
    g = animator.guidance("angry", strength=0.5)
    assert g.shape == (animator.guidance_dim,)
    assert float(g.norm()) == pytest.approx(0.5, abs=1e-6)
    assert float(animator.guidance(GuidanceSpec(label="angry", strength=2.0), strength=0.5).norm()) == pytest.approx(1.0)
    audio = _speechlike(0.5)
    # strength 0 removes the emotion drive: the label no longer matters
    zero_a = animator.animate(audio, animator.guidance("angry", 0.0), transcript="")
    zero_b = animator.animate(audio, animator.guidance("happy", 0.0), transcript="")
    np.testing.assert_allclose(zero_a, zero_b, atol=1e-6)
    assert not np.allclose(animator.animate(audio, animator.guidance("angry", 1.5), transcript=""),
                           animator.animate(audio, animator.guidance("angry", 0.5), transcript=""))
    with pytest.raises(MedtalkError, match="strength"):
        GuidanceSpec(label="sad", strength=-1.0)


def test_mix_is_continuous(animator: Animator) -> None:
    a, b = animator.guidance("angry"), animator.guidance("happy", 0.6)
    assert torch.allclose(mix(a, b, 0.0), a, atol=1e-6) and torch.allclose(mix(a, b, 1.0), b, atol=1e-6)
    ws = torch.linspace(0, 1, 201)
    path = mix(a, b, ws)  # (201, D), per-frame ramp
    steps = (path[1:] - path[:-1]).norm(dim=-1)
    assert float(steps.max()) < 0.05  # no jumps
    assert torch.allclose(path.norm(dim=-1), 1.0 + (0.6 - 1.0) * ws, atol=1e-5)  # strength blends linearly
    # a per-frame transition drives animate
    audio = _speechlike(1.0)
    frames = num_frames(len(audio))
    ramp = mix(a, b, torch.linspace(0, 1, frames))
    rig = animator.animate(audio, ramp, transcript="")
    assert rig.shape == (frames, 174)
    with pytest.raises(MedtalkError):
        mix(a, b, 1.5)
    with pytest.raises(MedtalkError, match="guidance feature"):
        animator.animate(audio, torch.zeros(frames + 1, animator.guidance_dim), transcript="")


def test_text_guidance_with_lexicon(animator: Animator) -> None:
    # emotion words only: a blend of the label embeddings ("smile" is a facial action, see
    # test_offline_guidance.py)
    g = animator.guidance(GuidanceSpec(text="a tired, reluctant, happy face"))
    sad, happy = animator.guidance("sad"), animator.guidance("happy")
    expected = mix(happy, sad, 2 / 3)
    assert torch.allclose(g, expected, atol=1e-5)
    assert float(animator.guidance(GuidanceSpec(text="very angry")).norm()) == pytest.approx(1.5)
    with pytest.raises(MedtalkError, match="exactly one"):
        GuidanceSpec(label="sad", text="sad")


def test_no_guidance_backbone(tiny_checkpoint) -> None:
    cfg = dataclasses.replace(BackboneConfig(), guidance=BackboneSpec("none"), transcriber=BackboneSpec("none"))
    animator = Animator.from_checkpoint(tiny_checkpoint, device="cpu", backbones=cfg)
    assert animator.transcriber is None
    with pytest.raises(MedtalkError, match="backbones.guidance.name"):
        animator.guidance(GuidanceSpec(text="happy"))
    # no transcriber: transcript None falls back to the audio-only head
    audio = _speechlike(0.5)
    np.testing.assert_allclose(animator.animate(audio, "sad"), animator.animate(audio, "sad", transcript=""))


def test_backbone_dims_must_match_the_model(tiny_checkpoint) -> None:
    cfg = dataclasses.replace(BackboneConfig(), text=BackboneSpec("hashed", options={"dim": 32}))
    with pytest.raises(ConfigError, match="text_feat_dim"):
        Animator.from_checkpoint(tiny_checkpoint, device="cpu", backbones=cfg)


def test_checkpoint_round_trip_is_bit_identical(tmp_path) -> None:
    torch.manual_seed(3)
    model = MEDTalk(dataclasses.replace(load_model_config("tiny"), encoder="temporal"))
    folder = ckpt.save(tmp_path / "ck", model, BackboneConfig(), stage="fim", step=42, extra={"epochs": 3})
    loaded = ckpt.load(folder / ckpt.WEIGHTS_NAME)  # the weights file inside the folder works too
    assert (loaded.stage, loaded.step, loaded.extra) == ("fim", 42, {"epochs": 3})
    assert loaded.model_config == model.cfg and loaded.backbones == BackboneConfig()
    original, restored = model.state_dict(), loaded.model.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    assert not loaded.model.training


class _Payload:
    """Unpickling this calls a function: what a hostile checkpoint would do (harmless here)."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_checkpoint_refuses_pickles(tmp_path) -> None:
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"weight": _Payload()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="refusing"):
        ckpt.read_state_dict(evil)
    with pytest.raises(CheckpointError, match="pickled"):
        ckpt.load(evil)
    # a plain tensor file from elsewhere reads with weights_only=True
    plain = tmp_path / "plain.pth"
    torch.save({"fc1.weight": torch.ones(2, 2)}, plain)
    assert torch.equal(ckpt.read_state_dict(plain)["fc1.weight"], torch.ones(2, 2))


def test_checkpoint_errors(tmp_path, tiny_checkpoint) -> None:
    with pytest.raises(CheckpointError, match="config.json not found"):
        ckpt.load(tmp_path)
    folder = tmp_path / "mismatch"
    ckpt.save(folder, MEDTalk(load_model_config("tiny")), BackboneConfig())
    config = ckpt.read_config(folder)
    config["model"]["hidden_dim"] = 32
    (folder / ckpt.CONFIG_NAME).write_text(__import__("json").dumps(config))
    with pytest.raises(CheckpointError, match="do not fit"):
        ckpt.load(folder)


def test_shipped_models_by_name() -> None:
    """`shipped:NAME` is the shipped folder wherever a checkpoint is named; a wrong name says
    which names there are."""
    for name, folder in ckpt.SHIPPED_MODELS.items():
        assert ckpt.folder_of(f"shipped:{name}") == ckpt.shipped_model_dir(name)
        assert ckpt.shipped_model_dir(name).name == folder
    assert ckpt.shipped_model_dir("default") == DEFAULT_MODEL_DIR
    with pytest.raises(CheckpointError, match="no shipped model 'livee'.*shipped:live_1frame"):
        ckpt.read_config("shipped:livee")


def test_default_model_missing_is_a_clear_error() -> None:
    if (DEFAULT_MODEL_DIR / ckpt.CONFIG_NAME).is_file():
        pytest.skip("the default model is installed")
    with pytest.raises(MedtalkError, match="default model is missing"):
        Animator.from_checkpoint(None, device="cpu")


def test_warmup_runs_both_intensity_heads_at_the_asked_length_and_changes_nothing(
        animator: Animator, monkeypatch: pytest.MonkeyPatch) -> None:
    audio = _speechlike(0.5)
    before = animator.animate(audio, "happy", transcript="")
    heads = []
    real = animator.model.intensity

    def spy(emotion, tokens, token_mask, mask):
        heads.append(("text" if tokens is not None else "audio", emotion.shape[1]))
        return real(emotion, tokens, token_mask, mask)

    monkeypatch.setattr(animator.model, "intensity", spy)
    animator.warmup(1.0)
    assert heads == [("text", 60), ("audio", 60)]  # the CMF head and the audio-only head, 1 s = 60 frames
    monkeypatch.undo()
    np.testing.assert_array_equal(animator.animate(audio, "happy", transcript=""), before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_checkpoint, animator: Animator) -> None:
    gpu = Animator.from_checkpoint(tiny_checkpoint, device="cuda")
    assert gpu.device.type == "cuda"
    audio = _speechlike(1.0)
    np.testing.assert_allclose(gpu.animate(audio, "happy", transcript="hello there"),
                               animator.animate(audio, "happy", transcript="hello there"), atol=1e-4)


class _FixedClip:
    """A stand-in CLIP backbone: deterministic features, so the P_text / P_image path is checked."""

    name = "fixed_clip_for_test"

    def __init__(self, spec: BackboneSpec) -> None:
        self.dim = int(spec.options.get("dim", 512))

    def encode_text(self, texts) -> torch.Tensor:
        return torch.stack([torch.full((self.dim,), float(len(t))) for t in texts])

    def encode_image(self, images) -> torch.Tensor:
        return torch.stack([torch.full((self.dim,), float(np.asarray(im).mean())) for im in images])


def test_clip_guidance_goes_through_p_text_and_p_image(tiny_checkpoint) -> None:
    from medtalk_core.backbones import register
    from medtalk_core.guidance import with_strength

    register("guidance", "fixed_clip_for_test", _FixedClip)
    cfg = dataclasses.replace(BackboneConfig(), guidance=BackboneSpec("fixed_clip_for_test"),
                              transcriber=BackboneSpec("none"))
    animator = Animator.from_checkpoint(tiny_checkpoint, device="cpu", backbones=cfg)
    model = animator.model
    with torch.no_grad():
        text_expected = with_strength(model.clip_text_map(torch.full((1, 512), 7.0))[0], 0.8)
        image_expected = with_strength(model.clip_image_map(torch.full((1, 512), 3.0))[0], 1.0)
    got_text = animator.guidance(GuidanceSpec(text="smiling", strength=0.8))
    got_image = animator.guidance(GuidanceSpec(image=np.full((4, 4, 3), 3, np.uint8)))
    assert torch.allclose(got_text, text_expected, atol=1e-6)
    assert torch.allclose(got_image, image_expected, atol=1e-6)
    assert animator.animate(_speechlike(0.3), got_image).shape == (num_frames(int(0.3 * 16000)), 174)
    wrong = dataclasses.replace(cfg, guidance=BackboneSpec("fixed_clip_for_test", options={"dim": 16}))
    with pytest.raises(ConfigError, match="clip_dim"):
        Animator.from_checkpoint(tiny_checkpoint, device="cpu", backbones=wrong)


def test_smoothing_is_the_release_savitzky_golay():
    from scipy.signal import savgol_filter

    from medtalk_core.inference import smooth_rig

    rig = np.random.default_rng(3).random((40, 174)).astype(np.float32)
    assert np.allclose(smooth_rig(rig), savgol_filter(rig, 5, 2, axis=0, mode="nearest"), atol=1e-6)
