"""`--monitor`: with an injected output stream and clock, every sample is heard within one frame
of the moment the output clock sends the frame that animates it, at the device's own rate, with
jittery callbacks, and after a stall; the daemon hands the monitor every sample of its source."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from livelink_bridge.clock import FrameClock
from livelink_bridge.daemon import Daemon
from livelink_bridge.daemon_config import DaemonConfig, validate
from livelink_bridge.frames import RigFrame
from livelink_bridge.sources.monitor import AudioMonitor
from livelink_bridge.sources import AudioChunk, example_path
from medtalk_core.audio import FPS, SAMPLE_RATE, frame_samples, load_audio, num_frames, write_audio
from medtalk_core.errors import ConfigError

rep = dataclasses.replace
DELAY = 0.065
LATENCY = 0.012  # what the fake device reports
T0 = 5000.0  # capture time of the first sample


class FakeOutput:
    """The device: records the callback; the test calls it as PortAudio would."""

    def __init__(self) -> None:
        self.latency = LATENCY
        self.callback = None
        self.started = self.closed = False

    def factory(self, device, samplerate, callback) -> "FakeOutput":
        self.rate, self.callback = samplerate, callback
        return self

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        """Stopped with close()."""

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _monitor(rate: int) -> tuple[AudioMonitor, FakeOutput, Clock]:
    out, clock = FakeOutput(), Clock(T0)
    mon = AudioMonitor(DELAY, stream_factory=out.factory, device_query=lambda d: {"name": "fake",
                       "default_samplerate": rate}, clock=clock).start()
    return mon, out, clock


def _send_times(n_frames: int) -> np.ndarray:
    """When the real output clock sends each frame of a stream captured from T0 on."""
    clock = FrameClock(DELAY)
    clock.push([RigFrame(f, T0 + frame_samples(f) / SAMPLE_RATE, np.zeros(174, np.float32)) for f in range(n_frames)])
    return np.array([clock.deadline(f) for f in range(n_frames)])


@pytest.mark.parametrize("rate", [16000, 48000])
def test_each_sample_is_heard_within_one_frame_of_its_frame(rate):
    mon, out, clock = _monitor(rate)
    n = 2 * SAMPLE_RATE
    ramp = (np.arange(n) / n).astype(np.float32)  # the value tells which input sample is heard
    for start in range(0, n, 80):  # 5 ms chunks, as the file source pushes them
        mon.push(AudioChunk(ramp[start:start + 80], T0 + start / SAMPLE_RATE))
    send = _send_times(num_frames(n))
    rng = np.random.default_rng(0)
    block = 256 * rate // 16000
    heard: list[tuple[float, float]] = []  # (time heard, input sample index)
    first = T0 + DELAY - LATENCY + 0.2  # the first callback, 0.2 s into the stream
    for k in range(int(1.5 * rate / block)):
        due = first + k * block / rate  # the device's own steady schedule...
        clock.now = due + rng.uniform(-0.003, 0.003)  # ...which callbacks meet within 3 ms
        buf = np.zeros((block, 1), np.float32)
        out.callback(buf, block, None, None)
        at = due + LATENCY + np.arange(block) / rate  # the device plays its buffers back to back
        heard.extend(zip(at, buf[:, 0] * n))
    at, sample = map(np.array, zip(*heard))
    sent_frame = np.searchsorted(send, at, side="right") - 1  # the frame on the wire at that moment
    heard_frame = np.floor(sample * FPS / SAMPLE_RATE)
    assert np.abs(heard_frame - sent_frame).max() <= 1  # within one frame
    assert np.abs(sample / SAMPLE_RATE + T0 + DELAY - at).max() < 0.5 / FPS + 0.004  # resync bound + jitter
    # Never backwards (no repeated sound). Upsampled, each polyphase branch has its own DC gain
    # (a -60 dB image at 16 kHz), so the ramp is read over one period of the branches.
    k = rate // SAMPLE_RATE
    assert np.all(np.diff(np.convolve(sample, np.ones(k) / k, "valid")) > 0)
    assert mon.resyncs == 0  # the jitter was absorbed, not chased


def test_late_audio_and_stalls_resync_instead_of_drifting():
    mon, out, clock = _monitor(16000)
    buf = np.zeros((160, 1), np.float32)
    clock.now = T0 + DELAY - LATENCY
    out.callback(buf, 160, None, None)  # nothing pushed yet: silence, counted
    assert not buf.any() and mon.underruns == 1
    n = SAMPLE_RATE
    mon.push(AudioChunk((np.arange(n) / n).astype(np.float32), T0))
    clock.now += 0.5  # the audio thread stalled for half a second
    out.callback(buf, 160, None, None)
    assert mon.resyncs == 1
    assert buf[0, 0] * n == pytest.approx(0.5 * SAMPLE_RATE, abs=SAMPLE_RATE / FPS)  # back on time
    assert mon.dropped_s == pytest.approx(0.5, abs=0.02)  # what could not be heard in sync is dropped


def test_monitor_needs_a_real_time_file_or_network_source():
    cfg = DaemonConfig()
    with pytest.raises(ConfigError, match="monitor"):
        validate(rep(cfg, monitor=rep(cfg.monitor, enabled=True)))  # the default source is the mic
    with pytest.raises(ConfigError, match="monitor"):
        validate(rep(cfg, monitor=rep(cfg.monitor, enabled=True),
                     source=rep(cfg.source, kind="example", realtime=False)))


def test_the_daemon_feeds_the_monitor_every_sample(stream_animator, tmp_path, monkeypatch):
    audio = load_audio(example_path())[: SAMPLE_RATE // 4]
    wav = tmp_path / "clip.wav"
    write_audio(wav, audio)
    out = FakeOutput()
    monkeypatch.setattr("livelink_bridge.sources.monitor._sounddevice_stream", out.factory)
    monkeypatch.setattr("livelink_bridge.sources.monitor._sounddevice_query",
                        lambda d: {"name": "fake", "default_samplerate": 16000})
    cfg = DaemonConfig()
    cfg = rep(cfg, source=rep(cfg.source, kind="file", path=str(wav), realtime=True),
              control=rep(cfg.control, enabled=False, hotkeys=False), model=rep(cfg.model, transcribe=False),
              monitor=rep(cfg.monitor, enabled=True))
    daemon = Daemon(validate(cfg), animator=stream_animator, transports=[])
    with daemon:
        assert out.started and daemon.monitor.delay_s == cfg.clock.playout_delay_ms / 1000
        daemon.run()
        mon = daemon.monitor
        assert mon._buf_time == pytest.approx(daemon.source._t0)  # the file's own timeline
        assert np.array_equal(mon._buf, load_audio(wav))  # every sample, in order, nothing heard yet
    assert out.closed and daemon.monitor is None
