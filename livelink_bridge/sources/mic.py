"""The microphone: sounddevice input at the device's native rate and channels, mixed to mono and
resampled to 16 kHz, kept open across device loss; capture times from `capture_clock`.

The audio callback only copies into a bounded queue (it never blocks the audio thread; overflows
are counted); the capture clock, mixing, resampling and device-loss handling happen in `read()`
and on a keeper thread. A live source may deliver nothing for a while (device lost, suspended,
not started yet): `gapless` keeps the timeline going."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from livelink_bridge.sources.capture_clock import Callback, CaptureClock
from medtalk_core.audio import (
    to_mono,
)
from medtalk_core.errors import ConfigError, MedtalkError

logger = logging.getLogger(__name__)

from livelink_bridge.sources import AudioChunk, device_open_error, level_db
from livelink_bridge.sources.resampling import StreamResampler, _ChunkTimer
from livelink_bridge.loop_thread import LoopThread

# --- microphone ------------------------------------------------------------------------------
_MAX_PATIENCE_S = 8.0  # longest wait for the first block of a reopened stream before another reopen
StreamFactory = Callable[..., Any]  # (device, samplerate, channels, blocksize, callback, latency) -> stream
DeviceQuery = Callable[[Any], dict]  # device -> {"name", "default_samplerate", "max_input_channels", "hostapi_name"}
Latency = str | float  # PortAudio's suggested input latency: "low", "high" or seconds


@dataclass(frozen=True)
class StreamChoice:
    """How a host API delivers input regularly: what to ask of it when the config does not say."""

    block_ms: float  # samples per callback, in ms; 0 = whatever the host API delivers (its own period)
    latency: Latency  # PortAudio's suggested input latency; a number is in blocks (3 = a 3-block buffer)
    why: str  # measured here, or what PortAudio's documentation for that host API says


# By PortAudio's host API name. ALSA measured here (docs/LIVE.md, "Microphone"); the others from
# PortAudio's documentation of each host API.
HOST_API_STREAMS: dict[str, StreamChoice] = {
    "ALSA": StreamChoice(5.0, 3, "measured through ALSA's PulseAudio plugin: one 5 ms block every 5 ms with a "
                         "3-block buffer (low latency, 2 blocks, is as regular with less room for a late "
                         "callback); at the default (high) latency they come in bursts"),
    "PulseAudio": StreamChoice(5.0, 3, "PortAudio's own PulseAudio host API: as ALSA's plugin (not measured)"),
    "JACK Audio Connection Kit": StreamChoice(0.0, "low", "one block per JACK cycle, JACK's own period"),
    "Core Audio": StreamChoice(5.0, "low", "the device's I/O buffer is sized to the block: one callback each"),
    "Windows WASAPI": StreamChoice(10.0, "low", "shared mode runs every 10 ms: smaller blocks would come in bursts"),
    "Windows WDM-KS": StreamChoice(10.0, "low", "the kernel streaming period (10 ms) per callback"),
    "ASIO": StreamChoice(0.0, "low", "the driver's own buffer size per callback"),
    "Windows DirectSound": StreamChoice(10.0, "high", "polled: needs its high latency to deliver regularly"),
    "MME": StreamChoice(10.0, "high", "polled: needs its high latency to deliver regularly"),
}
OTHER_HOST_API = StreamChoice(5.0, "low", "a host API without a measured choice")


@dataclass(frozen=True)
class MicConfig:
    """How the microphone's stream is opened; None = the host API's choice (HOST_API_STREAMS)."""

    block_ms: float | None = None  # samples per callback, in ms (0 = what the host API delivers)
    latency: Latency | None = None  # PortAudio's suggested input latency: "low", "high" or seconds

    def __post_init__(self) -> None:
        if self.block_ms is not None and not self.block_ms >= 0:
            raise ConfigError(f"mic block_ms must be 0 or more, got {self.block_ms!r}")
        if isinstance(self.latency, str) and self.latency not in ("low", "high"):
            raise ConfigError(f"mic latency must be 'low', 'high' or seconds, got {self.latency!r}")
        if isinstance(self.latency, (int, float)) and not (0 < self.latency < 2):
            raise ConfigError(f"mic latency must be between 0 and 2 seconds, got {self.latency!r}")

    def choose(self, hostapi: str) -> tuple[float, Latency, str]:
        """(block ms, latency, where they come from) for a device of this host API."""
        choice = HOST_API_STREAMS.get(hostapi, OTHER_HOST_API)
        block = choice.block_ms if self.block_ms is None else self.block_ms
        latency = self.latency
        if latency is None:  # the host API's; a number of blocks is seconds at the block size in use
            latency = choice.latency
            if not isinstance(latency, str):
                latency = latency * block / 1000 if block > 0 else "low"
        chosen = self.block_ms is None or self.latency is None
        return block, latency, f"{hostapi or 'unknown host API'}: {choice.why}" if chosen else "the config"


def _sounddevice_stream(device: Any, samplerate: int, channels: int, blocksize: int,
                        callback: Callable, latency: Latency | None = None) -> Any:
    import sounddevice as sd

    return sd.InputStream(device=device, samplerate=samplerate, channels=channels, blocksize=blocksize,
                          latency=latency, dtype="float32", callback=callback)


def _sounddevice_query(device: Any) -> dict:
    import sounddevice as sd

    info = dict(sd.query_devices(device, kind="input"))
    info["hostapi_name"] = sd.query_hostapis(info["hostapi"])["name"]
    return info


def _sounddevice_refresh() -> None:
    """Make PortAudio list the devices again (it enumerates once, when it initialises); this
    closes every PortAudio stream of the process, so it runs only while the input is closed."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def parse_device(device: str | int | None) -> str | int | None:
    """'3' -> 3 (an index); a name (any substring sounddevice matches) stays a string."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


def list_input_devices() -> list[dict]:
    """Every input device: index, name, host API, channels, default rate."""
    try:
        import sounddevice as sd

        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0] if sd.default.device else -1
    except (OSError, RuntimeError) as exc:
        raise MedtalkError(f"cannot list audio devices (is PortAudio installed? apt install libportaudio2): {exc}") from None
    out = []
    for index, dev in enumerate(devices):
        if dev["max_input_channels"] > 0:
            out.append({"index": index, "name": dev["name"], "hostapi": apis[dev["hostapi"]]["name"],
                        "channels": dev["max_input_channels"], "rate": dev["default_samplerate"],
                        "default": index == default_in})
    return out


@dataclass(frozen=True)
class _Block:
    samples: np.ndarray  # (frames, channels) float32 at the stream's native rate
    callback: Callback  # when it reached the callback (the capture clock's input)
    stream: int  # which opening of the device it came from
    rate: int  # that opening's native rate


class MicSource:
    """Microphone input at the device's native rate and channels, mixed to mono, resampled to 16 kHz.

    A keeper thread owns the device: it notices a loss (the stream stops, or no callback for
    `lost_after_s`), closes the stream and reopens it with capped exponential back-off, asking the
    device again for its native rate and channels each time. PortAudio calls can block (an open
    that fails takes ~0.25 s, stopping a stream that waits for data up to 2 s), so none of them
    runs on the daemon's thread: `read()` only converts queued blocks. While the device is gone
    it returns nothing; `GaplessSource` (the daemon's wrapper of every live source) fills the
    timeline with silence so the face keeps idling.

    Capture times follow the audio, not the callbacks: each opening has its own sample-count
    clock (`capture_clock.CaptureClock`), and the block size and latency asked of the stream are
    the host API's regular ones (`MicConfig`, `HOST_API_STREAMS`) unless configured.
    `input_latency_s` is what the open stream reports (the playout delay adds it) and
    `clock_name` which clock the capture times follow ("adc" or "callback-sample")."""

    def __init__(self, device: str | int | None = None, chunk_ms: float | None = None, queue_blocks: int = 400,
                 stream_factory: StreamFactory | None = None, device_query: DeviceQuery | None = None,
                 refresh_devices: Callable[[], None] | None = None, clock: Callable[[], float] = time.time,
                 lost_after_s: float = 2.0, backoff_s: tuple[float, float] = (0.25, 1.0),
                 keeper_interval_s: float | None = 0.05, config: MicConfig = MicConfig()) -> None:
        self.device = parse_device(device)
        # chunk_ms (the source's chunk length, as the daemon passes it) is the block size when given
        self.config = config if chunk_ms is None else dataclasses.replace(config, block_ms=chunk_ms)
        self._factory = stream_factory or _sounddevice_stream
        self._query = device_query or _sounddevice_query
        self._refresh = refresh_devices or _sounddevice_refresh
        self._clock = clock
        self._queue: queue.Queue[_Block] = queue.Queue(maxsize=queue_blocks)
        # An open stream may take a while to deliver its first block (PulseAudio wakes an idle
        # source up to 2 s late): each reopen that brought no audio doubles the patience, up
        # to _MAX_PATIENCE_S; audio resets it.
        self.lost_after_s = lost_after_s
        self.backoff_s = backoff_s  # (first, cap) wait between reopen attempts
        self.keeper_interval_s = keeper_interval_s  # how often the keeper looks; None = the owner calls tend()
        self._patience = lost_after_s
        self._stream: Any = None
        self._opened = 0  # openings so far; a block carries the number of its own
        self._last_callback = 0.0
        self._heard = False  # a block arrived since the last opening
        self._retry_at = 0.0
        self._backoff = backoff_s[0]
        self._failures = 0  # reopen attempts failed in a row (logged sparsely)
        self._keeper = LoopThread("medtalk-mic-keeper", self._keep)
        # read() side (the daemon's thread): the conversion of the opening it is reading
        self._reading = 0
        self._resampler: StreamResampler | None = None
        self._timer: _ChunkTimer | None = None
        self._capture: CaptureClock | None = None
        self._dropped = 0  # samples of blocks the full queue refused since the last one queued (audio thread)
        self.device_name = ""
        self.input_latency_s = 0.0  # input latency the open stream reports (0 where it says nothing)
        self.exhausted = False  # a microphone never runs out
        self.overflows = 0
        self.bad_samples = 0  # a device's non-finite samples reach the daemon, which counts them
        self.reopens = 0
        self.level_db = -120.0

    @property
    def end_frame(self) -> int | None:
        return None  # a microphone never ends

    @property
    def clock_name(self) -> str:
        """Which clock the capture times follow: "adc" or "callback-sample" (before any audio too)."""
        return self._capture.name if self._capture is not None else "callback-sample"

    # --- lifecycle (the owner's thread) ---
    def start(self) -> None:
        """Open the device; a device that cannot be opened at start is the user's to fix."""
        try:
            self._open()
        except MedtalkError:
            raise
        except Exception as exc:
            raise device_open_error("input", self.device, exc, "see `medtalk devices`") from None
        if self.keeper_interval_s is not None:
            self._keeper.start()

    def close(self) -> None:
        self._keeper.stop()
        self._close_stream()

    # --- the device (keeper thread) ---
    def _keep(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.keeper_interval_s):
            self.tend()

    def tend(self) -> None:
        """One look at the device: notice a loss, close the stream, reopen when due."""
        now = self._clock()
        if self._stream is None:
            if now >= self._retry_at:
                self._reopen(now)
            return
        active = getattr(self._stream, "active", True)
        if self._heard:  # it delivers: the next loss starts over from the shortest waits
            self._backoff, self._patience = self.backoff_s[0], self.lost_after_s
        if active and now - self._last_callback <= self._patience:
            return
        why = "stream stopped" if not active else f"no audio for {now - self._last_callback:.1f} s"
        logger.warning("audio input %s lost (%s); reopening in %.2f s, idle frames meanwhile",
                       self.device_name or self.device, why, self._backoff)
        if not self._heard:
            self._patience = min(2 * self._patience, _MAX_PATIENCE_S)
        self._close_stream()
        self._retry_at = now + self._backoff

    def _open(self, reopen: bool = False) -> None:
        try:
            info = self._query(self.device)
        except ValueError as exc:
            if not reopen:
                raise MedtalkError(f"audio input {self.device!r} not found: {exc} (see `medtalk devices`)") from None
            # PortAudio lists devices once, at start: a device plugged back in may only appear
            # (or move to another index) in a fresh list.
            self._refresh()
            info = self._query(self.device)
        rate = int(round(float(info["default_samplerate"])))
        channels = max(1, min(2, int(info["max_input_channels"])))
        block_ms, latency, why = self.config.choose(str(info.get("hostapi_name", "")))
        blocksize = int(round(rate * block_ms / 1000.0))
        if block_ms > 0:
            blocksize = max(1, blocksize)
        opening = self._opened + 1
        self._heard = False
        self._last_callback = self._clock()
        stream = self._factory(self.device, rate, channels, blocksize, self._callback_for(opening, rate),
                               latency=latency)
        self.input_latency_s = float(getattr(stream, "latency", 0.0) or 0.0)  # before its first block is read
        stream.start()
        self._opened = opening
        self._stream = stream
        self.device_name = str(info.get("name", self.device))
        logger.info("audio input: %s (%d Hz, %d channel%s), %s blocks at %s latency (%s); the stream reports "
                    "%.1f ms", self.device_name, rate, channels, "" if channels == 1 else "s",
                    f"{block_ms:g} ms" if block_ms > 0 else "host-sized",
                    latency if isinstance(latency, str) else f"{1000 * latency:g} ms", why,
                    1000 * self.input_latency_s)

    def _reopen(self, now: float) -> None:
        try:
            self._open(reopen=True)
        except Exception as exc:  # keep trying: the user may plug the device back in
            self._failures += 1
            self._backoff = min(self._backoff * 2, self.backoff_s[1])
            self._retry_at = now + self._backoff
            if self._failures in (1, 10) or self._failures % 100 == 0:  # tries are cheap, logs are not
                logger.warning("audio input still unavailable (%s, %d tries); trying every %.2f s",
                               exc, self._failures, self._backoff)
            return
        self.reopens += 1
        self._failures = 0
        logger.warning("audio input %s reopened", self.device_name)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()  # not stop(): that waits for a block the device may never deliver
                stream.close()
            except Exception as exc:  # a lost device may fail to stop; it is being dropped anyway
                logger.debug("closing input stream: %s", exc)

    # --- audio thread ---
    def _callback_for(self, opening: int, rate: int) -> Callable:
        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            """Runs on PortAudio's thread: record when, copy and enqueue, nothing else (never block)."""
            now = self._clock()
            self._last_callback = now
            self._heard = True
            overflow = status is not None and bool(getattr(status, "input_overflow", False))
            if overflow:
                self.overflows += 1
            when = Callback(now, frames, float(getattr(time_info, "inputBufferAdcTime", 0.0)),
                            float(getattr(time_info, "currentTime", 0.0)), overflow, self._dropped)
            try:
                self._queue.put_nowait(_Block(indata.copy(), when, opening, rate))
                self._dropped = 0
            except queue.Full:
                self.overflows += 1
                self._dropped += frames  # the clock counts them, so the times after the loss stay true

        return callback

    # --- daemon thread ---
    def read(self, timeout: float) -> list[AudioChunk]:
        blocks = []
        try:
            blocks.append(self._queue.get(timeout=max(0.0, timeout)))
            while True:
                blocks.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        chunks = []
        while blocks:
            if blocks[0].stream < self._reading:
                blocks.pop(0)  # left over from an opening before the one being read
                continue
            if blocks[0].stream != self._reading:  # a new opening, perhaps at another rate: a new clock
                first = blocks[0]
                self._reading = first.stream
                self._resampler = StreamResampler(first.rate)
                self._timer = _ChunkTimer(first.rate)
                self._capture = CaptureClock(first.rate, self.input_latency_s)
            n = next((i for i, b in enumerate(blocks) if b.stream != self._reading), len(blocks))
            run, blocks = blocks[:n], blocks[n:]
            times = self._capture.place([b.callback for b in run])
            for block, t in zip(run, times):
                mono = to_mono(block.samples)
                out = self._resampler.process(mono)
                chunk = self._timer.chunk(t, mono.shape[0], out)
                if out.size:
                    chunks.append(chunk)
                    self.level_db = level_db(out)
        return chunks


