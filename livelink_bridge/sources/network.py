"""Speech streamed in over the network (a TTS or dialogue system): the stream header, the PCM
decoder and the source the daemon reads, with no sockets (`listeners` owns those).

The source is a virtual microphone: its timeline advances in real time, whether a client is
streaming or not. A received chunk is placed on the timeline at its arrival time (its capture
time), or, when the client is ahead of real time, right after the audio queued before it; it is
handed to the engine in `chunk_ms` pieces as their time comes. Between utterances, and after a
client leaves, the timeline is filled with silence, so the face idles and never freezes. The
queue is bounded: a connection that finds it full waits (and stops reading its socket), which
paces a client that sends faster than real time instead of growing memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

from medtalk_core.audio import SAMPLE_RATE, zero_nonfinite
from medtalk_core.errors import MedtalkError

from livelink_bridge.access import Access, AccessConfig

from livelink_bridge.control.messages import StatusQuery, decode_json, read_json
from livelink_bridge.control.state import ControlInbox
from livelink_bridge.quiet_log import QuietLog
from livelink_bridge.sources import AudioChunk, level_db
from livelink_bridge.sources.resampling import StreamResampler

logger = logging.getLogger(__name__)

SampleFormat = Literal["pcm16", "float32"]
SAMPLE_WIDTH: dict[str, int] = {"pcm16": 2, "float32": 4}  # bytes per sample, little-endian
MAX_HEADER_BYTES = 1024  # a stream header is a few dozen bytes; more is not one
MAX_CHANNELS = 8
HEADER_KEYS = ("sample_rate", "channels", "format", "token")


@dataclass(frozen=True)
class NetworkConfig:
    """What one client may cost the network source; past each cap it is refused with one line."""

    # The rates a stream may declare: the resampler to 16 kHz costs what the ratio's terms do,
    # so a legal but co-prime rate (191999) would build a filter of millions of taps.
    sample_rates: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
                                     176400, 192000)
    max_connections: int = 8  # per listener, handshakes included; more are closed at once
    header_timeout_s: float = 5.0  # connect to stream header (a WebSocket's handshake included)
    idle_timeout_s: float = 10.0  # a stream that sends nothing this long is closed: the slot is free again
    max_message_bytes: int = 256 * 1024  # one WebSocket message (1.4 s of 48 kHz stereo float32)
    max_queued_messages: int = 4  # WebSocket messages read ahead per connection; beyond, its socket is not read


class StreamRefused(MedtalkError):
    """A client's stream cannot be taken (bad header, another stream active); the message is
    the reason the client is told."""


@dataclass(frozen=True)
class StreamFormat:
    """What the first message of a stream declares."""

    sample_rate: int  # Hz, 8000..192000
    channels: int  # interleaved, 1..8; mixed to mono
    sample_format: SampleFormat  # "pcm16" (int16) | "float32" (full scale 1.0), little-endian

    @property
    def frame_bytes(self) -> int:
        return self.channels * SAMPLE_WIDTH[self.sample_format]


def parse_header(text: str | bytes, rates: tuple[int, ...] = NetworkConfig.sample_rates,
                 access: Access | None = None) -> StreamFormat:
    """The first message, JSON `{"sample_rate": 22050, "channels": 1, "format": "pcm16"}` (plus
    `"token"` when the daemon asks for one), -> StreamFormat; StreamRefused naming what is wrong."""
    if isinstance(text, bytes):
        raise StreamRefused('first message must be a JSON text header {"sample_rate", "channels", "format"}, '
                            "got binary data")
    if len(text.encode("utf-8")) > MAX_HEADER_BYTES:
        raise StreamRefused(f"header longer than {MAX_HEADER_BYTES} bytes")
    obj = read_json(text, "header", StreamRefused)
    if not isinstance(obj, dict):
        raise StreamRefused("header must be a JSON object")
    unknown = sorted(set(obj) - set(HEADER_KEYS))
    if unknown:
        raise StreamRefused(f"unknown header key: {unknown[0][:40]}")
    if access is not None and not access.token_ok(obj.get("token")):
        raise StreamRefused('not authorised: this daemon asks for its token (the header\'s "token")')
    rate, channels, fmt = obj.get("sample_rate"), obj.get("channels", 1), obj.get("format")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in rates:
        raise StreamRefused(f"sample_rate must be one of {', '.join(map(str, rates))}, got {rate!r}"[:200])
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise StreamRefused(f"channels must be an integer in 1..{MAX_CHANNELS}, got {channels!r}")
    if fmt not in SAMPLE_WIDTH:
        raise StreamRefused(f"format must be one of {', '.join(SAMPLE_WIDTH)}, got {fmt!r}")
    return StreamFormat(rate, channels, fmt)


class PcmDecoder:
    """Interleaved little-endian PCM bytes -> mono float32 at 16 kHz, in any split: a partial
    sample frame at the end of one message waits for the next."""

    def __init__(self, fmt: StreamFormat) -> None:
        self.fmt = fmt
        self._dtype = np.dtype("<i2") if fmt.sample_format == "pcm16" else np.dtype("<f4")
        self._rest = b""
        self._resampler = StreamResampler(fmt.sample_rate)
        self.bad_samples = 0  # non-finite float samples (per channel) replaced by 0

    def decode(self, data: bytes) -> np.ndarray:
        data = self._rest + bytes(data)
        whole = len(data) - len(data) % self.fmt.frame_bytes
        self._rest = data[whole:]
        x = np.frombuffer(data[:whole], dtype=self._dtype).reshape(-1, self.fmt.channels)  # (n, C)
        if self.fmt.sample_format == "float32":  # before the resampler spreads one NaN over its taps
            x, bad = zero_nonfinite(x)
            self.bad_samples += bad
        mono = x.astype(np.float32).mean(axis=1)  # (n,)
        if self.fmt.sample_format == "pcm16":
            mono /= 32768.0
        return self._resampler.process(np.clip(mono, -1.0, 1.0))


class StreamSession:
    """One client's stream, for the listener that serves it: `feed(bytes)`, `control(text)`,
    `close()`. Obtained from `NetworkSource.open_stream()`."""

    def __init__(self, source: "NetworkSource", fmt: StreamFormat, peer: str) -> None:
        self.source = source
        self.fmt = fmt
        self.peer = peer
        self._decoder = PcmDecoder(fmt)
        self.started_at: float | None = None  # capture time of its first sample on the timeline
        self.released = 0  # its 16 kHz samples handed to the engine so far

    def feed(self, data: bytes) -> bool:
        """Queue the audio; waits while the queue is full. False once the source is closing."""
        before = self._decoder.bad_samples
        samples = self._decoder.decode(data)
        self.source.bad_samples += self._decoder.bad_samples - before  # one listener thread feeds at a time
        return self.source._put(self, samples, self.source._clock())

    def control(self, text: str) -> None:
        """A JSON control message `{"control": "/medtalk/emotion", "args": ["happy", 0.8]}`: the
        OSC address space and checks of `control.decode`; MedtalkError with the reason."""
        inbox = self.source.control
        if inbox is None:
            raise MedtalkError("this daemon takes no guidance changes on its audio streams")
        request = decode_json(text, inbox.rules)
        if isinstance(request, StatusQuery):
            raise MedtalkError("/medtalk/status is answered on the OSC control port")
        inbox.post(request)

    def close(self) -> None:
        self.source._end_stream(self)


class NetworkSource:
    """The daemon's AudioSource for `--source ws://` and `tcp://`; see the module docstring.
    A listener (`listeners`) calls `open_stream()` for each client; the daemon calls `read()`."""

    def __init__(self, url: str, listener_factory: Callable[["NetworkSource"], Any], chunk_ms: float = 5.0,
                 buffer_s: float = 2.0, control: ControlInbox | None = None,
                 clock: Callable[[], float] = time.time, limits: NetworkConfig = NetworkConfig(),
                 access: Access | None = None) -> None:
        self.url = url
        self.limits = limits
        self.access = access or Access(AccessConfig())
        self.chunk = max(1, int(round(chunk_ms * SAMPLE_RATE / 1000.0)))
        self.max_buffered = max(self.chunk, int(buffer_s * SAMPLE_RATE))  # samples queued at most
        self.control = control  # where JSON control messages go; None = refused
        self._listener_factory = listener_factory
        self._listener: Any = None
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[tuple[float, np.ndarray, StreamSession]] = deque()  # (arrival time, 16 kHz samples, whose)
        self._queued = 0  # samples in _queue
        self._end: float | None = None  # timeline: capture time just after the last sample handed out
        self._active: StreamSession | None = None
        self._closing = False
        self.exhausted = False  # the timeline never ends
        self.overflows = 0  # a network stream is paced, never dropped
        self.bad_samples = 0  # non-finite float samples replaced by silence
        self.level_db = -120.0
        self.input_latency_s = 0.0  # a chunk's capture time is its arrival
        self.clock_name = "arrival"
        self.streams = 0  # streams accepted so far
        self.refused = 0  # clients turned away (bad header, another stream active)
        self.recent: deque[StreamSession] = deque(maxlen=16)  # the latest streams, newest last
        self.log = QuietLog(logger, "audio streams: refusals", per_s=2)  # a client can ask again and again

    @property
    def end_frame(self) -> int | None:
        return None

    # --- lifecycle (daemon thread) ---
    def start(self) -> None:
        self._end = self._clock()
        self._listener = self._listener_factory(self)
        self._listener.start()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def address(self) -> tuple[str, int]:
        """Where the listener listens (the port is the real one when 0 was asked)."""
        return self._listener.address

    # --- listener threads ---
    def open_stream(self, header: str | bytes, peer: str) -> StreamSession:
        """A client's first message -> its session; StreamRefused (the reason to tell it) when
        the header is bad or another stream is active."""
        try:
            fmt = parse_header(header, self.limits.sample_rates, self.access)
            with self._cond:
                if self._active is not None:
                    raise StreamRefused(f"busy: a stream from {self._active.peer} is active (one at a time)")
                self._active = StreamSession(self, fmt, peer)
                self.recent.append(self._active)
                self.streams += 1
        except StreamRefused as exc:
            self.refused += 1
            self.log.warn("audio stream from %s refused: %s", peer, exc)
            raise
        logger.info("audio stream from %s: %d Hz, %d channel(s), %s", peer, fmt.sample_rate, fmt.channels,
                    fmt.sample_format)
        return self._active

    def _end_stream(self, session: StreamSession) -> None:
        with self._cond:
            if self._active is session:
                self._active = None
                logger.info("audio stream from %s ended; idle until the next one", session.peer)

    def _put(self, session: StreamSession, samples: np.ndarray, arrival: float) -> bool:
        """Queue `samples` as room comes: never more than `max_buffered` in all, however large one
        message is (the rest waits, and this client's socket is not read meanwhile)."""
        with self._cond:
            while samples.size:
                while self._queued >= self.max_buffered and not self._closing:
                    self._cond.wait(0.1)
                if self._closing:
                    return False
                piece, samples = np.split(samples, [self.max_buffered - self._queued])
                self._queue.append((arrival, piece, session))
                self._queued += piece.size
                self._cond.notify_all()
            return not self._closing

    # --- daemon thread ---
    def read(self, timeout: float) -> list[AudioChunk]:
        chunks = self._release()
        if not chunks:
            with self._cond:
                self._cond.wait(max(0.0, min(timeout, self._wait_s())))
            chunks = self._release()
        if chunks:
            self.level_db = level_db(chunks[-1].samples)
        return chunks

    def _wait_s(self) -> float:
        """How long until something is due: the queued head's turn, or the next silence piece."""
        now = self._clock()
        if self._queue:
            return max(0.0, max(self._queue[0][0], self._end) - now)
        return max(0.0, self._end + 2 * self.chunk / SAMPLE_RATE - now)

    def _release(self) -> list[AudioChunk]:
        out: list[AudioChunk] = []
        with self._cond:
            now = self._clock()
            while self._queue:
                arrival, samples, session = self._queue[0]
                start = max(arrival, self._end)
                if start > now:
                    break
                if start > self._end:  # a gap before this chunk arrived: silence up to its arrival
                    out.extend(self._silence(start))
                piece, rest = samples[:self.chunk], samples[self.chunk:]
                if rest.size:
                    self._queue[0] = (arrival, rest, session)
                else:
                    self._queue.popleft()
                self._queued -= piece.size
                if session.started_at is None:
                    session.started_at = self._end
                session.released += piece.size
                out.append(AudioChunk(piece, self._end))
                self._end += piece.size / SAMPLE_RATE
            if out:
                self._cond.notify_all()  # room for a waiting client
            elif not self._queue:
                # Nothing to play: silence, one piece behind real time, so that a chunk arriving a
                # little late (network jitter) still lands at its arrival time, not after silence.
                out.extend(self._silence(now - self.chunk / SAMPLE_RATE))
        return out

    def _silence(self, until: float) -> list[AudioChunk]:
        n = int((until - self._end) * SAMPLE_RATE)
        if n <= 0:
            return []
        chunk = AudioChunk(np.zeros(n, dtype=np.float32), self._end)
        self._end += n / SAMPLE_RATE
        return [chunk]
