"""Procedural head and eye motion: streaming equals batch, seeds, speech-driven behaviour and the
published figures it aims at, measured by motion_statistics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from livelink_bridge.sources import example_path
from medtalk_core import audio
from medtalk_core.head_eyes import (COLUMNS, EMOTION_STYLES, SILENCE_DB, HeadEyes, HeadEyesConfig,
                                    frame_energy_db, speaking_frames)
from medtalk_core.head_eyes_stats import motion_statistics
from medtalk_core.rig import EMOTIONS

FPS = audio.FPS
HEAD, EYES, BLINK = slice(0, 3), slice(3, 5), 5


def syllables(speech_s: float, silence_s: float, repeats: int, seed: int = 1) -> np.ndarray:
    """Energy (dBFS per frame) of syllable-like bursts at 4-5 Hz with uneven loudness (some
    syllables stressed), each stretch of speech followed by digital silence."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(repeats):
        t = np.arange(int(speech_s * FPS)) / FPS
        rate = rng.uniform(4.0, 5.0)
        shape = np.sin(np.pi * ((t * rate) % 1.0)) ** 2  # one bump per syllable
        loudness = rng.uniform(-6.0, 6.0, size=int(speech_s * rate) + 1)[(t * rate).astype(int)]
        parts += [-45.0 + (20.0 + loudness) * shape, np.full(int(silence_s * FPS), SILENCE_DB)]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def conversation() -> np.ndarray:
    """Five minutes: 30 x (6 s speech + 4 s silence)."""
    return syllables(6.0, 4.0, 30)


@pytest.fixture(scope="module")
def motion(conversation) -> np.ndarray:
    return HeadEyes(HeadEyesConfig()).step(conversation)


@pytest.fixture(scope="module")
def stats(motion, conversation) -> dict:
    return motion_statistics(motion, speaking_frames(conversation))


@pytest.fixture(scope="module")
def example_energy() -> np.ndarray:
    """The packaged example speech with 4 s of silence before and after."""
    silence = np.full(4 * FPS, SILENCE_DB, dtype=np.float32)
    return np.concatenate([silence, frame_energy_db(audio.load_audio(example_path())), silence])


def gaze(values: np.ndarray) -> np.ndarray:
    """(frames, 2) gaze in the world: head + eye in the head."""
    return values[:, 0:2] + values[:, 3:5]


def test_frame_energy_db_matches_audio_helpers():
    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(16000 + 123)).astype(np.float32)
    samples[:800] = 0.0  # three frames of digital silence
    energy = frame_energy_db(samples)
    frames = audio.num_frames(samples.shape[0])
    expected = [20 * np.log10(max(audio.rms(samples[audio.frame_samples(i):audio.frame_samples(i + 1)]), 1e-6))
                for i in range(frames)]
    assert energy.shape == (frames,) and energy.dtype == np.float32
    np.testing.assert_allclose(energy, expected, atol=1e-4)
    assert energy[:3].tolist() == [SILENCE_DB] * 3
    assert frame_energy_db(np.zeros(100, np.float32)).shape == (0,)
    with pytest.raises(ValueError):
        frame_energy_db(np.zeros((100, 2)))


def test_output_columns_ranges_and_dtype(motion, conversation):
    assert COLUMNS == ("head_yaw", "head_pitch", "head_roll", "eye_yaw", "eye_pitch", "blink")
    assert motion.shape == (conversation.shape[0], 6) and motion.dtype == np.float32
    assert np.isfinite(motion).all()
    assert motion[:, BLINK].min() >= 0.0 and motion[:, BLINK].max() == pytest.approx(1.0, abs=0.05)
    assert (np.abs(motion[:, HEAD]).max(axis=0) < HeadEyesConfig().head_limit_deg).all()  # neutral: rest 0
    assert np.abs(motion[:, EYES]).max() < 45.0  # the eyes' mechanical range


def test_chunked_steps_are_bit_identical_to_one_call(conversation):
    energy = conversation[: 40 * FPS]
    whole = HeadEyes(HeadEyesConfig(seed=3)).step(energy)
    rng = np.random.default_rng(0)
    for sizes in ([1], [7], [33], rng.integers(1, 50, size=200).tolist()):
        gen, parts, start, i = HeadEyes(HeadEyesConfig(seed=3)), [], 0, 0
        while start < energy.shape[0]:
            size = sizes[i % len(sizes)]
            parts.append(gen.step(energy[start:start + size]))
            start, i = start + size, i + 1
        assert np.array_equal(np.concatenate(parts), whole), sizes


def test_seed_decides_the_motion_and_reset_restarts_it(conversation):
    energy = conversation[: 30 * FPS]
    gen = HeadEyes(HeadEyesConfig(seed=5))
    first = gen.step(energy)
    assert np.array_equal(first, HeadEyes(HeadEyesConfig(seed=5)).step(energy))
    gen.reset()
    assert np.array_equal(gen.step(energy), first)
    other = HeadEyes(HeadEyesConfig(seed=6)).step(energy)
    assert np.abs(other - first)[:, HEAD].mean() > 0.5  # degrees: a different motion, not a rounding


def test_no_look_ahead(conversation):
    energy = conversation[: 20 * FPS].copy()
    before = HeadEyes(HeadEyesConfig()).step(energy)
    for k in (0, 250, 700, 1000):
        changed = energy.copy()
        changed[k + 1:] = np.where(changed[k + 1:] > -60.0, SILENCE_DB, -25.0)  # speech <-> silence after k
        after = HeadEyes(HeadEyesConfig()).step(changed)
        assert np.array_equal(after[: k + 1], before[: k + 1])
        assert not np.array_equal(after, before)


def test_disabled_gives_zeros(conversation):
    out = HeadEyes(HeadEyesConfig(enabled=False)).step(conversation[:600], emotion="angry")
    assert out.shape == (600, 6) and out.dtype == np.float32 and not out.any()


def test_head_moves_more_while_speaking(stats):
    speaking, silent = stats["speaking"], stats["silent"]
    for axis, (lo, hi) in zip(COLUMNS[HEAD], ((3.0, 6.0), (2.0, 5.0), (1.5, 3.0))):
        assert lo <= speaking[f"{axis}_std_deg"] <= hi, axis  # talking-face ranges (module docstring)
        assert speaking[f"{axis}_std_deg"] > 1.2 * silent[f"{axis}_std_deg"], axis
        assert speaking[f"{axis}_p95_speed_deg_s"] > 1.5 * silent[f"{axis}_p95_speed_deg_s"], axis
    assert 10.0 <= max(speaking[f"{a}_p95_speed_deg_s"] for a in COLUMNS[HEAD]) <= 60.0  # tens of deg/s


def test_head_settles_in_silence(motion, conversation):
    """In the last 1.5 s of each 4 s silence the head is near its rest pose and slow."""
    period = 10 * FPS
    tails = np.concatenate([np.arange(start + 8.5 * FPS, start + 10 * FPS, dtype=int)
                            for start in range(0, conversation.shape[0], period)])
    speech = speaking_frames(conversation)
    head = motion[:, HEAD].astype(np.float64)
    assert np.sqrt(np.mean(head[tails] ** 2)) < 0.6 * np.sqrt(np.mean(head[speech] ** 2))
    speed = np.abs(np.diff(head, axis=0)) * FPS  # speed[k - 1]: into frame k
    assert np.percentile(speed[tails - 1], 95) < 0.4 * np.percentile(speed[speech[1:] & speech[:-1]], 95)


def test_head_scale_multiplies_every_head_amplitude(conversation):
    energy = conversation[: 40 * FPS]
    full = HeadEyes(HeadEyesConfig()).step(energy, emotion="sad")  # sad: a rest pitch to scale too
    half = HeadEyes(HeadEyesConfig(head_scale=0.5)).step(energy, emotion="sad")
    np.testing.assert_allclose(half[:, HEAD], 0.5 * full[:, HEAD], atol=1e-5)
    np.testing.assert_allclose(gaze(half), gaze(full), atol=1e-4)  # the eyes do the same
    assert np.array_equal(half[:, BLINK], full[:, BLINK])


def test_emotion_table_covers_the_rig_emotions(conversation):
    assert set(EMOTION_STYLES) == set(EMOTIONS)
    with pytest.raises(ValueError, match="unknown emotion"):
        HeadEyes(HeadEyesConfig()).step(conversation[:10], emotion="bored")


def test_sad_moves_less_and_lower_than_happy(conversation):
    speaking = speaking_frames(conversation)
    runs = {e: HeadEyes(HeadEyesConfig()).step(conversation, emotion=e) for e in ("sad", "neutral", "happy")}
    stats = {e: motion_statistics(v, speaking)["speaking"] for e, v in runs.items()}
    for axis in COLUMNS[HEAD]:
        assert stats["sad"][f"{axis}_std_deg"] < stats["neutral"][f"{axis}_std_deg"] < stats["happy"][f"{axis}_std_deg"]
    assert stats["sad"]["head_pitch_p95_speed_deg_s"] < stats["happy"]["head_pitch_p95_speed_deg_s"]
    mean_pitch = {e: float(v[:, 1].mean()) for e, v in runs.items()}
    assert mean_pitch["sad"] < mean_pitch["neutral"] - 3.0 and mean_pitch["happy"] > mean_pitch["sad"]


@pytest.mark.parametrize("switch_s", [3.0, 7.5])  # in speech, in silence
def test_an_emotion_switch_glides(conversation, switch_s):
    """neutral -> surprised (rest pitch +4 deg): no jump at the switch, the pitch gets there."""
    energy, k = conversation[: 20 * FPS], int(switch_s * FPS)
    gen = HeadEyes(HeadEyesConfig())
    out = np.concatenate([gen.step(energy[:k], "neutral"), gen.step(energy[k:], "surprised")])
    steady = HeadEyes(HeadEyesConfig()).step(energy, "neutral")
    step = np.abs(np.diff(out[:, HEAD], axis=0))  # deg per frame
    assert step[k - 2:k + FPS].max() < 1.0  # a jump of the rest pose would be 4 deg
    assert step[k - 2:k + FPS].max() <= np.abs(np.diff(steady[:, HEAD], axis=0)).max() + 0.2
    assert out[k + 2 * FPS:k + 3 * FPS, 1].mean() > steady[k + 2 * FPS:k + 3 * FPS, 1].mean() + 2.0


def test_main_sequence_and_saccade_sizes(stats):
    assert stats["saccades_fitted"] > 200
    assert 1.5 <= stats["main_sequence_slope_ms_per_deg"] <= 3.0  # Carpenter 1988: 2.2
    assert 15.0 <= stats["main_sequence_intercept_ms"] <= 35.0  # Carpenter 1988: 21
    assert 3.0 <= stats["saccade_amplitude_median_deg"] <= 8.0
    assert stats["saccade_amplitude_p90_deg"] < 15.0  # Malinov et al. 2000: 83% under 15 deg


def test_saccade_and_blink_rates(stats):
    for condition in ("speaking", "silent"):
        assert 40.0 <= stats[condition]["saccades_per_min"] <= 120.0, condition  # fixations ~0.5-1.5 s
    assert 15.0 <= stats["speaking"]["blinks_per_min"] <= 32.0  # Bentivoglio 1997: ~26 talking
    assert 8.0 <= stats["silent"]["blinks_per_min"] <= 24.0  # ~17 at rest, fewer while listening


def test_blinks_close_fast_and_open_slower(motion):
    blink = motion[:, BLINK]
    closed = blink > 0.0
    starts = np.flatnonzero(closed & ~np.r_[False, closed[:-1]])
    ends = np.flatnonzero(closed & ~np.r_[closed[1:], False])
    lengths = (ends - starts + 1) / FPS
    assert starts.size > 80 and lengths.max() <= 0.3 + 1 / FPS and lengths.min() >= 0.1 - 2 / FPS
    peaks = np.array([s + np.argmax(blink[s:e + 1]) for s, e in zip(starts, ends)])
    assert np.mean(peaks - starts) < np.mean(ends - peaks)  # closing is the quicker phase


def test_gaze_holds_still_between_saccades(motion):
    """Fixations: the gaze does not move at all for most frames, whatever the head does."""
    speed = np.hypot(*np.diff(gaze(motion.astype(np.float64)), axis=0).T) * FPS
    assert np.mean(speed < 0.01) > 0.8
    assert np.abs(np.diff(motion[:, 0])).mean() * FPS > 2.0  # while the head moves


def test_gaze_target_centres_fixations(conversation):
    gen = HeadEyes(HeadEyesConfig())
    gen.set_gaze_target(10.0, -5.0)
    looks = gaze(gen.step(np.full(60 * FPS, SILENCE_DB)).astype(np.float64))[FPS:]  # no speech: no aversion
    assert np.median(looks[:, 0]) == pytest.approx(10.0, abs=1.0)
    assert np.median(looks[:, 1]) == pytest.approx(-5.0, abs=1.0)

    steady = HeadEyes(HeadEyesConfig(saccades=False))
    start = steady.step(conversation[:FPS])
    np.testing.assert_allclose(gaze(start.astype(np.float64)), 0.0, atol=1e-4)  # eyes counter the head
    steady.set_gaze_target(-8.0, 3.0)
    moved = gaze(steady.step(conversation[FPS:20 * FPS]).astype(np.float64))
    np.testing.assert_allclose(moved[FPS:], np.broadcast_to([-8.0, 3.0], moved[FPS:].shape), atol=1e-4)
    from_start, from_end = np.hypot(*moved.T), np.hypot(*(moved - [-8.0, 3.0]).T)
    assert np.count_nonzero((from_start > 0.1) & (from_end > 0.1)) >= 2  # frames in flight: no jump


def test_gaze_averts_at_speech_onsets(motion, conversation):
    speaking = speaking_frames(conversation)
    onsets = np.flatnonzero(speaking & ~np.r_[False, speaking[:-1]])
    distance = np.hypot(*gaze(motion.astype(np.float64)).T)  # from the target, straight ahead
    away = np.array([distance[k:k + FPS].max() > 5.0 for k in onsets])
    back = np.array([np.median(distance[k + 3 * FPS:k + 4 * FPS]) < 5.0 for k in onsets])
    assert onsets.size == 30 and 0.4 <= away.mean() <= 0.9 and back.mean() > 0.65


def test_example_speech(example_energy):
    speaking = speaking_frames(example_energy)
    assert 0.3 < speaking.mean() < 0.7  # 9.5 s of speech in 17.5 s
    values = HeadEyes(HeadEyesConfig()).step(example_energy)
    stats = motion_statistics(values, speaking)
    for axis in COLUMNS[HEAD]:
        assert stats["speaking"][f"{axis}_p95_speed_deg_s"] > 1.5 * stats["silent"][f"{axis}_p95_speed_deg_s"]
    assert stats["speaking"]["head_yaw_std_deg"] > stats["silent"]["head_yaw_std_deg"]
    assert stats["saccades_fitted"] >= 5


def test_real_speech(real_speech):
    """LibriVox utterances with 3 s of silence after each: the same behaviour on real recordings."""
    silence = np.full(3 * FPS, SILENCE_DB, dtype=np.float32)
    energy = np.concatenate([part for path in real_speech.values()
                             for part in (frame_energy_db(audio.load_audio(path)), silence)])
    speaking = speaking_frames(energy)
    stats = motion_statistics(HeadEyes(HeadEyesConfig()).step(energy), speaking)
    assert stats["speaking"]["seconds"] > 10.0
    for axis in COLUMNS[HEAD]:
        assert stats["speaking"][f"{axis}_p95_speed_deg_s"] > stats["silent"][f"{axis}_p95_speed_deg_s"]


def test_motion_statistics_on_a_known_trace():
    """Two minutes: a 1 deg sine on the head, 20 min-jerk saccades of 2-20 deg on the Carpenter
    main sequence at random sub-frame phases, 10 blinks; speaking the first minute."""
    fps, frames = 60, 120 * 60
    t = np.arange(frames) / fps
    values = np.zeros((frames, 6))
    values[:, 0] = np.sin(2 * np.pi * 0.5 * t)  # yaw: std 1/sqrt(2), top speed pi deg/s
    rng = np.random.default_rng(0)
    position = 0.0
    for i, start in enumerate(np.arange(20) * 6.0 + 1.0 + rng.uniform(0, 1 / fps, 20)):
        amplitude = 2.0 + 18.0 * i / 19
        duration = (2.2 * amplitude + 21.0) / 1000.0
        s = np.clip((t - start) / duration, 0.0, 1.0)
        values[:, 3] += amplitude * (-1) ** i * s ** 3 * (10 - 15 * s + 6 * s * s)  # eye yaw
        position += amplitude * (-1) ** i
    values[:, 3] -= values[:, 0]  # eyes in the head: counter the head, as the generator does
    for start in np.arange(10) * 12.0 + 4.0:
        values[(t >= start) & (t < start + 0.15), 5] = 1.0
    speaking = t < 60.0
    stats = motion_statistics(values.astype(np.float32), speaking, fps=fps)
    for condition in ("speaking", "silent"):
        assert stats[condition]["seconds"] == 60.0
        assert stats[condition]["head_yaw_std_deg"] == pytest.approx(1 / np.sqrt(2), rel=0.01)
        assert stats[condition]["head_yaw_p95_speed_deg_s"] == pytest.approx(np.pi, rel=0.02)
        assert stats[condition]["head_pitch_std_deg"] == 0.0
        assert stats[condition]["saccades_per_min"] == 10.0 and stats[condition]["blinks_per_min"] == 5.0
    assert stats["saccades_fitted"] == 20
    assert stats["main_sequence_slope_ms_per_deg"] == pytest.approx(2.2, abs=0.4)
    assert stats["main_sequence_intercept_ms"] == pytest.approx(21.0, abs=6.0)


def test_speaking_frames_follow_the_energy():
    energy = np.concatenate([np.full(60, SILENCE_DB), np.full(60, -25.0), np.full(120, SILENCE_DB)])
    speaking = speaking_frames(energy)
    pause = int(HeadEyesConfig().pause_s * FPS)
    assert not speaking[:60].any() and speaking[60:120].all()
    assert speaking[120:120 + pause - 1].all() and not speaking[120 + pause + 1:].any()
    hum = speaking_frames(np.concatenate([np.full(60, SILENCE_DB), np.full(5 * FPS, -30.0)]))
    assert not hum[-2 * FPS:].any()  # a steady sound becomes the noise floor: not speech
    noise = np.random.default_rng(0).uniform(-53.0, -47.0, 8 * FPS)  # background noise at -50 dBFS
    noise[2 * FPS:6 * FPS] += 25.0 * np.sin(np.pi * 4.5 * np.arange(4 * FPS) / FPS) ** 2  # syllables, 2-6 s
    speaking = speaking_frames(noise)
    assert not speaking[:2 * FPS].any() and speaking[2 * FPS + 6:6 * FPS].all() and not speaking[7 * FPS:].any()


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HeadEyesConfig().seed = 1  # type: ignore[misc]
