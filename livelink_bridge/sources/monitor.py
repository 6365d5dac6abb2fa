"""`medtalk run --monitor`: the input audio played on an output device, each sample heard when
the frame that animates it is sent.

Frame f leaves at capture_time(f) + playout delay (`clock.FrameClock`). So the sample captured
at time c must be heard at c + delay: each output callback asks for the samples whose capture
time is (now + the device's reported output latency - delay). Audio comes from the daemon's
loop (`push`), already on the source's timeline; the callback (the audio thread) only copies
out of a bounded buffer. Small jitter of callback times is absorbed (the read position
continues sample by sample); only a drift beyond `resync_s` moves it, so the sound never clicks.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from livelink_bridge.sources import AudioChunk, device_open_error
from livelink_bridge.sources.mic import parse_device
from livelink_bridge.sources.resampling import StreamResampler
from medtalk_core.audio import FPS, SAMPLE_RATE
from medtalk_core.errors import MedtalkError

logger = logging.getLogger(__name__)

StreamFactory = Callable[..., Any]  # (device, samplerate, callback) -> stream with .latency, start(), stop(), close()
DeviceQuery = Callable[[Any], dict]  # device -> {"name", "default_samplerate"}
RESYNC_S = 0.5 / FPS  # the read position is moved only when it is off by more than half a frame


def _sounddevice_stream(device: Any, samplerate: int, callback: Callable) -> Any:
    import sounddevice as sd

    return sd.OutputStream(device=device, samplerate=samplerate, channels=1, dtype="float32",
                           latency="low", callback=callback)


def _sounddevice_query(device: Any) -> dict:
    import sounddevice as sd

    return dict(sd.query_devices(device, kind="output"))


@dataclass(frozen=True)
class MonitorConfig:
    """Play a file or network source on an output device, heard when its frames are sent."""

    enabled: bool = False
    device: str | None = None  # output device name (substring) or index; None = system default
    buffer_s: float = 2.0  # audio held for the device at most


class AudioMonitor:
    """`start()` opens the device, `push(chunk)` (the daemon loop) queues audio, `close()` stops."""

    def __init__(self, delay_s: float, device: str | int | None = None, buffer_s: float = MonitorConfig.buffer_s,
                 stream_factory: StreamFactory | None = None, device_query: DeviceQuery | None = None,
                 clock: Callable[[], float] = time.time, resync_s: float = RESYNC_S) -> None:
        self.delay_s = float(delay_s)  # the output clock's playout delay
        self.device = parse_device(device)
        self.buffer_s = buffer_s  # audio kept for the device at most; older samples are dropped
        self.resync_s = resync_s
        self._factory = stream_factory or _sounddevice_stream
        self._query = device_query or _sounddevice_query
        self._clock = clock
        self._lock = threading.Lock()
        self._stream: Any = None
        self.rate = SAMPLE_RATE
        self.output_latency = 0.0  # seconds, as the device reports it
        self._resampler: StreamResampler | None = None
        self._buf = np.zeros(0, dtype=np.float32)  # device-rate samples not yet played...
        self._buf_time: float | None = None  # ...and the capture time of _buf[0]
        self._in_end: float | None = None  # capture time just after the last pushed input sample
        self._cursor: float | None = None  # capture time of the next sample to play
        self.dropped_s = 0.0  # audio dropped (buffer full, or too late to be heard in sync)
        self.underruns = 0  # callbacks that found no audio for their time
        self.resyncs = 0

    # --- lifecycle ---
    def start(self) -> "AudioMonitor":
        try:
            info = self._query(self.device)
            self.rate = int(round(float(info["default_samplerate"])))
            self._resampler = StreamResampler(SAMPLE_RATE, self.rate)
            stream = self._factory(self.device, self.rate, self._callback)
            self.output_latency = float(stream.latency)
            stream.start()
        except MedtalkError:
            raise
        except Exception as exc:
            raise device_open_error("output", self.device, exc,
                                    "for --monitor; `python -m sounddevice` lists devices") from None
        self._stream = stream
        name = info.get("name", self.device)
        if self.output_latency > self.delay_s:
            logger.warning("monitor %s: output latency %.0f ms exceeds the playout delay %.0f ms; the audio is "
                           "heard %.0f ms after its frame (raise clock.playout_delay_ms)", name,
                           1000 * self.output_latency, 1000 * self.delay_s,
                           1000 * (self.output_latency - self.delay_s))
        logger.info("monitor: %s at %d Hz, output latency %.1f ms, audio delayed %.1f ms", name, self.rate,
                    1000 * self.output_latency, 1000 * max(0.0, self.delay_s - self.output_latency))
        return self

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a vanished device may fail to stop; it is dropped anyway
                logger.debug("closing monitor output: %s", exc)

    # --- the daemon loop ---
    def push(self, chunk: AudioChunk) -> None:
        """Queue a chunk of the source (16 kHz mono, its capture time)."""
        samples = chunk.samples
        if self._in_end is not None and chunk.capture_time > self._in_end + 1.0 / SAMPLE_RATE:
            gap = int(round((chunk.capture_time - self._in_end) * SAMPLE_RATE))  # the source skipped: silence
            samples = np.concatenate([np.zeros(gap, dtype=np.float32), samples])
        start = chunk.capture_time if self._in_end is None else self._in_end
        self._in_end = start + samples.shape[0] / SAMPLE_RATE
        out = self._resampler.process(samples)  # (m,) at the device rate; aligned: output 0 = input 0
        with self._lock:
            if self._buf_time is None:
                self._buf_time = start
            self._buf = np.concatenate([self._buf, out])
            excess = self._buf.shape[0] - int(self.buffer_s * self.rate)
            if excess > 0:
                self._drop(excess)

    def _drop(self, n: int) -> None:
        self._buf = self._buf[n:]
        self._buf_time += n / self.rate
        self.dropped_s += n / self.rate

    # --- the audio thread ---
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        want = self._clock() + self.output_latency - self.delay_s  # capture time to be heard at outdata[0]
        out = outdata.reshape(-1)
        with self._lock:
            if self._cursor is None or abs(self._cursor - want) > self.resync_s:
                if self._cursor is not None:
                    self.resyncs += 1
                self._cursor = want
            out[:] = self._take(frames)
            self._cursor += frames / self.rate

    def _take(self, frames: int) -> np.ndarray:
        """`frames` samples from the cursor on; silence where there is no audio for that time."""
        block = np.zeros(frames, dtype=np.float32)
        if self._buf_time is None:
            self.underruns += 1
            return block
        offset = int(round((self._cursor - self._buf_time) * self.rate))  # cursor's index in _buf
        if offset > 0:  # audio older than the cursor will never be heard in sync
            n = min(offset, self._buf.shape[0])
            self._drop(n)
            offset -= n
        lo = max(0, -offset)  # the cursor is before the buffered audio: silence until it
        n = max(0, min(frames - lo, self._buf.shape[0]))
        block[lo:lo + n] = self._buf[:n]
        if n < frames:
            self.underruns += 1
        self._buf = self._buf[n:]
        self._buf_time += n / self.rate
        return block
