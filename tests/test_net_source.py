"""The network audio source: the header and PCM decoding (pure), the real-time timeline and its
bounded queue (a fake clock), and the daemon end to end with real WebSocket and TCP clients on
127.0.0.1: frames follow the streamed audio, a second client is refused, a malformed header gets
a clear close reason, and a client that leaves mid-utterance leaves the daemon idling."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livelink_bridge.daemon import Daemon
from livelink_bridge.daemon_config import DaemonConfig, validate
from livelink_bridge.sources.network import NetworkSource, PcmDecoder, StreamFormat, StreamRefused, parse_header
from livelink_bridge.sources.listeners import parse_listen_url
from livelink_bridge.sources import example_path
from medtalk_core.audio import SAMPLE_RATE, load_audio, num_frames, resample
from medtalk_core.errors import ConfigError, MedtalkError
from udp_receivers import wait_for

rep = dataclasses.replace
HEADER16 = json.dumps({"sample_rate": 16000, "channels": 1, "format": "pcm16"})


# --- pure parts ------------------------------------------------------------------------------
def test_header_is_checked_key_by_key():
    assert parse_header('{"sample_rate": 22050, "channels": 2, "format": "float32"}') == \
        StreamFormat(22050, 2, "float32")
    bad = {b"\x00\x01": "binary", "hello": "not JSON", "[1]": "JSON object",
           '{"sample_rate": 16000, "format": "pcm16", "bits": 16}': "unknown header key: bits",
           '{"sample_rate": 100, "format": "pcm16"}': "sample_rate",
           '{"sample_rate": 16000, "channels": 0, "format": "pcm16"}': "channels",
           '{"sample_rate": 16000, "format": "mp3"}': "format must be one of pcm16, float32"}
    for text, reason in bad.items():
        with pytest.raises(StreamRefused, match=reason):
            parse_header(text)


def test_pcm_decoder_mixes_scales_and_carries_partial_frames():
    rng = np.random.default_rng(0)
    stereo = rng.integers(-32768, 32767, size=(1000, 2)).astype("<i2")
    dec = PcmDecoder(StreamFormat(16000, 2, "pcm16"))
    data = stereo.tobytes()
    parts = [dec.decode(data[i:i + 333]) for i in range(0, len(data), 333)]  # splits inside sample frames
    out = np.concatenate(parts)
    assert np.allclose(out, stereo.astype(np.float32).mean(axis=1) / 32768.0, atol=1e-6)
    f32 = PcmDecoder(StreamFormat(16000, 1, "float32"))
    hostile = np.array([0.5, np.nan, np.inf, -7.0], "<f4").tobytes()
    assert f32.decode(hostile).tolist() == [0.5, 0.0, 0.0, -1.0]  # non-finite: silence, as the daemon does
    assert f32.bad_samples == 2


def test_pcm_decoder_resamples_to_16k_like_offline():
    audio = load_audio(example_path())[:SAMPLE_RATE]
    native = resample(audio, SAMPLE_RATE, 22050)
    dec = PcmDecoder(StreamFormat(22050, 1, "float32"))
    data = native.astype("<f4").tobytes()
    out = np.concatenate([dec.decode(data[i:i + 4000]) for i in range(0, len(data), 4000)])
    offline = resample(native, 22050, SAMPLE_RATE)
    n = out.shape[0]
    assert n > 0.98 * offline.shape[0]
    assert np.abs(out - offline[:n]).max() < 1e-4


def test_listen_urls():
    assert parse_listen_url("ws://127.0.0.1:8765") == ("ws", "127.0.0.1", 8765)
    assert parse_listen_url("tcp://0.0.0.0:9") == ("tcp", "0.0.0.0", 9)
    for url in ("ws://127.0.0.1", "http://a:1", "ws://:1", "ws://a:1/path", "ws://a:99999"):
        with pytest.raises(MedtalkError):
            parse_listen_url(url)
    with pytest.raises(ConfigError, match="source.listen"):
        validate(rep(DaemonConfig(), source=rep(DaemonConfig().source, kind="network", listen="ws://x")))


# --- the timeline, on a fake clock ------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NoListener:
    def start(self) -> None:
        """Nothing to open: the test plays the listener."""

    def close(self) -> None:
        """Nothing to close."""


def _source(clock: FakeClock, buffer_s: float = 2.0) -> NetworkSource:
    src = NetworkSource("ws://test", lambda s: NoListener(), chunk_ms=5.0, buffer_s=buffer_s, clock=clock)
    src.start()
    return src


def _samples(chunks) -> int:
    return sum(c.samples.shape[0] for c in chunks)


def test_timeline_is_silence_then_audio_at_its_arrival_then_silence():
    clock = FakeClock()
    src = _source(clock)
    clock.now += 0.1
    idle = src.read(0)
    assert idle and all(not c.samples.any() for c in idle)  # silence keeps the face idling
    session = src.open_stream(HEADER16, "peer")
    clock.now += 0.05
    tone = np.full(1600, 8192, "<i2")  # 0.1 s at 0.25 full scale
    assert session.feed(tone.tobytes())
    arrival = clock.now
    first = src.read(0)
    audio = [c for c in first if c.samples.any()]
    assert len(audio) == 1 and audio[0].capture_time == pytest.approx(arrival)  # capture time = arrival
    assert [c.capture_time for c in first if not c.samples.any()][-1] < arrival  # the gap is silence
    clock.now += 0.1  # the rest is handed out in 5 ms pieces as its time comes
    rest = src.read(0)
    times = [c.capture_time for c in audio + rest]
    assert np.allclose(np.diff(times), 0.005) and session.released == 1600
    assert session.started_at == pytest.approx(arrival)
    session.close()
    clock.now += 0.2
    after = src.read(0)
    assert after and not any(c.samples.any() for c in after)
    assert after[0].capture_time == pytest.approx(arrival + 0.1)  # no gap, no overlap on the timeline


def test_a_client_ahead_of_real_time_is_paced_by_a_bounded_queue():
    clock = FakeClock()
    src = _source(clock, buffer_s=0.5)
    session = src.open_stream(HEADER16, "fast client")
    second = np.zeros(SAMPLE_RATE, "<i2").tobytes()
    sent = []

    def fast_client() -> None:
        for _ in range(4):  # 4 s of audio at once
            sent.append(session.feed(second))

    thread = threading.Thread(target=fast_client, daemon=True)
    thread.start()
    assert wait_for(lambda: src._queued == src.max_buffered)
    thread.join(0.3)
    assert thread.is_alive() and not sent  # the rest of the first second waits for room
    handed = 0
    while thread.is_alive() or src._queued:
        clock.now += 0.1
        chunks = src.read(0)
        handed += _samples(chunks)
        assert src._queued <= src.max_buffered  # the bound holds however large one message is
        assert all(c.capture_time <= clock.now for c in chunks)  # nothing runs ahead of real time
    thread.join()
    assert sent == [True] * 4 and session.released == 4 * SAMPLE_RATE


def test_one_stream_at_a_time_and_a_clear_refusal():
    src = _source(FakeClock())
    first = src.open_stream(HEADER16, "a")
    with pytest.raises(StreamRefused, match="busy: a stream from a is active"):
        src.open_stream(HEADER16, "b")
    first.close()
    src.open_stream(HEADER16, "b").close()
    assert src.streams == 2 and src.refused == 1


# --- the daemon with real clients -------------------------------------------------------------
class FrameLog:
    """A transport that keeps every frame sent."""

    def __init__(self) -> None:
        self.frames = []
        self._lock = threading.Lock()

    def open(self) -> "FrameLog":
        return self

    def send_frame(self, frame) -> None:
        with self._lock:
            self.frames.append(frame)

    def close(self) -> None:
        """Nothing to release."""

    def snapshot(self) -> list:
        with self._lock:
            return list(self.frames)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(example_path())[: SAMPLE_RATE // 2]  # 0.5 s of the example


@pytest.fixture(scope="module", params=["ws", "tcp"])
def live(request, stream_animator):
    """A daemon listening on an ephemeral port, running on its own thread."""
    cfg = DaemonConfig()
    cfg = rep(cfg, source=rep(cfg.source, kind="network", listen=f"{request.param}://127.0.0.1:0"),
              control=rep(cfg.control, enabled=False, hotkeys=False), model=rep(cfg.model, transcribe=False))
    log = FrameLog()
    daemon = Daemon(cfg, animator=stream_animator, transports=[log])
    daemon.start()
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    yield request.param, daemon, log
    daemon.stop()
    thread.join()
    daemon.close()


class Client:
    """A WebSocket or TCP client of the daemon's network source."""

    def __init__(self, kind: str, address: tuple[str, int]) -> None:
        self.kind = kind
        if kind == "ws":
            self.ws = connect(f"ws://{address[0]}:{address[1]}", compression=None).__enter__()
        else:
            self.sock = socket.create_connection(address)

    def header(self, text: str) -> None:
        self.ws.send(text) if self.kind == "ws" else self.sock.sendall(text.encode() + b"\n")

    def audio(self, data: bytes) -> None:
        self.ws.send(data) if self.kind == "ws" else self.sock.sendall(data)

    def refusal(self) -> tuple[int | None, str]:
        """(close code, reason) of a WebSocket; (None, the error line) of TCP."""
        if self.kind == "ws":
            with pytest.raises(ConnectionClosed) as info:
                self.ws.recv(timeout=10)
            return info.value.rcvd.code, info.value.rcvd.reason
        self.sock.settimeout(10)
        return None, self.sock.makefile().readline().strip()

    def close(self) -> None:
        self.ws.close() if self.kind == "ws" else self.sock.close()


def _stream(client: Client, audio: np.ndarray, stop_at: int | None = None) -> int:
    """Send `audio` (up to about `stop_at`) in 20 ms messages, as fast as the daemon takes them;
    returns the samples sent."""
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")[:stop_at]
    step = SAMPLE_RATE // 50
    for start in range(0, pcm.shape[0], step):
        client.audio(pcm[start:start + step].tobytes())
    return pcm.shape[0]


def test_frames_follow_the_streamed_audio(live, speech):
    kind, daemon, log = live
    src = daemon.source
    streams = src.streams
    client = Client(kind, src.address)
    client.header(HEADER16)
    _stream(client, speech)
    client.close()
    assert wait_for(lambda: src.streams == streams + 1)
    session = src.recent[-1]
    assert wait_for(lambda: session.released == speech.shape[0] and src._active is None)
    span = (session.started_at, session.started_at + speech.shape[0] / SAMPLE_RATE)
    assert wait_for(lambda: log.snapshot() and log.snapshot()[-1].capture_time > span[1] + 0.1, timeout=20)
    frames = log.snapshot()
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + len(frames)))
    inside = [f for f in frames if span[0] - 1e-6 <= f.capture_time < span[1] - 1e-6]
    # The stream starts anywhere on the 60 fps grid: the frames that begin inside it are the
    # file's frame count, or one more when the first starts just after the stream does.
    assert len(inside) in (num_frames(speech.shape[0]), num_frames(speech.shape[0]) + 1)
    lips_moved = np.ptp(np.stack([f.values for f in inside]), axis=0).max()
    assert lips_moved > 0


def test_a_second_client_is_refused(live):
    kind, daemon, _ = live
    first = Client(kind, daemon.source.address)
    first.header(HEADER16)
    assert wait_for(lambda: daemon.source._active is not None)
    second = Client(kind, daemon.source.address)
    second.header(HEADER16)
    code, reason = second.refusal()
    assert "busy" in reason and "one at a time" in reason
    assert code in (None, 1013)  # WebSocket: try again later
    second.close()
    first.close()
    assert wait_for(lambda: daemon.source._active is None)


def test_a_malformed_first_message_gets_a_clear_close_reason(live):
    kind, daemon, _ = live
    client = Client(kind, daemon.source.address)
    client.header('{"sample_rate": 16000, "format": "wav"}')
    code, reason = client.refusal()
    assert "format must be one of pcm16, float32" in reason
    assert code in (None, 1007)  # WebSocket: invalid data
    client.close()


def test_a_client_leaving_mid_utterance_leaves_the_daemon_idling(live, speech):
    kind, daemon, log = live
    streams = daemon.source.streams
    client = Client(kind, daemon.source.address)
    client.header(HEADER16)
    sent = _stream(client, speech, stop_at=speech.shape[0] // 2)
    client.close()  # mid-utterance
    assert wait_for(lambda: daemon.source.streams == streams + 1)
    session = daemon.source.recent[-1]
    assert wait_for(lambda: daemon.source._active is None and session.released == sent)  # what came plays out
    left = session.started_at + sent / SAMPLE_RATE
    assert wait_for(lambda: log.snapshot()[-1].capture_time > left + 0.5, timeout=20)  # frames go on
    idle = [f for f in log.snapshot() if f.capture_time > left + 0.2]
    assert idle and all(np.all(np.isfinite(f.values)) for f in idle)
    again = Client(kind, daemon.source.address)  # and the next utterance is taken
    again.header(HEADER16)
    assert wait_for(lambda: daemon.source._active is not None)
    again.close()


def test_websocket_control_messages_use_the_guidance_state(live):
    kind, daemon, _ = live
    if kind != "ws":
        pytest.skip("control messages ride on the WebSocket only")
    client = Client(kind, daemon.source.address)
    client.header(HEADER16)
    before = daemon.state.snapshot().version
    client.ws.send(json.dumps({"control": "/medtalk/emotion", "args": ["happy", 0.8]}))
    client.ws.send(json.dumps({"control": "/medtalk/emotion", "args": ["sleepy"]}))
    error = json.loads(client.ws.recv(timeout=10))
    assert "sleepy" in error["error"]
    assert wait_for(lambda: daemon.state.snapshot().version > before)
    assert daemon.state.snapshot().description == "happy"
    client.close()
