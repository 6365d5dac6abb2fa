"""EmoFace-layout reader: the real sample, a built layout with pairings, and skipped mismatches."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from medtalk_core.audio import SAMPLE_RATE, frame_samples, num_frames, samples_for_frames
from medtalk_core.data.emoface import EmoFaceDataset, content_key, cut_pair, emotion_from_name
from medtalk_core.errors import DatasetError
from medtalk_core.rig import EMOTIONS


def _write_clip(root: Path, name: str, frames: int, rig_frames: int | None = None, text: str | None = None, value: float = 0.0) -> None:
    for folder in ("WAV", "CTR", "TXT"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    audio = (0.1 * rng.standard_normal(frame_samples(frames))).astype(np.float32)
    sf.write(root / "WAV" / f"{name}.wav", audio, SAMPLE_RATE)
    rig = np.full((rig_frames if rig_frames is not None else frames, 174), value, dtype=np.float32)
    np.savetxt(root / "CTR" / f"{name}.txt", rig, delimiter=",", fmt="%.6f")
    if text is not None:
        (root / "TXT" / f"{name}.txt").write_text(text)


def test_emotion_from_name_prefixes():
    assert emotion_from_name("angry_gd04_001_021") == 0
    assert emotion_from_name("disg_x") == 1 and emotion_from_name("dis_x") == 1
    assert emotion_from_name("fea_x") == 2 and emotion_from_name("Happy_x") == 3
    assert emotion_from_name("neu_x") == 4 and emotion_from_name("sad_1") == 5
    assert emotion_from_name("surp_1") == 6 and emotion_from_name("surprised_1") == 6
    with pytest.raises(DatasetError, match="calm_1"):
        emotion_from_name("calm_1")
    assert content_key("happy_s0042_v1") == "s0042_v1"


def test_reads_the_real_sample_in_valid_ctr_layout(tmp_path, sample_wav):
    (tmp_path / "WAV").mkdir()
    (tmp_path / "VALID_CTR").mkdir()
    name = sample_wav.stem
    shutil.copy(sample_wav, tmp_path / "WAV" / f"{name}.wav")
    shutil.copy(sample_wav.with_name(f"{name}.ctr.txt"), tmp_path / "VALID_CTR" / f"{name}.txt")
    data = EmoFaceDataset(tmp_path)
    assert len(data) == 1 and not data.skipped
    clip = data[0]
    assert clip.emotion == EMOTIONS.index("angry") and clip.transcript is None
    # 3.36 s at 48 kHz -> 201 frames by the release's rule; the rig file has 202 rows.
    assert clip.rig.shape == (201, 174)
    assert num_frames(clip.audio.shape[0]) == 201
    assert clip.audio.shape[0] == samples_for_frames(201)
    assert np.isfinite(clip.rig).all() and clip.rig.min() < -0.5 and clip.rig.max() <= 1.0


def test_pairings_and_cut_to_shorter(tmp_path):
    for emotion in ("happy", "sad", "angry"):
        _write_clip(tmp_path, f"{emotion}_s0001_v0", 60 + len(emotion), text="hello there")
        _write_clip(tmp_path, f"{emotion}_s0002_v0", 90)
    data = EmoFaceDataset(tmp_path)
    assert len(data) == 6
    same_content = data.pairs("same_content", random.Random(1))
    assert len(same_content) == 2 * 3 * 2  # two utterances, 3 emotions, ordered pairs of different emotions
    for i, j in same_content:
        assert data.clips[i].content_key == data.clips[j].content_key and data.clips[i].emotion != data.clips[j].emotion
    same_emotion = data.pairs("same_emotion", random.Random(1))
    assert len(same_emotion) == 6
    for i, j in same_emotion:
        assert data.clips[i].emotion == data.clips[j].emotion and data.clips[i].content_key != data.clips[j].content_key
    assert len(data.pairs("arbitrary", random.Random(1))) == 6
    a, b = data.load_pair(*same_emotion[0])
    assert a.rig.shape == b.rig.shape and a.audio.shape == b.audio.shape
    assert a.rig.shape[0] == min(data.clips[same_emotion[0][0]].num_frames, data.clips[same_emotion[0][1]].num_frames)
    assert data[[c.name for c in data.clips].index("happy_s0001_v0")].transcript == "hello there"


def test_mismatched_lengths_are_reported_and_skipped(tmp_path, caplog):
    _write_clip(tmp_path, "happy_s1_v0", 60)
    _write_clip(tmp_path, "sad_s1_v0", 60, rig_frames=62)  # within 2 frames: kept
    _write_clip(tmp_path, "angry_s1_v0", 60, rig_frames=70)  # off by 10: skipped
    (tmp_path / "WAV" / "fear_s1_v0.wav").write_bytes(b"not a wav file")
    (tmp_path / "CTR" / "fear_s1_v0.txt").write_text("0\n")
    with caplog.at_level(logging.WARNING):
        data = EmoFaceDataset(tmp_path)
    assert sorted(c.name for c in data.clips) == ["happy_s1_v0", "sad_s1_v0"]
    assert sorted(name for name, _ in data.skipped) == ["angry_s1_v0", "fear_s1_v0"]
    assert "angry_s1_v0" in caplog.text and "skipped 2 clip(s) of 4" in caplog.text
    assert "2 skipped" in data.summary()
    assert data[1].rig.shape[0] == 60


def test_manifest_split_selects_clips(tmp_path):
    _write_clip(tmp_path, "happy_s1_v0", 30)
    _write_clip(tmp_path, "happy_s2_v0", 30)
    (tmp_path / "manifest.csv").write_text(
        "name,emotion,content_id,speaker,split\nhappy_s1_v0,happy,s1,v0,train\nhappy_s2_v0,happy,s2,v0,test\n"
    )
    test = EmoFaceDataset(tmp_path, split="test")
    assert [c.name for c in test.clips] == ["happy_s2_v0"] and test.clips[0].content_id == "s2"
    with pytest.raises(DatasetError, match="val"):
        EmoFaceDataset(tmp_path, split="val")


def test_missing_layout_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no WAV/ folder"):
        EmoFaceDataset(tmp_path)
    (tmp_path / "WAV").mkdir()
    with pytest.raises(DatasetError, match="no rig folder"):
        EmoFaceDataset(tmp_path)


def test_cut_pair_keeps_audio_in_step(tmp_path):
    _write_clip(tmp_path, "happy_a_v0", 40)
    _write_clip(tmp_path, "sad_a_v0", 50)
    data = EmoFaceDataset(tmp_path)
    a, b = cut_pair(data[0], data[1])
    assert a.rig.shape[0] == b.rig.shape[0] == 40
    assert a.audio.shape[0] == b.audio.shape[0] == samples_for_frames(40)
    for frames in range(1, 400):  # the audio of every cut length gives back exactly that many frames
        assert num_frames(samples_for_frames(frames)) == frames
        assert num_frames(samples_for_frames(frames) - 1) == frames - 1
    for clip in data:
        assert num_frames(clip.audio.shape[0]) == clip.rig.shape[0]
