"""The live daemon end to end over real UDP on 127.0.0.1: every frame of a file reaches a
python-osc receiver, a Live Link Face socket and the recorder; 60 fps pacing; a control message
switches the emotion within the transition time; garbage on the control port does not stop
the stream; `medtalk run` exits 0 at the end of a file and on SIGTERM."""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from pythonosc.osc_message_builder import OscMessageBuilder

from livelink_bridge.daemon import Daemon
from livelink_bridge.daemon_config import DaemonConfig
from livelink_bridge.idle import IdleConfig
from livelink_bridge.engine import StreamingEngine, stream_array
from livelink_bridge.sources import example_path
from livelink_bridge.status import format_status
from livelink_bridge.transcribe_worker import SpeechSegment, SpeechSegmenter, TranscribeWorker
from medtalk_core.curve_sets import board_curve_names
from medtalk_core.audio import SAMPLE_RATE, frame_samples, load_audio, num_frames, write_audio
from medtalk_core.backbones.base import Transcript
from medtalk_core.rig import valid_ranges
from udp_receivers import OscCollector, RawCollector, wait_for

REPO = Path(__file__).resolve().parents[1]
rep = dataclasses.replace


def take_txt(folder: Path) -> Path:
    """The recording's release-format txt (not its `.rotations.txt`)."""
    from livelink_bridge.offline.writers import ROTATIONS_SUFFIX

    (path,) = [p for p in folder.glob("*.txt") if not p.name.endswith(ROTATIONS_SUFFIX)]
    return path


@pytest.fixture(scope="module")
def animator(stream_animator):
    return stream_animator


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """The first 2 s of the packaged example speech."""
    audio = load_audio(example_path())[: 2 * SAMPLE_RATE]
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    write_audio(path, audio)
    return path, load_audio(path)


def config(wav: Path, osc_port: int, realtime: bool, loop: bool = False, control_port: int | None = None,
           llf_port: int | None = None, record: Path | None = None, idle: bool = True) -> DaemonConfig:
    cfg = DaemonConfig()
    t = cfg.transports
    t = rep(t, osc=rep(t.osc, port=osc_port, curve_set="board"))
    if llf_port is not None:
        t = rep(t, livelink_face=rep(t.livelink_face, enabled=True, port=llf_port))
    if record is not None:
        t = rep(t, recorder=rep(t.recorder, enabled=True, directory=str(record)))
    engine = rep(cfg.engine, idle=rep(IdleConfig(), enabled=idle))
    return rep(cfg, transports=t, engine=engine,
               source=rep(cfg.source, kind="file", path=str(wav), realtime=realtime, loop=loop),
               control=rep(cfg.control, enabled=control_port is not None, port=control_port or 0, hotkeys=False),
               model=rep(cfg.model, transcribe=False))


def _values(frames) -> np.ndarray:
    return np.array([args[2:] for _, args in frames], np.float32)


def test_file_fast_sends_every_frame_to_every_transport(animator, clip, tmp_path):
    wav, audio = clip
    osc, llf = OscCollector(), RawCollector()
    try:
        daemon = Daemon(config(wav, osc.port, realtime=False, llf_port=llf.port, record=tmp_path / "rec"),
                        animator=animator)
        with daemon:
            assert daemon.run() == 0
        total = num_frames(audio.shape[0])
        assert wait_for(lambda: len(osc.frames()) == total and len(llf.packets) == total, timeout=5)
    finally:
        osc.close()
        llf.close()
    frames = osc.frames()
    assert [args[0] for _, args in frames] == list(range(total))  # every frame, in order
    values = _values(frames)
    low, high = valid_ranges()
    assert values.shape == (total, 174) and np.all(values >= low - 1e-6) and np.all(values <= high + 1e-6)
    chunks = {n[1]: n for n in osc.names()}  # (version, chunk, count, first, total, crc, names...); re-sent every second
    count = next(iter(chunks.values()))[2]
    assert sorted(chunks) == list(range(count))
    assert tuple(x for i in range(count) for x in chunks[i][6:]) == board_curve_names()
    csv = next((tmp_path / "rec").glob("*.csv")).read_text().splitlines()
    txt = take_txt(tmp_path / "rec").read_text().splitlines()
    assert len(csv) == total + 1 and len(txt) == total
    assert np.allclose(np.loadtxt(txt, delimiter=",", dtype=np.float32), values, atol=1e-5)
    assert daemon.stats.frames_sent == total and daemon.stats.packets_sent == 3 * total


def test_daemon_tunes_the_process_while_it_runs_and_restores_it(animator, clip):
    """One torch thread and a frozen heap while streaming (docs/LIVE.md, "Latency"); a library
    caller's process is left as it was found."""
    wav, _ = clip
    threads, frozen = torch.get_num_threads(), gc.get_freeze_count()
    osc = OscCollector()
    try:
        with Daemon(config(wav, osc.port, realtime=False), animator=animator) as daemon:
            assert torch.get_num_threads() == 1
            assert gc.get_freeze_count() > frozen  # the loaded model is out of every later collection
            assert daemon.run() == 0
    finally:
        osc.close()
    assert (torch.get_num_threads(), gc.get_freeze_count()) == (threads, frozen)


def _run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    return thread, result


def test_realtime_file_is_paced_at_60_fps(animator, clip):
    wav, audio = clip
    osc = OscCollector()
    try:
        daemon = Daemon(config(wav, osc.port, realtime=True), animator=animator)
        with daemon:
            start = time.time()
            assert daemon.run() == 0
            elapsed = time.time() - start
        total = num_frames(audio.shape[0])
        assert wait_for(lambda: len(osc.frames()) >= total, timeout=5)
    finally:
        osc.close()
    frames = osc.frames()
    assert [a[0] for _, a in frames] == list(range(total))
    arrival = np.array([t for t, _ in frames])
    gaps = np.diff(arrival)
    # loose and statistical: a shared CPU adds jitter, the clock must not drift
    assert abs(np.median(gaps) - 1 / 60) < 0.004
    assert abs((arrival[-1] - arrival[0]) - (total - 1) / 60) < 0.25
    assert abs(elapsed - audio.shape[0] / SAMPLE_RATE) < 1.0
    assert daemon.stats.late_frames <= 0.1 * total
    latency = np.array([t - a[1] for t, a in frames])
    assert np.median(latency) == pytest.approx(daemon.cfg.clock.playout_delay_ms / 1000, abs=0.03)


def _osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_control_message_switches_emotion_within_the_transition(animator, clip):
    wav, audio = clip
    osc, control_port = OscCollector(), _free_port()
    cfg = config(wav, osc.port, realtime=True, loop=True, control_port=control_port, idle=False)
    try:
        daemon = Daemon(cfg, animator=animator)
        with daemon:
            thread, result = _run_in_thread(daemon)
            assert wait_for(lambda: len(osc.frames()) > 40, timeout=10)
            sent_at = time.time()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(_osc("/medtalk/emotion", "surprised", 2.0), ("127.0.0.1", control_port))
            time.sleep(cfg.engine.transition_s + 0.8)
            daemon.stop()
            thread.join(10)
        assert result == [0]
    finally:
        osc.close()
    frames = osc.frames()
    index = np.array([a[0] for _, a in frames])
    captured = np.array([a[1] for _, a in frames])
    values = _values(frames)
    # references: the same looped audio streamed (fast) with one guidance from the start
    looped = np.resize(audio, frame_samples(index.max() + 2) + SAMPLE_RATE)

    def reference(guidance):
        return stream_array(StreamingEngine(animator, cfg.engine, guidance=guidance), looped)[index]

    before = reference(animator.guidance("neutral"))
    after = reference(animator.guidance("surprised", strength=2.0))
    assert np.abs(after - before).mean() > 5e-4, "the two emotions must be told apart"
    d_before = np.abs(values - before).mean(axis=1)
    d_after = np.abs(values - after).mean(axis=1)
    old = captured < sent_at - 0.25
    new = captured > sent_at + cfg.engine.transition_s + 0.1  # the change is complete by then
    assert old.sum() > 20 and new.sum() > 20
    # nearly every frame (a loaded CPU may stand in a held or provisional frame for a late one)
    assert np.mean(d_before[old] < d_after[old]) >= 0.9
    assert np.mean(d_after[new] < d_before[new]) >= 0.9


def test_garbage_and_bad_control_messages_do_not_stop_the_stream(animator, clip):
    wav, _ = clip
    osc, control_port = OscCollector(), _free_port()
    cfg = config(wav, osc.port, realtime=True, loop=True, control_port=control_port)
    try:
        daemon = Daemon(cfg, animator=animator)
        with daemon:
            thread, result = _run_in_thread(daemon)
            assert wait_for(lambda: len(osc.frames()) > 10, timeout=10)
            rng = np.random.default_rng(0)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(300):
                    s.sendto(rng.bytes(int(rng.integers(1, 300))), ("127.0.0.1", control_port))
                for bad in (_osc("/medtalk/emotion", "grumpy"), _osc("/medtalk/intensity", "x"),
                            _osc("/medtalk/guidance/image", "/nope.png"), _osc("/medtalk/mute", 7)):
                    s.sendto(bad, ("127.0.0.1", control_port))
            seen = len(osc.frames())
            time.sleep(0.6)
            assert len(osc.frames()) - seen >= 25, "frames keep coming at 60 fps"
            assert thread.is_alive()
            assert daemon.state.snapshot().version == 0  # nothing changed the guidance
            daemon.stop()
            thread.join(10)
        assert result == [0]
        assert daemon.control is None  # closed with the daemon
    finally:
        osc.close()


class EchoTranscriber:
    """A stand-in recogniser; module level so that a spawned worker process can build it."""

    name = "echo"

    def __init__(self):
        self.calls = 0

    def transcribe(self, audio_16k):
        self.calls += 1
        return Transcript(text=f"segment {self.calls} of {audio_16k.shape[0]} samples")


class NicenessTranscriber:
    """Answers with the CPU niceness it runs at."""

    name = "niceness"

    def transcribe(self, audio_16k):
        return Transcript(text=str(os.nice(0)))


@pytest.mark.parametrize("process", [False, True])
def test_transcriber_process_yields_the_cpu_to_the_frame_loop(process):
    """Its bursts took CPU from the 60 fps loop on 2 cores: the child runs 10 nicer (capped at
    19); a thread (tests, --fast bakes) leaves the caller's own priority alone."""
    worker = TranscribeWorker(NicenessTranscriber, process=process).start()
    try:
        worker.submit(SpeechSegment(0, np.zeros(SAMPLE_RATE, np.float32)))
        texts = []
        assert wait_for(lambda: texts.extend(worker.results()) or texts, timeout=60)
    finally:
        worker.close()
    mine = os.nice(0)
    assert int(texts[0].text) == (min(mine + 10, 19) if process else mine)


@pytest.mark.parametrize("process", [False, True])
def test_speech_segments_are_transcribed_in_the_background(process):
    audio = load_audio(example_path())  # four sentences
    seg = SpeechSegmenter()
    segments = []
    for start in range(0, audio.shape[0], 160):
        segments.extend(seg.feed(audio[start:start + 160]))
    segments.extend(seg.feed(np.zeros(SAMPLE_RATE, np.float32)))  # the end of speech closes the last one
    assert 3 <= len(segments) <= 12
    assert all(s.audio.shape[0] >= 0.3 * SAMPLE_RATE for s in segments)
    starts = [s.start_sample for s in segments]
    assert starts == sorted(starts)
    worker = TranscribeWorker(EchoTranscriber, process=process, max_pending=len(segments)).start()
    try:
        for s in segments:
            worker.submit(s)
        texts = []
        assert wait_for(lambda: texts.extend(worker.results()) or len(texts) == len(segments), timeout=60)
    finally:
        worker.close()
    assert [t.text for t in texts] == [f"segment {i + 1} of {s.audio.shape[0]} samples"
                                       for i, s in enumerate(segments)]
    assert [t.start_frame for t in texts] == [num_frames(s) for s in starts]
    assert all(t.end_frame > t.start_frame for t in texts)


def _medtalk(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "livelink_bridge.cli", "run", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_file_source_exits_0_after_the_last_frame(tiny_checkpoint, clip):
    wav, audio = clip
    osc = OscCollector()
    try:
        proc = _medtalk("--checkpoint", str(tiny_checkpoint), "--source", f"file:{wav}", "--fast",
                        "--osc", f"127.0.0.1:{osc.port}", "--control", "off")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        total = num_frames(audio.shape[0])
        assert wait_for(lambda: len(osc.frames()) == total, timeout=5)
    finally:
        osc.close()
    assert "Traceback" not in err


def test_cli_sigterm_stops_cleanly_and_flushes_the_recorder(tiny_checkpoint, clip, tmp_path):
    wav, _ = clip
    osc = OscCollector()
    try:
        proc = _medtalk("--checkpoint", str(tiny_checkpoint), "--source", f"file:{wav}", "--loop",
                        "--osc", f"127.0.0.1:{osc.port}", "--control", "off", "--record", str(tmp_path))
        try:
            assert wait_for(lambda: len(osc.frames()) > 30, timeout=90), proc.stderr.read() if proc.poll() else ""
        finally:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        received = len(osc.frames())
    finally:
        osc.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    csv = next(tmp_path.glob("*.csv")).read_text().splitlines()
    txt = take_txt(tmp_path).read_text().splitlines()
    assert len(txt) == len(csv) - 1 >= received  # every sent frame is on disk


def test_microphone_loss_keeps_the_face_alive_and_reopens(animator):
    """A fake microphone delivers nothing at first, then feeds the daemon in real time, is
    unplugged, and comes back: idle frames whenever it delivers nothing."""
    from test_sources import FakeDevice

    from livelink_bridge.sources.mic import MicSource

    dev = FakeDevice(48000, 1)
    mic = MicSource(stream_factory=dev.open, device_query=dev.query, lost_after_s=0.3, backoff_s=(0.3, 0.3))
    osc = OscCollector()
    cfg = config(Path("unused.wav"), osc.port, realtime=True)
    cfg = rep(cfg, source=rep(cfg.source, kind="mic", path=None))
    tone = (0.3 * np.sin(np.arange(480) * 2 * np.pi * 200 / 48000)).astype(np.float32)[:, None]
    feeding = threading.Event()
    feeding.set()
    done = threading.Event()

    def driver():  # PortAudio's thread: a 10 ms block every 10 ms while plugged in
        while not done.is_set():
            if feeding.is_set() and dev.streams and dev.streams[-1].active:
                dev.streams[-1].feed(tone)
            time.sleep(0.01)

    feeder = threading.Thread(target=driver, daemon=True)
    try:
        daemon = Daemon(cfg, animator=animator, source=mic)
        with daemon:
            thread, result = _run_in_thread(daemon)
            assert wait_for(lambda: len(osc.frames()) > 30, timeout=10), "idle frames before any audio"
            assert daemon.stats.input_lost and "input lost" in format_status(daemon.stats, {}, time.time())
            feeder.start()
            assert wait_for(lambda: not daemon.stats.input_lost, timeout=10)
            assert wait_for(lambda: len(osc.frames()) > 60, timeout=10)
            feeding.clear()  # unplugged: no more callbacks
            dev.fail = 1  # and the first reopen fails
            reopens = mic.reopens  # the silent start may have reopened it already
            lost_at = len(osc.frames())
            time.sleep(1.5)  # 0.3 s until the loss is noticed, then idle frames at 60 fps
            assert len(osc.frames()) - lost_at > 55, "idle frames continue while the device is gone"
            assert daemon.stats.input_lost
            feeding.set()
            assert wait_for(lambda: mic.reopens == reopens + 1, timeout=5)
            assert wait_for(lambda: not daemon.stats.input_lost, timeout=5)
            assert daemon.stats.overflows == mic.overflows
            daemon.stop()
            thread.join(10)
        assert result == [0]
    finally:
        done.set()
        osc.close()
    indices = [a[0] for _, a in osc.frames()]
    assert indices == list(range(len(indices)))  # one unbroken 60 fps sequence through the loss
    assert len(dev.streams) == 1 + mic.reopens and all(s.closed for s in dev.streams[:-1])


def test_head_and_eyes_move_with_the_speech_on_live_link_face_and_switch_off(animator, clip):
    """Head rotation and saccades from the speech on every Live Link Face packet (final frames,
    --fast); off, the packets are today's: the same blendshapes, head and eye values."""
    from test_livelink_face import decode

    wav, audio = clip
    runs = {}
    for enabled in (True, False):
        osc, llf = OscCollector(), RawCollector()
        try:
            cfg = config(wav, osc.port, realtime=False, llf_port=llf.port)
            cfg = rep(cfg, head_eyes=rep(cfg.head_eyes, enabled=enabled))
            with Daemon(cfg, animator=animator) as daemon:
                assert daemon.run() == 0
            total = num_frames(audio.shape[0])
            assert wait_for(lambda: len(llf.packets) == total and len(osc.frames()) == total, timeout=5)
        finally:
            osc.close()
            llf.close()
        runs[enabled] = (np.array([decode(p)["values"] for _, p in llf.packets]), _values(osc.frames()))
    (on, osc_on), (off, osc_off) = runs[True], runs[False]
    assert np.array_equal(osc_on, osc_off)  # the 174 controls are the model's, untouched
    assert np.array_equal(on[:, :52], off[:, :52])
    assert np.all(off[:, 52:55] == 0)  # off: the head stays still, as before
    head_deg = on[:, 52:55] * 180.0
    assert head_deg.std(axis=0).max() > 0.3 and np.abs(head_deg).max() < 25  # it moves, within a real range
    assert not np.allclose(on[:, 55:61], off[:, 55:61])  # the eyes saccade on top of the gaze controls
