"""The scoring of benchmarks/video_lips.py on a video whose lip gap is known: landmarks written
directly, so every number the benchmark reports can be checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from script_modules import load_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
VIDEO_FPS = 25.0
SECONDS = 4.0


@pytest.fixture(scope="module")
def video_lips():
    return load_script(BENCHMARKS / "video_lips.py")


def lip_gap(t: np.ndarray) -> np.ndarray:
    """A known lip gap (share of the eye distance): open syllables at 2.5 Hz, closed between them."""
    return 0.3 * np.clip(np.sin(2 * np.pi * 2.5 * t), 0.0, None)


def synthetic_track(video_lips):
    from video_faces import VideoTrack

    frames = int(SECONDS * VIDEO_FPS)
    t = np.arange(frames) / VIDEO_FPS
    landmarks = np.zeros((frames, 478, 3), np.float32)
    eye = 100.0  # px between the outer eye corners
    landmarks[:, 33, 0], landmarks[:, 263, 0] = 0.0, eye
    for upper, lower in video_lips.GAP_PAIRS:
        landmarks[:, upper, 1] = 200.0
        landmarks[:, lower, 1] = 200.0 + eye * lip_gap(t)
    landmarks[:, 61, 0], landmarks[:, 291, 0] = 20.0, 20.0 + eye * (0.5 - 0.2 * lip_gap(t))
    rng = np.random.default_rng(0)
    audio = (0.001 * rng.standard_normal(int(SECONDS * 16000))).astype(np.float32)
    voiced = slice(int(0.4 * 16000), int(3.6 * 16000))
    ts = np.arange(voiced.stop - voiced.start) / 16000
    syllables = 0.2 + 0.8 * np.clip(np.sin(2 * np.pi * 4.0 * ts), 0.0, None)  # speech dips between syllables
    audio[voiced] += (0.2 * syllables * np.sin(2 * np.pi * 150 * ts)).astype(np.float32)
    return VideoTrack(VIDEO_FPS, landmarks, audio)


def test_the_lip_gap_and_the_grid_sentence_come_back(video_lips) -> None:
    clip = video_lips.clip_from_track("spk", "bbaf2n", synthetic_track(video_lips))
    assert clip.sentence == "bin blue at ef two now"
    assert video_lips.grid_sentence("vrt_face1") is None
    t = np.arange(clip.gap.shape[0]) / 60.0
    inside = t < SECONDS - 1 / VIDEO_FPS
    assert np.abs(clip.gap[inside] - lip_gap(t[inside])).max() < 0.04  # linear between video frames
    assert 0.25 * 60 <= clip.span.start <= 0.45 * 60 and 3.55 * 60 <= clip.span.stop <= 4.0 * 60  # the speech (and its hangover)


def test_scores_of_a_perfect_a_late_and_a_shallow_face(video_lips) -> None:
    clip = video_lips.clip_from_track("spk", "bbaf2n", synthetic_track(video_lips))
    perfect = video_lips.Tally()
    perfect.add(clip, clip.gap.copy(), -clip.width)
    r, lag, closed, caught, level, video_level, rounding = perfect.row()
    assert float(r) > 0.999 and lag == "+0 ms" and closed == "1.00 / 1.00" and float(rounding) > 0.999
    events = perfect.events
    assert events >= 5 and caught == f"{events} of {events}" and level == video_level

    late = video_lips.Tally()
    late.add(clip, np.concatenate([np.zeros(3), clip.gap[:-3]]), None)  # 3 frames (50 ms) behind
    assert late.lags == [3] and late.row()[1] == "+50 ms"

    shallow = clip.gap.copy()
    closures = video_lips._runs(video_lips._share(clip.gap[clip.span]) < video_lips.CLOSED_SHARE)
    first, last = closures[2]
    shallow[clip.span.start + first - 3: clip.span.start + last + 3] = 0.15  # one closure left half open
    missed = video_lips.Tally()
    missed.add(clip, shallow, None)
    assert missed.caught == missed.events - 1
    assert float(missed.row()[4]) > float(perfect.row()[4])  # more open where the video's lips meet


def test_the_opening_of_a_rig_is_floored_at_closed(video_lips) -> None:
    from medtalk_core.data.rigmap import rows
    from medtalk_core.rig import NUM_CONTROLS

    face = np.zeros((3, NUM_CONTROLS), np.float32)
    face[0, rows("jaw-translateY")[0]] = 0.4
    face[1, rows("mouth_lipsTogetherU") + rows("mouth_lipsTogetherD")] = 0.8  # pressed: no more closed than met
    face[2, rows("mouth_purseU") + rows("mouth_purseD")] = 0.5
    assert np.allclose(video_lips.opening(face), [0.4, 0.0, 0.0])
    assert np.allclose(video_lips.rounding(face), [0.0, 0.0, 1.0])


def test_the_phone_table_shows_where_the_articulation_is_too_open(video_lips) -> None:
    from types import SimpleNamespace

    from medtalk_core.data.rigmap import rows
    from medtalk_core.rig import NUM_CONTROLS

    clip = video_lips.clip_from_track("spk", "bbaf2n", synthetic_track(video_lips))
    frames = clip.gap.shape[0]
    # "a" at every open peak of the known lip gap, "m" in the middle of every closed stretch.
    phones = [SimpleNamespace(ipa=ipa, start=c - 0.04, end=c + 0.04)
              for k in range(1, 9) for ipa, c in (("a", 0.1 + 0.4 * k), ("m", 0.3 + 0.4 * k)) if c + 0.05 < 3.5]
    face = np.zeros((frames, NUM_CONTROLS), np.float32)
    face[:, rows("jaw-translateY")[0]] = clip.gap
    for p in phones:
        if p.ipa == "m":  # the articulation leaves the lips half open where the video's are shut
            face[int(p.start * 60): int(p.end * 60) + 1, rows("jaw-translateY")[0]] = 0.15
    reference = SimpleNamespace(phones=lambda c: phones, articulation=lambda c, p: face)
    table = video_lips.phone_table([clip], reference)
    assert [row[0] for row in table] == ["m", "a"]  # the too-open phone first
    m, a = table
    assert float(m[2]) < 0.05 and float(m[3]) > 0.3 and float(m[4]) > 0.3  # video shut, articulation half open
    assert float(a[2]) > 0.9 and abs(float(a[4])) < 0.05  # open vowels agree
