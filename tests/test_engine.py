"""StreamingEngine, IdleMotion and FrameClock: frames in order, stream close to offline,
guidance transitions, idle behaviour, steady clock with hold and late counting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from livelink_bridge.clock import FrameClock
from livelink_bridge.engine import EngineConfig, StreamingEngine, stream_array
from livelink_bridge.frames import RigFrame
from livelink_bridge.idle import IdleConfig, IdleMotion
from medtalk_core.audio import FPS, SAMPLE_RATE, frame_samples, num_frames
from medtalk_core.rig import controller_names, s_lip, valid_ranges

JAW = controller_names().index("CTRL_C_jaw-translateY")

NAMES = controller_names()
NO_IDLE = dataclasses.replace(IdleConfig(), enabled=False)


@pytest.fixture(scope="module")
def animator(stream_animator):
    return stream_animator


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """2.5 s of speech-like audio: voiced bursts (harmonics with a moving pitch) and pauses."""
    t = np.arange(int(2.5 * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = (np.sin(2 * np.pi * 2.0 * t) > -0.2).astype(np.float64)
    noise = np.random.default_rng(0).standard_normal(t.shape) * 0.01
    return (0.3 * voiced * envelope + noise).astype(np.float32)


def test_frames_are_contiguous_in_range_and_timed(animator, speech):
    engine = StreamingEngine(animator, EngineConfig(), guidance="happy")
    frames = []
    t0 = 1000.0
    for start in range(0, speech.shape[0], 160):
        engine.insert_audio(speech[start:start + 160], t0 + start / SAMPLE_RATE)
        frames.extend(engine.process())
    assert frames, "frames must come out before the end of the stream"
    assert engine.frames_emitted < num_frames(speech.shape[0])  # the lookahead is held back...
    frames.extend(engine.finish())  # ...until the end
    assert [f.index for f in frames] == list(range(num_frames(speech.shape[0])))
    low, high = valid_ranges()
    values = np.stack([f.values for f in frames])
    assert np.all(values >= low) and np.all(values <= high)
    expected = t0 + np.array([frame_samples(f.index) for f in frames]) / SAMPLE_RATE
    assert np.allclose([f.capture_time for f in frames], expected, atol=1e-6)
    assert engine.runs >= num_frames(speech.shape[0]) // engine.hop  # one model run per hop


def test_stream_matches_offline_when_lookahead_covers_the_receptive_field(animator, speech):
    g = animator.guidance("sad")
    offline = animator.animate(speech, g, transcript="", smooth=True)
    cfg = EngineConfig(lookahead_ms=250.0, crossfade_ms=250.0, idle=NO_IDLE)
    streamed = stream_array(StreamingEngine(animator, cfg, guidance=g), speech)
    assert streamed.shape == offline.shape
    assert np.abs(streamed - offline).max() < 5e-3
    # with the low-latency defaults the stream still stays close on the lips
    fast = stream_array(StreamingEngine(animator, EngineConfig(idle=NO_IDLE), guidance=g), speech)
    lip = list(s_lip())
    assert np.abs(fast[:, lip] - offline[:, lip]).mean() < 0.01


def test_stream_is_not_misaligned_by_a_frame(animator, speech):
    """A guard on the alignment: shifting the stream by one frame must be clearly worse."""
    g = animator.guidance("angry")
    offline = animator.animate(speech, g, transcript="", smooth=True)
    cfg = EngineConfig(lookahead_ms=250.0, crossfade_ms=250.0, idle=NO_IDLE)
    streamed = stream_array(StreamingEngine(animator, cfg, guidance=g), speech)
    aligned = np.abs(streamed - offline).mean()
    shifted = np.abs(streamed[1:] - offline[:-1]).mean()
    assert aligned < 0.5 * shifted


class _Spy:
    """Wraps an Animator and records the guidance of each animate() call."""

    def __init__(self, animator):
        self.inner = animator
        self.calls: list[torch.Tensor] = []

    def guidance(self, *a, **k):
        return self.inner.guidance(*a, **k)

    def animate(self, audio, guidance, transcript=None, smooth=True):
        self.calls.append(torch.as_tensor(guidance))
        return self.inner.animate(audio, guidance, transcript=transcript, smooth=smooth)


def test_guidance_change_blends_over_transition_time(animator, speech):
    spy = _Spy(animator)
    # Two-frame hops (the default before issue 16): the clip then reaches past change + window.
    cfg = EngineConfig(transition_s=0.25, hop_ms=33.3, idle=NO_IDLE)
    engine = StreamingEngine(spy, cfg, guidance="neutral")
    g_a, g_b = animator.guidance("neutral"), animator.guidance("happy")
    half = speech.shape[0] // 2
    for start in range(0, half, 160):
        engine.insert_audio(speech[start:start + 160], start / SAMPLE_RATE)
        engine.process()
    change = engine.frames_emitted
    engine.set_guidance(g_b)
    spy.calls.clear()
    frames = []
    for start in range(half, speech.shape[0], 160):
        engine.insert_audio(speech[start:start + 160], start / SAMPLE_RATE)
        frames.extend(engine.process())
    first = spy.calls[0]
    assert first.dim() == 2, "a run inside a transition gets per-frame guidance (T, D)"
    # distance to the target falls monotonically over the transition frames
    newest = change + engine.lookahead + engine.hop  # the first run after the change ends here
    run_first = newest - first.shape[0]
    rows = first[change - run_first:]
    dist = (rows - g_b).norm(dim=-1)
    assert torch.all(dist[1:] <= dist[:-1] + 1e-6)
    assert torch.allclose(first[change - run_first - 1], g_a, atol=1e-5)  # before the change: old guidance
    assert spy.calls[-1].dim() == 1 and torch.allclose(spy.calls[-1], g_b)  # after it: plain target
    # frames well after the transition equal a stream guided by the target from the start
    ref = stream_array(StreamingEngine(animator, cfg, guidance=g_b), speech)
    late = [f for f in frames if f.index >= change + engine.transition + engine.window]
    assert late, "the clip must extend past the transition"
    got = np.stack([f.values for f in late])
    assert np.allclose(got, ref[[f.index for f in late]], atol=1e-5)


def test_idle_blinks_breathes_and_relaxes_the_mouth(animator):
    silence = np.zeros(int(5 * SAMPLE_RATE), np.float32)
    idle = IdleConfig(seed=3, blink_interval_s=(1.0, 2.0), breathing_period_s=2.0)
    values = stream_array(StreamingEngine(animator, EngineConfig(idle=idle), guidance="neutral"), silence)
    left = values[:, NAMES.index("CTRL_L_eye_blink-translateY")]
    right = values[:, NAMES.index("CTRL_R_eye_blink-translateY")]
    onsets = np.flatnonzero((left[1:] > 0.5) & (left[:-1] <= 0.5))
    assert len(onsets) >= 2, "a silent face still blinks"
    gaps = np.diff(onsets) / FPS
    assert np.all(gaps >= 1.0) and np.all(gaps <= 2.0 + idle.blink_duration_s)
    assert np.all(right[left > 0.9] > 0.9)  # both eyes together
    breath = values[:, NAMES.index("CTRL_neck_throatExhaleInhale-translateY")]
    assert np.ptp(breath) > 0.2  # slow breathing keeps the face alive
    lips = values[FPS:, list(s_lip())]
    assert np.abs(lips).max() < 1e-3  # the mouth rests in silence


def test_idle_is_reproducible_and_can_be_off():
    values = np.full(174, 0.2, np.float32)
    a, b = IdleMotion(IdleConfig(seed=1)), IdleMotion(IdleConfig(seed=1))
    out_a = [a.apply(values, i, silent=True) for i in range(600)]
    out_b = [b.apply(values, i, silent=True) for i in range(600)]
    assert np.array_equal(np.stack(out_a), np.stack(out_b))
    off = IdleMotion(NO_IDLE)
    assert np.array_equal(off.apply(values, 5, silent=True), values)


def test_chunk_too_large_for_the_ring_buffer_is_refused(animator):
    engine = StreamingEngine(animator, EngineConfig(), guidance="neutral")
    with pytest.raises(ValueError, match="overwrite"):
        engine.insert_audio(np.zeros(10 * SAMPLE_RATE, np.float32), 0.0)


def test_catch_up_runs_once_on_the_newest_window(animator, speech):
    engine = StreamingEngine(animator, EngineConfig(), guidance="neutral", catch_up=True)
    engine.insert_audio(speech[:8000], 0.0)  # 0.5 s arrives at once: inference fell behind
    frames = engine.process()
    assert engine.runs == 1
    assert [f.index for f in frames] == list(range(num_frames(8000) - engine.lookahead))


def _frames(indices, t0=100.0):
    return [RigFrame(i, t0 + i / FPS, np.full(174, i / 1000, np.float32)) for i in indices]


def test_clock_sends_each_frame_at_capture_plus_delay():
    clock = FrameClock(delay_s=0.1)
    clock.push(_frames(range(10)))
    assert clock.due(100.0 + 0.1 - 1e-3) == []
    sent = clock.due(100.0 + 0.1 + 4.5 / FPS)
    assert [f.index for f in sent] == [0, 1, 2, 3, 4]
    assert clock.deadline() == pytest.approx(100.0 + 0.1 + 5 / FPS)
    assert clock.late_frames == 0


def test_clock_continues_late_frames_and_drops_them_after():
    clock = FrameClock(delay_s=0.1)
    clock.push(_frames(range(5)))
    sent = clock.due(100.0 + 0.1 + 7.5 / FPS)  # frames 5..7 are due but were never computed
    assert [f.index for f in sent] == list(range(8))
    assert clock.late_frames == clock.held_frames == 3
    for a, b in zip(sent[4:], sent[5:]):  # a continuation of frame 4, never the same pose again
        assert not np.array_equal(a.values, b.values)
        assert np.abs(a.values - b.values).max() < 0.05  # and never a jump
    clock.push(_frames(range(5, 10)))  # the late ones arrive: 5..7 are dropped, 8, 9 go on time
    assert clock.dropped_frames == 3
    assert [f.index for f in clock.due(100.0 + 0.1 + 9.5 / FPS)] == [8, 9]


def test_continuation_never_repeats_a_pose_and_final_frames_fade_back_in():
    """A model that delivers nothing for two seconds: the face relaxes and breathes, no two
    consecutive frames alike; when final frames come back they take over through a crossfade."""
    speaking = np.zeros(174, np.float32)
    speaking[JAW] = 0.6
    clock = FrameClock(delay_s=0.1)
    clock.push([RigFrame(0, 100.0, speaking)])
    sent = []
    for k in range(121):  # a sender that wakes for every frame; frames 1..120 are never computed
        sent += clock.due(100.0 + 0.1 + (k + 0.5) / FPS)
    assert [f.index for f in sent] == list(range(121)) and clock.held_frames == 120
    values = np.stack([f.values for f in sent])
    assert not np.any(np.all(values[1:] == values[:-1], axis=1))
    assert np.abs(np.diff(values, axis=0)).max() < 0.1  # no jump: the mouth closes as in a pause
    assert values[-1, JAW] < 0.05 * speaking[JAW]  # the mouth relaxed as in a pause
    final = np.full(174, 0.3, np.float32)
    clock.push([RigFrame(i, 100.0 + i / FPS, final) for i in range(121, 131)])
    back = []
    for k in range(121, 131):
        back += clock.due(100.0 + 0.1 + (k + 0.5) / FPS)
    n = clock.continuation.cfg.takeover_frames
    distance = [float(np.abs(f.values - final).mean()) for f in back]
    assert all(a > b for a, b in zip(distance[:n], distance[1:n + 1]))  # fading in...
    assert distance[n] == 0.0 and np.array_equal(back[-1].values, final)  # ...then the final frames as they are


def test_adaptive_delay_grows_with_late_frames_and_comes_back_slowly():
    from livelink_bridge.playout_delay import PlayoutDelay

    delay = PlayoutDelay(0.07, 0.25)
    for k in range(600):  # ten seconds of frames ready 45 ms after capture: nothing to adapt to
        delay.observe(0.045, k / FPS)
        delay.step(k / FPS)
    assert delay.current == pytest.approx(0.07)
    t = 10.0
    delay.observe(0.150, t)  # one frame needed 150 ms: the delay grows to cover it, step by step
    steps = []
    for k in range(60):
        delay.step(t + k / FPS)
        steps.append(delay.current)
    assert steps[-1] == pytest.approx(0.150 + 0.005, abs=4e-3) and max(np.diff(steps)) <= 0.004 + 1e-9
    for k in range(60 * 60):  # a quiet minute: back within 10 ms of the base
        delay.observe(0.045, t + 1 + k / FPS)
        delay.step(t + 1 + k / FPS)
    assert delay.current < 0.08
    assert PlayoutDelay(0.07).current == 0.07 and not PlayoutDelay(0.07, 0.05).adaptive  # fixed


def test_clock_never_drifts_over_a_long_stream():
    clock = FrameClock(delay_s=0.05)
    total = 60 * 60 * 10  # ten minutes of frames
    clock.push(_frames(range(total), t0=0.0))
    sent = []
    for quarter in range(1, total // 15 + 1):  # a sender that wakes every 0.25 s (stale is 0.5 s: none is)
        sent += clock.due(quarter / 4 - 0.5 / FPS + 0.05)
    assert [f.index for f in sent] == list(range(total)) and clock.late_frames == clock.skipped_frames == 0
    assert clock.deadline(total - 1) == pytest.approx((total - 1) / FPS + 0.05, abs=1e-9)


def test_clock_stops_holding_when_draining():
    clock = FrameClock(delay_s=0.1)
    clock.push(_frames(range(3)))
    clock.drain()
    assert [f.index for f in clock.due(200.0)] == [0, 1, 2]
    assert clock.late_frames == 0 and clock.pending == 0


def test_transcripts_reach_the_windows_they_overlap(animator, speech):
    spy = _Spy(animator)
    texts: list[str | None] = []
    original = spy.animate

    def record(audio, guidance, transcript=None, smooth=True):
        texts.append(transcript)
        return original(audio, guidance, transcript=transcript, smooth=smooth)

    spy.animate = record
    engine = StreamingEngine(spy, EngineConfig(idle=NO_IDLE), guidance="neutral")
    engine.add_transcript(0, 30, "hello there")
    frames = []
    for start in range(0, speech.shape[0], 160):
        engine.insert_audio(speech[start:start + 160], start / SAMPLE_RATE)
        frames.extend(engine.process())
    assert texts[0] == "hello there"  # windows over frames 0..29 use the text (CMF head)
    assert texts[-1] == ""  # later windows: audio-only head, never the slow built-in transcriber
    assert None not in texts


def test_provisional_frames_stand_in_for_late_ones(animator, speech):
    engine = StreamingEngine(animator, EngineConfig(idle=NO_IDLE), guidance="neutral")
    engine.insert_audio(speech[:16000], 0.0)
    final = engine.process()
    ahead = engine.provisional()
    assert [f.index for f in ahead] == list(range(final[-1].index + 1, final[-1].index + 1 + engine.lookahead))
    # they are the model's own predictions of those frames: close to what becomes final
    engine.insert_audio(speech[16000:20000], 1.0)  # capture times continue the first chunk's
    later = {f.index: f for f in engine.process()}
    for f in ahead:
        assert np.abs(f.values - later[f.index].values).mean() < 0.02
        assert later[f.index].capture_time == pytest.approx(frame_samples(f.index) / SAMPLE_RATE, abs=1e-9)
        assert f.capture_time == pytest.approx(later[f.index].capture_time, abs=1e-9)
    clock = FrameClock(delay_s=0.1)
    clock.push(final)
    clock.offer(ahead)
    sent = clock.due(final[-1].capture_time + 0.1 + (engine.lookahead + 0.5) / FPS)
    assert [f.index for f in sent][-engine.lookahead:] == [f.index for f in ahead]
    assert clock.late_frames == engine.lookahead and clock.held_frames == 0
    assert np.array_equal(sent[-1].values, ahead[-1].values)


def test_bounded_lookahead_model_streams_as_offline(tmp_path, speech):
    """A model whose audio paths see 2 frames ahead equals offline once the engine waits for them
    (2 model + 2 feature-window + 2 smoothing frames); a centred model at the same lookahead does not."""
    from medtalk_core.backbones import BackboneConfig
    from medtalk_core.checkpoint import save
    from medtalk_core.inference import Animator
    from medtalk_core.model import MEDTalk, load_model_config

    look_ms = 6 * 1000 / 60
    cfg = EngineConfig(lookahead_ms=look_ms, crossfade_ms=look_ms, idle=NO_IDLE)
    diffs = {}
    for future in (2, None):
        torch.manual_seed(0)
        model = MEDTalk(dataclasses.replace(load_model_config("tiny"), encoder="temporal", future_frames=future))
        animator = Animator.from_checkpoint(save(tmp_path / str(future), model, BackboneConfig(), stage="init", step=0), "cpu")
        offline = animator.animate(speech, "happy", transcript="", smooth=True)
        streamed = stream_array(StreamingEngine(animator, cfg, guidance="happy"), speech)
        diffs[future] = np.abs(streamed - offline).max()
    assert diffs[2] < 2e-3
    assert diffs[None] > 10 * diffs[2]


def test_daemon_streams_with_the_shipped_live_model_by_default():
    from livelink_bridge.daemon import load_animator
    from livelink_bridge.daemon_config import DaemonConfig
    from medtalk_core.checkpoint import CONFIG_NAME
    from medtalk_core.inference import LIVE_MODEL_DIR

    if not (LIVE_MODEL_DIR / CONFIG_NAME).is_file():
        pytest.skip("no live model in this install")
    animator = load_animator(DaemonConfig())
    assert animator.model.cfg.future_frames is not None
    assert animator.model.cfg.future_frames <= round(EngineConfig().lookahead_ms * 60 / 1000)


@pytest.mark.parametrize("profile", [None, "low_latency.yaml"])
def test_each_live_profile_streams_a_shipped_model_trained_for_its_lookahead(profile):
    """The live model streams best at the lookahead it was trained with (docs/LIVE.md: the
    2-frame model at the low-latency profile's 1 frame closed 79% of bilabials, the 1-frame
    model 85%), so each profile must name the model made for it."""
    from pathlib import Path

    from livelink_bridge.daemon_config import load_daemon_config
    from medtalk_core import checkpoint as ckpt

    cfg = load_daemon_config(Path(__file__).resolve().parents[1] / "configs" / profile if profile else None)
    name = cfg.model.checkpoint or "shipped:live"  # the daemon's default (load_animator)
    assert name.startswith(ckpt.SHIPPED_PREFIX)
    if not (ckpt.shipped_model_dir(name[len(ckpt.SHIPPED_PREFIX):]) / ckpt.CONFIG_NAME).is_file():
        pytest.skip(f"{name} is not in this install")
    model = ckpt.load(name, "cpu").model_config
    assert model.future_frames == round(cfg.engine.lookahead_ms * FPS / 1000)


def test_clock_sends_nothing_past_the_end_of_a_known_stream():
    """A file's last frames are late and the main thread has not yet called drain(): no stand-in
    may be sent past the file's last frame."""
    clock = FrameClock(0.1)
    clock.set_end(3)
    clock.push([RigFrame(i, 10.0 + i / 60, np.full(174, i, np.float32)) for i in range(2)])
    sent = clock.due(10.0 + 0.1 + 10 / 60)  # after every deadline
    assert [f.index for f in sent] == [0, 1, 2]  # frame 2 held, nothing after it
    assert clock.finished and clock.due(200.0) == []
