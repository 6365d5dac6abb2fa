"""Stalls and bad samples on the live path (issue 12): a stall of any length is bridged by a
counted gap (never `ValueError: chunk ... would overwrite audio not yet processed`), frame
indices keep following capture time, the clock resumes without a burst of stale frames, and
NaN/inf samples are zeroed and counted. Real stalls: `kill -STOP` of a running daemon, a file
source (`medtalk run`) and an injected microphone stream, 3 s and 10 s each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livelink_bridge.clock import FrameClock
from livelink_bridge.commands import send as send_cmd
from livelink_bridge.daemon import Daemon
from livelink_bridge.engine import EngineConfig
from livelink_bridge.engine import StreamingEngine
from livelink_bridge.sources import AudioChunk, example_path
from livelink_bridge.stall import StallGuard, drop_oldest
from livelink_bridge.status import format_status
from medtalk_core.audio import FPS, SAMPLE_RATE, load_audio, num_frames
from test_daemon import _free_port, config
from udp_receivers import OscCollector, wait_for

REPO = Path(__file__).resolve().parents[1]
CHUNK = 160  # 10 ms


@pytest.fixture(scope="module")
def animator(stream_animator):
    return stream_animator


def _chunks(audio: np.ndarray, first: int, stop: int, t0: float = 100.0) -> list[AudioChunk]:
    return [AudioChunk(audio[s % audio.shape[0]:][:CHUNK], t0 + s / SAMPLE_RATE) for s in range(first, stop, CHUNK)]


def test_drop_oldest_keeps_the_newest_samples_and_their_times():
    chunks = [AudioChunk(np.arange(i, i + 100, dtype=np.float32), 1.0 + i / SAMPLE_RATE) for i in range(0, 500, 100)]
    kept, dropped = drop_oldest(chunks, 250)
    assert dropped == 250
    assert np.array_equal(np.concatenate([c.samples for c in kept]), np.arange(250, 500, dtype=np.float32))
    assert kept[0].capture_time == pytest.approx(1.0 + 250 / SAMPLE_RATE)
    assert drop_oldest(chunks, 1000) == (chunks, 0)


@pytest.mark.parametrize("stall_s", [3.0, 10.0])
@pytest.mark.parametrize("kind", ["backlog", "jump"])
def test_a_stall_becomes_a_counted_gap_and_indices_follow_capture_time(animator, stall_s, kind):
    """backlog: a file source hands out every chunk that came due during the stall (more than
    the ring holds); jump: a microphone whose own thread stopped too resumes later in time."""
    audio = load_audio(example_path())
    engine = StreamingEngine(animator, EngineConfig(), catch_up=True)
    guard = StallGuard(engine)
    clock = FrameClock(0.095)
    sent, frames = [], []
    stall_at, resume_at = SAMPLE_RATE, SAMPLE_RATE + int(stall_s * SAMPLE_RATE)

    def step(chunks: list[AudioChunk], now: float) -> None:
        for chunk in guard.admit(chunks):
            engine.insert_audio(chunk.samples, chunk.capture_time)
        new = engine.process()
        frames.extend(new)
        clock.push(new)
        clock.offer(engine.provisional())
        sent.extend(clock.due(now))

    for s in range(0, stall_at, CHUNK):  # one second of normal streaming
        step(_chunks(audio, s, s + CHUNK), 100.0 + (s + CHUNK) / SAMPLE_RATE)
    # The stall: the sender wakes first, then the loop gets everything at once.
    now = 100.0 + (resume_at + CHUNK) / SAMPLE_RATE
    burst = clock.due(now)
    sent.extend(burst)
    # backlog: every chunk of the stall at once; jump: two blocks from before it, then the new audio
    backlog = _chunks(audio, stall_at, resume_at + CHUNK) if kind == "backlog" else (
        _chunks(audio, stall_at, stall_at + 2 * CHUNK) + _chunks(audio, resume_at, resume_at + CHUNK))
    step(backlog, now)
    for s in range(resume_at + CHUNK, resume_at + SAMPLE_RATE, CHUNK):  # and a second more
        step(_chunks(audio, s, s + CHUNK), 100.0 + (s + CHUNK) / SAMPLE_RATE)

    assert guard.gaps == 1 and guard.lost_s > stall_s - 1.2
    assert engine.skipped_frames > 0
    assert len(burst) <= clock.max_hold_frames  # no burst of stale frames after the stall
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))  # in order, no repeats
    # the frame index keeps following capture time across the gap
    assert all(abs(f.capture_time - 100.0 - f.index / FPS) < 1.0 / FPS for f in frames)
    after = [f for f in sent if f.index >= resume_at * FPS // SAMPLE_RATE]
    assert len(after) > 40, "streaming goes on after the stall"
    assert [f.index for f in sent] == sorted({f.index for f in sent})
    assert clock.skipped_frames > 0


def _float_wav(path: Path, audio: np.ndarray) -> Path:
    sf.write(str(path), audio.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    return path


def test_nan_and_inf_samples_are_zeroed_and_counted(animator, tmp_path):
    audio = load_audio(example_path())[:SAMPLE_RATE].copy()
    audio[100] = np.nan
    audio[5000:5010] = np.inf
    audio[9000] = -np.inf
    wav = _float_wav(tmp_path / "nan.wav", audio)
    osc = OscCollector()
    try:
        daemon = Daemon(config(wav, osc.port, realtime=False), animator=animator)
        with daemon:
            assert daemon.run() == 0
            assert daemon.stats.bad_samples == 12
            line = format_status(daemon.stats, daemon.state.snapshot().as_dict(), time.time())
        assert "bad samples 12" in line
        assert wait_for(lambda: len(osc.frames()) == num_frames(audio.shape[0]))
        values = np.array([a[2:] for _, a in osc.frames()], np.float32)
        assert np.isfinite(values).all()
    finally:
        osc.close()


# --- real stalls: kill -STOP a running daemon ----------------------------------------------------
def _start(args: list[str], log: Path) -> subprocess.Popen:
    """A child whose output goes to a file: a pipe nobody reads fills up and blocks its logging."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_kill_stop_for_3_and_10_s_never_ends_the_daemon(tiny_checkpoint, tmp_path):
    """Both sources at once: a looping file through `medtalk run`, and an injected microphone."""
    wav = tmp_path / "speech.wav"
    sf.write(str(wav), load_audio(example_path())[:3 * SAMPLE_RATE], SAMPLE_RATE)
    receivers = {"file": OscCollector(), "mic": OscCollector()}
    controls = {"file": _free_port(), "mic": _free_port()}
    logs = {name: tmp_path / f"{name}.log" for name in controls}
    procs = {
        "file": _start(["-m", "livelink_bridge.cli", "run", "--checkpoint", str(tiny_checkpoint),
                        "--source", f"file:{wav}", "--loop", "--osc", f"127.0.0.1:{receivers['file'].port}",
                        "--control", f"127.0.0.1:{controls['file']}"], logs["file"]),
        "mic": _start([str(REPO / "tests" / "live_mic_child.py"), str(tiny_checkpoint),
                       str(receivers["mic"].port), str(controls["mic"])], logs["mic"]),
    }
    try:
        for name, rx in receivers.items():
            assert wait_for(lambda: len(rx.frames()) > 60, timeout=90), logs[name].read_text()
        for stall_s in (3.0, 10.0):
            for p in procs.values():
                p.send_signal(signal.SIGSTOP)
            time.sleep(stall_s)
            counts = {name: len(rx.frames()) for name, rx in receivers.items()}
            for p in procs.values():
                p.send_signal(signal.SIGCONT)
            for name, rx in receivers.items():
                assert wait_for(lambda: len(rx.frames()) > counts[name] + 120, timeout=30), logs[name].read_text()
                assert procs[name].poll() is None, logs[name].read_text()
        for name, port in controls.items():
            status = send_cmd.request_status("127.0.0.1", port, timeout=5)
            assert status["gaps"] >= 2 and status["longest_gap_s"] > 8.5, (name, status)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(timeout=30)
        errs = {name: log.read_text() for name, log in logs.items()}
        for rx in receivers.values():
            rx.close()
    for name, p in procs.items():
        assert p.returncode == 0, errs[name]
        assert "Traceback" not in errs[name]
    for name, rx in receivers.items():
        frames = [a for _, a in rx.frames()]
        indices = [a[0] for a in frames]
        assert indices == sorted(set(indices)), name  # in order, never repeated
        # index and capture time advance together through both gaps (one timeline)
        offsets = np.array([a[0] / FPS - a[1] for a in frames])
        assert np.ptp(offsets) < 0.5, (name, np.ptp(offsets))
