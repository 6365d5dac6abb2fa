"""Audio sources: the seamless stream resampler, the microphone through an injected fake
stream (mono mix, resampling, capture times, overflow counting, device loss and reopen with
back-off, a device back with another format), the gapless timeline over an input that delivers
nothing, and the file source (fast, paced, looping). The same paths through a real PortAudio
device: tests/test_pulse_capture.py."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.signal import resample_poly

from livelink_bridge.sources.gapless import GaplessSource
from livelink_bridge.sources.file import FileSource
from livelink_bridge.sources.mic import MicSource
from livelink_bridge.sources.resampling import StreamResampler
from medtalk_core.audio import SAMPLE_RATE, write_audio
from medtalk_core.errors import AudioLoadError, MedtalkError


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000, 16000])
def test_stream_resampler_equals_resample_poly_with_no_seams(rate):
    rng = np.random.default_rng(rate)
    x = rng.standard_normal(rate // 2).astype(np.float32)
    r = StreamResampler(rate)
    out, i = [], 0
    while i < x.shape[0]:
        n = int(rng.integers(1, 700))
        out.append(r.process(x[i:i + n]))
        i += n
    y = np.concatenate(out)
    ref = resample_poly(x.astype(np.float64), r.up, r.down)
    assert ref.shape[0] - 30 <= y.shape[0] <= ref.shape[0]  # only the last few wait for more input
    assert np.abs(y - ref[:y.shape[0]]).max() < 1e-5


class FakeStream:
    """Stands in for sounddevice.InputStream; the test calls `feed` as PortAudio would."""

    def __init__(self, device, samplerate, channels, blocksize, callback, latency=None, reports=None):
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.callback = callback
        self.asked_latency = latency  # what MicSource asked for ("low", "high", seconds)
        if reports is not None:
            self.latency = reports  # what the opened stream reports, in seconds (a fake without it reports nothing)
        self.active = False
        self.closed = False

    def start(self):
        self.active = True

    def stop(self):
        self.active = False

    def abort(self):
        self.active = False

    def close(self):
        self.closed = True

    def feed(self, block: np.ndarray, overflow: bool = False, time_info=None) -> None:
        self.callback(block, block.shape[0], time_info, SimpleNamespace(input_overflow=overflow))


class FakeDevice:
    """A factory that records the streams it opens and fails `fail` times on request."""

    def __init__(self, rate=48000, channels=2, hostapi=None, reports=None):
        self.info = {"name": "Fake Mic", "default_samplerate": float(rate), "max_input_channels": channels}
        if hostapi is not None:
            self.info["hostapi_name"] = hostapi
        self.reports = reports  # the latency its streams report (None: they report none)
        self.streams: list[FakeStream] = []
        self.fail = 0

    def query(self, device):
        return self.info

    def open(self, *args, **kwargs):
        if self.fail > 0:
            self.fail -= 1
            raise OSError("device unavailable")
        self.streams.append(FakeStream(*args, **kwargs, reports=self.reports))
        return self.streams[-1]


def test_mic_mixes_stereo_resamples_and_times_chunks():
    dev = FakeDevice(48000, 2)
    now = [1000.0]
    mic = MicSource(chunk_ms=10, stream_factory=dev.open, device_query=dev.query, clock=lambda: now[0])
    mic.start()
    stream = dev.streams[0]
    assert (stream.samplerate, stream.channels, stream.blocksize) == (48000, 2, 480)
    t = np.arange(48000) / 48000
    left = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    right = 0.5 * np.sin(2 * np.pi * 300 * t).astype(np.float32)
    stereo = np.stack([left, right], axis=1)
    for i in range(0, 48000, 480):
        now[0] += 0.01  # the driver calls back when a 10 ms block is complete
        stream.feed(stereo[i:i + 480])
    chunks = mic.read(timeout=0.1)
    y = np.concatenate([c.samples for c in chunks])
    ref = resample_poly((left + right) / 2, 1, 3)
    assert abs(y.shape[0] - SAMPLE_RATE) < 30
    assert np.abs(y - ref[:y.shape[0]]).max() < 1e-4
    # each chunk's capture time is that of its first 16 kHz sample on the input's timeline
    times = np.array([c.capture_time for c in chunks])
    starts = np.cumsum([0] + [c.samples.shape[0] for c in chunks[:-1]]) / SAMPLE_RATE
    assert np.allclose(times, 1000.0 + starts, atol=1e-6)
    assert mic.level_db > -10 and mic.overflows == 0
    mic.close()
    assert stream.closed


def test_mic_counts_overflows_and_never_blocks_the_callback():
    dev = FakeDevice(16000, 1)
    mic = MicSource(queue_blocks=3, stream_factory=dev.open, device_query=dev.query)
    mic.start()
    block = np.zeros((160, 1), np.float32)
    start = time.perf_counter()
    for _ in range(10):
        dev.streams[0].feed(block)  # nobody reads: the queue fills after 3
    dev.streams[0].feed(block, overflow=True)  # the driver reports its own overflow too
    assert time.perf_counter() - start < 0.5
    assert mic.overflows == 10 - 3 + 1 + 1
    assert len(mic.read(timeout=0.0)) == 3
    mic.close()


class Clock:
    """A settable time.time() stand-in."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_mic_reopens_a_lost_device_with_capped_backoff_and_its_new_format():
    dev = FakeDevice(48000, 2)
    clock = Clock()
    attempts = []
    open_stream = dev.open

    def logged_open(*args, **kwargs):
        attempts.append(clock.t)
        return open_stream(*args, **kwargs)

    mic = MicSource(stream_factory=logged_open, device_query=dev.query, clock=clock, backoff_s=(0.25, 1.0),
                    keeper_interval_s=None)  # the test tends the device itself, on its fake clock
    mic.start()
    dev.streams[0].feed(np.full((240, 2), 0.5, np.float32))
    assert len(mic.read(timeout=0.0)) == 1
    dev.streams[0].active = False  # unplugged: PortAudio stops the stream
    dev.fail = 5  # the first five reopen attempts fail
    mic.tend()
    assert mic.read(timeout=0.0) == [] and dev.streams[0].closed
    # it comes back as a 44.1 kHz mono device
    dev.info = {"name": "Fake Mic", "default_samplerate": 44100.0, "max_input_channels": 1}
    lost_at = clock.t
    while len(dev.streams) < 2:
        clock.t += 0.01
        mic.tend()
        assert mic.read(timeout=0.0) == []  # nothing while it is gone (GaplessSource fills in)
    gaps = np.diff([lost_at] + attempts[1:])
    assert np.allclose(gaps, [0.25, 0.5, 1.0, 1.0, 1.0, 1.0], atol=0.011), "doubling, capped at 1 s"
    stream = dev.streams[1]
    assert mic.reopens == 1 and (stream.samplerate, stream.channels, stream.blocksize) == (44100, 1, 220)
    tone = (0.25 * np.sin(np.arange(44100) * 2 * np.pi * 300 / 44100)).astype(np.float32)
    for i in range(0, 44100, 441):
        clock.t += 0.01
        stream.feed(tone[i:i + 441, None])
    y = np.concatenate([c.samples for c in mic.read(timeout=0.0)])
    ref = resample_poly(tone.astype(np.float64), 160, 441)
    assert abs(y.shape[0] - SAMPLE_RATE) < 30 and np.abs(y - ref[:y.shape[0]]).max() < 1e-4
    mic.close()


def test_mic_grows_its_patience_while_reopened_streams_deliver_nothing():
    """PulseAudio may take seconds to wake an idle source: reopening every second would never
    get past that, so each reopen that heard nothing waits twice as long."""
    dev = FakeDevice(16000, 1)
    clock = Clock()
    mic = MicSource(stream_factory=dev.open, device_query=dev.query, clock=clock, lost_after_s=1.0,
                    backoff_s=(0.25, 1.0), keeper_interval_s=None)
    mic.start()

    def open_for() -> float:
        """Seconds the newest stream stays open while delivering nothing, then wait for the next."""
        opened, n = clock.t, len(dev.streams)
        while not dev.streams[-1].closed:
            clock.t += 0.01
            mic.tend()
        closed_at = clock.t
        while len(dev.streams) == n:
            clock.t += 0.01
            mic.tend()
        return closed_at - opened

    assert [round(open_for(), 1) for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]  # capped
    dev.streams[-1].feed(np.zeros((80, 1), np.float32))  # a block (even silence): patience resets
    assert len(mic.read(timeout=0.0)) == 1
    mic.tend()
    assert round(open_for(), 1) == 1.0
    mic.close()


def test_mic_lists_devices_again_when_a_reopened_device_is_not_found():
    dev = FakeDevice()
    clock = Clock()
    refreshed = []
    listed = [True]

    def query(device):
        if not listed[0]:
            raise ValueError(f"No input device matching {device!r}")
        return dev.info

    def refresh():
        refreshed.append(clock.t)
        listed[0] = True  # the fresh list has it again

    mic = MicSource("USB Mic", stream_factory=dev.open, device_query=query, refresh_devices=refresh, clock=clock,
                    keeper_interval_s=None)
    mic.start()
    dev.streams[0].active = False
    listed[0] = False  # the stale list lost it when it was unplugged
    while len(dev.streams) < 2:
        clock.t += 0.05
        mic.tend()
    assert len(refreshed) == 1 and dev.streams[1].active
    mic.close()


def test_gapless_fills_silence_while_the_input_delivers_nothing_and_follows_it_back():
    dev = FakeDevice(16000, 1)
    clock = Clock()
    mic = MicSource(stream_factory=dev.open, device_query=dev.query, clock=clock, lost_after_s=1.0,
                    keeper_interval_s=None)
    src = GaplessSource(mic, lost_after_s=0.2, clock=clock)
    src.start()
    t0 = clock.t
    got = []

    def step(block: np.ndarray | None = None) -> None:
        clock.t += 0.01
        if block is not None:
            dev.streams[-1].feed(block)
        mic.tend()
        got.extend(src.read(timeout=0.0))

    for _ in range(19):  # not started yet, but within lost_after_s: nothing
        step()
    assert got == [] and not src.input_lost
    for _ in range(30):  # still nothing: input lost, silence continues the timeline in real time
        step()
    assert src.input_lost and src.level_db == -120.0
    assert got[0].capture_time == pytest.approx(t0)
    filled = sum(c.samples.shape[0] for c in got)
    assert abs(filled - (clock.t - t0) * SAMPLE_RATE) <= 1 and not np.concatenate([c.samples for c in got]).any()
    speech = np.full((160, 1), 0.5, np.float32)
    step(speech)  # the block began 10 ms ago: half of it overlaps silence already handed out
    assert not src.input_lost
    for _ in range(20):
        step(speech)
    for _ in range(20):
        step(np.zeros((160, 1), np.float32))  # quiet, but delivering: not lost
    assert not src.input_lost
    # one continuous timeline: every chunk starts where the previous one ended
    ends = np.array([c.capture_time + c.samples.shape[0] / SAMPLE_RATE for c in got[:-1]])
    starts = np.array([c.capture_time for c in got[1:]])
    assert np.abs(starts - ends).max() < 1.5 / SAMPLE_RATE
    audio = np.concatenate([c.samples for c in got])
    assert np.count_nonzero(audio) >= 20 * 160  # the new audio came through (only the overlap dropped)
    dev.streams[-1].active = False  # unplugged mid-utterance
    for _ in range(30):
        step()
    assert src.input_lost and got[-1].capture_time + got[-1].samples.shape[0] / SAMPLE_RATE == pytest.approx(clock.t)
    src.close()


def test_mic_that_cannot_open_at_start_is_a_user_error():
    dev = FakeDevice()
    dev.fail = 1
    with pytest.raises(MedtalkError, match="cannot open the default audio input"):
        MicSource(stream_factory=dev.open, device_query=dev.query).start()


def _wav(tmp_path, seconds=0.5):
    audio = (0.1 * np.sin(np.arange(int(seconds * SAMPLE_RATE)) * 0.05)).astype(np.float32)
    path = tmp_path / "a.wav"
    write_audio(path, audio)
    return path, audio


def test_file_source_fast_hands_out_every_sample_once(tmp_path):
    path, audio = _wav(tmp_path)
    src = FileSource(path, realtime=False, chunk_ms=10)
    src.start()
    chunks = []
    while not src.exhausted:
        chunks.extend(src.read(0.0))
    y = np.concatenate([c.samples for c in chunks])
    assert np.allclose(y, audio, atol=1e-4)
    times = np.array([c.capture_time for c in chunks])
    assert np.allclose(np.diff(times), 160 / SAMPLE_RATE, atol=1e-6)
    assert src.read(0.0) == []


def test_file_source_paces_in_real_time_with_a_fake_clock(tmp_path):
    path, audio = _wav(tmp_path)
    now = [50.0]
    src = FileSource(path, realtime=True, chunk_ms=10, clock=lambda: now[0],
                     sleep=lambda s: now.__setitem__(0, now[0] + s))
    src.start()
    assert src.read(0.0) == []  # nothing "captured" yet
    got = src.read(1.0)  # sleeps until the first chunk is complete
    assert len(got) == 1 and now[0] == pytest.approx(50.01)
    now[0] = 50.2
    got = src.read(0.0)
    assert len(got) == 19 and got[-1].capture_time == pytest.approx(50.19)


def test_file_source_loops(tmp_path):
    path, audio = _wav(tmp_path, 0.1)
    src = FileSource(path, realtime=False, loop=True, chunk_ms=30)
    src.start()
    y = np.concatenate([src.read(0.0)[0].samples for _ in range(10)])
    assert not src.exhausted and y.shape[0] == 10 * 480
    assert np.allclose(y[:1600], audio, atol=1e-4) and np.allclose(y[1600:3200], audio, atol=1e-4)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AudioLoadError, match="not found"):
        FileSource(tmp_path / "nope.wav")
