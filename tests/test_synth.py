"""The synthetic dataset generator: alignment across emotions, lengths, determinism, splits, CLI."""

from __future__ import annotations

import csv
import ctypes.util
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livelink_bridge.cli import main
from medtalk_core import rig
from medtalk_core.audio import FPS, num_frames
from medtalk_core.data import espeak, expressions, visemes
from medtalk_core.data.emoface import EmoFaceDataset
from medtalk_core.data.rigmap import articulatory_rows, rows
from medtalk_core.data.synth import SynthOptions, assign_splits, generate, load_sentences

pytestmark = pytest.mark.skipif(
    ctypes.util.find_library("espeak-ng") is None,
    reason="libespeak-ng is not installed (sudo apt-get install espeak-ng libespeak-ng1)",
)

OPTIONS = SynthOptions(sentences=3, seed=5, workers=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, OPTIONS)
    return out


def _rig(root: Path, name: str) -> np.ndarray:
    return np.loadtxt(root / "CTR" / f"{name}.txt", delimiter=",", ndmin=2)


def _manifest(root: Path) -> list[dict[str, str]]:
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _by_content(root: Path) -> dict[str, dict[str, np.ndarray]]:
    groups: dict[str, dict[str, np.ndarray]] = {}
    for row in _manifest(root):
        groups.setdefault(f"{row['content_id']}_{row['speaker']}", {})[row["emotion"]] = _rig(root, row["name"])
    return groups


def test_layout_lengths_and_ranges(dataset: Path) -> None:
    rows_ = _manifest(dataset)
    assert len(rows_) == 3 * 7
    low, high = rig.valid_ranges()
    for row in rows_:
        name = row["name"]
        assert name.startswith(row["emotion"] + "_")
        audio, rate = sf.read(dataset / "WAV" / f"{name}.wav")
        assert rate == 16000 and audio.ndim == 1
        face = _rig(dataset, name)
        assert face.shape[1] == rig.NUM_CONTROLS
        assert abs(face.shape[0] - num_frames(len(audio))) <= 1
        assert (face >= low - 1e-6).all() and (face <= high + 1e-6).all()
        assert (dataset / "TXT" / f"{name}.txt").read_text(encoding="utf-8").strip()
    # The lead's EmoFace reader takes the folder as it is, with no clip skipped for length.
    assert len(EmoFaceDataset(dataset)) == len(rows_)


def test_lips_identical_across_emotions(dataset: Path) -> None:
    art = list(articulatory_rows())
    for group in _by_content(dataset).values():
        assert len(group) == 7
        ref = group["neutral"]
        assert np.abs(ref[:, art]).max() > 0.3  # the mouth really moves
        for emo, face in group.items():
            assert face.shape == ref.shape
            np.testing.assert_array_equal(face[:, art], ref[:, art], err_msg=emo)


def test_upper_face_differs_between_emotions(dataset: Path) -> None:
    up = list(rig.s_up())
    for group in _by_content(dataset).values():
        mean_pose = {emo: face[:, up].mean(axis=0) for emo, face in group.items()}
        for a, b in itertools.combinations(rig.EMOTIONS, 2):
            gap = np.abs(mean_pose[a] - mean_pose[b]).max()
            assert gap > 0.15, f"{a} vs {b}: upper face differs by only {gap:.3f}"


def test_audio_in_sync_across_emotions(dataset: Path) -> None:
    """Every rendition's loudness envelope follows the shared timeline: it correlates strongly with
    the neutral one as it is, and weakly once shifted by 6 frames (100 ms)."""
    hop = 16000 // FPS
    for row in _manifest(dataset):
        if row["emotion"] != "neutral":
            continue
        stem = row["name"].removeprefix("neutral_")
        envelopes = {}
        for emo in rig.EMOTIONS:
            audio, _ = sf.read(dataset / "WAV" / f"{emo}_{stem}.wav")
            frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
            envelopes[emo] = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-5)  # (T,) dB
        ref = envelopes["neutral"]
        for emo, env in envelopes.items():
            aligned = np.corrcoef(env, ref)[0, 1]
            shifted = np.corrcoef(env[6:], ref[:-6])[0, 1]
            assert aligned > 0.85 and aligned > shifted + 0.3, f"{emo}: {aligned:.2f} vs shifted {shifted:.2f}"


def test_jaw_peaks_at_vowel_centres() -> None:
    utt = espeak.engine().synthesize("Bob sat on top of that big map.", espeak.Voice())
    segs = visemes.segments(utt.phonemes, len(utt.audio) / utt.sample_rate)
    frames = int(len(utt.audio) / utt.sample_rate * FPS)
    jaw = visemes.articulate(segs, frames)[:, rows("jaw-translateY")[0]]
    checked = 0
    for prev, seg, nxt in zip(segs, segs[1:], segs[2:]):
        if not seg.is_vowel or prev.is_vowel or nxt.is_vowel or prev.symbol == "" or nxt.symbol == "":
            continue
        centre = seg.centre * FPS
        lo, hi = int(prev.centre * FPS), int(np.ceil(nxt.centre * FPS)) + 1
        peak = lo + int(np.argmax(jaw[lo:hi]))
        assert abs(peak - centre) <= 2, f"{seg.symbol}: peak at frame {peak}, centre {centre:.1f}"
        checked += 1
    assert checked >= 5


def test_deterministic_and_parallel_equal(dataset: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, SynthOptions(sentences=3, seed=5, workers=2))
    for row in _manifest(dataset):
        for sub, ext in (("WAV", "wav"), ("CTR", "txt")):
            a = (dataset / sub / f"{row['name']}.{ext}").read_bytes()
            assert a == (again / sub / f"{row['name']}.{ext}").read_bytes(), row["name"]
    assert _manifest(again) == _manifest(dataset)


def test_split_by_sentence() -> None:
    ids = [f"s{i:04d}" for i in range(40)]
    split = assign_splits(ids, seed=1, val_fraction=0.1, test_fraction=0.1)
    assert set(split) == set(ids)
    assert sorted(list(split.values()).count(s) for s in ("train", "val", "test")) == [4, 4, 32]
    assert assign_splits(ids, seed=1, val_fraction=0.1, test_fraction=0.1) == split


def test_manifest_never_splits_a_sentence(dataset: Path) -> None:
    seen: dict[str, set[str]] = {}
    for row in _manifest(dataset):
        seen.setdefault(row["content_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in seen.values())
    assert {s.pop() for s in seen.values()} == {"train", "val", "test"}


def test_intensity_higher_on_loaded_words(dataset: Path, tmp_path: Path) -> None:
    text = tmp_path / "lines.txt"
    text.write_text("# a comment line\nI hate it when the terrible rain ruins the day.\n", encoding="utf-8")
    out = tmp_path / "out"
    generate(out, SynthOptions(text_file=text, seed=0, workers=1))
    assert load_sentences(text) == [("s0001", "I hate it when the terrible rain ruins the day.")]
    with open(out / "ALIGN" / "angry_s0001_v0.tsv", encoding="utf-8", newline="") as fh:
        weights = {r["word"].strip(".,").lower(): float(r["weight"]) for r in csv.DictReader(fh, delimiter="\t")}
    assert set(weights) >= {"hate", "terrible", "ruins", "the", "it"}
    assert min(weights["hate"], weights["terrible"], weights["ruins"]) > max(weights["the"], weights["it"])
    assert (out / "TXT" / "happy_s0001_v0.txt").read_text(encoding="utf-8").strip().startswith("I hate it")


def test_emotion_layer_leaves_articulation_alone() -> None:
    face = expressions.express("angry", np.ones(120, np.float32), np.random.default_rng(0))
    assert np.abs(face[:, list(articulatory_rows())]).max() == 0.0
    assert face[:, rows("brow_down")].mean() > 0.3


def test_missing_espeak_gives_one_clear_message(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(espeak.LIBRARY_ENV, "libespeak-ng-not-here.so.9")
    code = main(["synth", "--out", str(tmp_path / "x"), "--sentences", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "sudo apt-get install espeak-ng libespeak-ng1" in err[0]
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_refuses_non_empty_output(dataset: Path, capsys) -> None:
    assert main(["synth", "--out", str(dataset), "--sentences", "1"]) == 2
    assert "--force" in capsys.readouterr().err


def test_plot_writes_png(dataset: Path, tmp_path: Path) -> None:
    name = _manifest(dataset)[0]["name"]
    png = tmp_path / "clip.png"
    assert main(["synth", "--plot", str(dataset / "CTR" / f"{name}.txt"), "--out", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert main(["synth", "--plot", str(dataset / "nope"), "--out", str(png)]) == 2


def test_a_pseudo_labelled_bilabial_reaches_full_closure() -> None:
    """On forced-alignment timings (a word's phones of tens of ms each), /p b m/ close the lips
    fully, and /f θ w/ bring the jaw and lower lip up, between open vowels."""
    def phones(*timed: tuple[str, float]) -> tuple[tuple[str, float], ...]:
        return tuple(timed)

    # "a map of a thief": 60-80 ms consonants between 120 ms vowels, as pocketsphinx times them
    timing = phones(("", 0.0), ("ɑ", 0.10), ("m", 0.22), ("ɑ", 0.29), ("p", 0.41), ("ɑ", 0.48), ("f", 0.60),
                    ("ɑ", 0.68), ("θ", 0.80), ("ɑ", 0.87), ("w", 0.99), ("ɑ", 1.06), ("", 1.18))
    segs = visemes.segments(timing, 1.3)
    face = visemes.articulate(segs, int(1.3 * FPS))
    jaw = face[:, rows("jaw-translateY")[0]]
    depress = face[:, rows("mouth_lowerLipDepress")].mean(axis=1)
    together = face[:, rows("mouth_lipsTogetherU") + rows("mouth_lipsTogetherD")].mean(axis=1)
    opening = np.maximum(jaw + depress - together, 0.0)
    at = {s.symbol + str(i): int(round(s.centre * FPS)) for i, s in enumerate(segs)}
    vowel_peak = max(opening[at[k]] for k in at if k.startswith("ɑ"))
    for bilabial in ("m2", "p4"):
        assert opening[at[bilabial]] < 0.05 * vowel_peak  # the lips meet: closed
        assert face[at[bilabial], rows("mouth_lipsTogetherD")].mean() > 0.7
    for closing in ("f6", "θ8", "w10"):  # nearly closed, even between the most open vowels
        assert opening[at[closing]] < 0.5 * min(opening[at[k]] for k in at if k.startswith("ɑ")), closing
