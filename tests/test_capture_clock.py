"""Microphone capture times follow the audio, not the callbacks (livelink_bridge/sources/capture_clock.py).

A fake driver captures samples on a true sample clock (sample n at T0 + n / rate) and calls back
as a real one does: steadily, with jitter, or in PulseAudio-like bursts (four callbacks within a
millisecond every 20 ms); MicSource must hand out chunks whose capture times match the true
clock within 2 ms and are evenly spaced by their sample counts. Also: a clock drifting against
time.time(), the driver's ADC time (used where it is possible, refused where it is not), lost
samples, a reopened device, and the block size and latency asked of each host API. No timed
assertions: every clock here is a fake one.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from test_sources import Clock, FakeDevice

from livelink_bridge.sources.capture_clock import REANCHOR_S, Callback, CaptureClock
from livelink_bridge.sources.mic import MicConfig, MicSource
from medtalk_core.audio import SAMPLE_RATE
from medtalk_core.errors import ConfigError

T0 = 1000.0  # true capture time of sample 0
TOLERANCE_S = 0.002  # the bound on the capture-time error
SETTLE_S = 0.025  # audio of an opening after which it holds (its first burst)


def delivered(pattern: str, n_blocks: int, block: int, rate: float, seed: int = 0) -> np.ndarray:
    """When each block reaches the callback; block i is complete at T0 + (i + 1) * block / rate."""
    end = T0 + (np.arange(n_blocks) + 1) * block / rate
    rng = np.random.default_rng(seed)
    if pattern == "steady":
        return end + 0.0003
    if pattern == "jittered":  # late by 0-8 ms, in order (one driver thread)
        return np.maximum.accumulate(end + rng.uniform(0.0, 0.008, n_blocks))
    assert pattern == "bursty"  # PulseAudio's default latency: the blocks completed in each 20 ms period go at once
    period = round(0.02 * rate)  # samples; the driver wakes 0.3 ms after a period is complete
    tick = T0 + 0.0003 + np.ceil(np.round((end - T0) * rate) / period) * period / rate
    order = np.zeros(n_blocks)
    for i in range(1, n_blocks):
        order[i] = order[i - 1] + 1 if tick[i] == tick[i - 1] else 0
    return tick + 0.00025 * order  # four callbacks within a millisecond


def stream(mic: MicSource, dev: FakeDevice, clock: Clock, when: np.ndarray, block: int,
           time_info=None, read_every_s: float = 0.01) -> list:
    """Feed block i at when[i] (noise: the content is not under test), reading every
    `read_every_s` as the daemon's loop does; every chunk read."""
    noise = np.random.default_rng(1).standard_normal((block, 1)).astype(np.float32) * 0.1
    reads = np.arange(when[0], when[-1] + 0.05, read_every_s)
    events = sorted([(t, 0, i) for i, t in enumerate(when)] + [(t, 1, -1) for t in reads])
    chunks = []
    for t, is_read, i in events:
        clock.t = t
        if is_read:
            chunks.extend(mic.read(timeout=0.0))
        else:
            dev.streams[-1].feed(noise, time_info=None if time_info is None else time_info(i, t))
    return chunks


def errors(chunks: list, t0: float = T0, rate_ratio: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(capture time - true capture time, spacing - sample count) of each chunk after the first
    burst of the opening (a block read before the rest of its burst has come is placed by its own
    callback alone, up to a burst late); `rate_ratio` is the device's true rate over its nominal one."""
    times = np.array([c.capture_time for c in chunks])
    pos = np.cumsum([0] + [c.samples.shape[0] for c in chunks[:-1]])
    true = t0 + pos / (SAMPLE_RATE * rate_ratio)
    settled = pos >= SETTLE_S * SAMPLE_RATE
    spacing = np.diff(times[settled]) - np.diff(pos[settled]) / SAMPLE_RATE
    return (times - true)[settled], spacing


def mic_on(rate: int, clock: Clock, **kwargs) -> tuple[MicSource, FakeDevice]:
    dev = FakeDevice(rate, 1)
    mic = MicSource(stream_factory=dev.open, device_query=dev.query, clock=clock, keeper_interval_s=None, **kwargs)
    mic.start()
    return mic, dev


@pytest.mark.parametrize("pattern", ["bursty", "jittered", "steady"])
def test_capture_times_follow_the_sample_count_whatever_the_callbacks(pattern):
    """44.1 kHz, 5 ms blocks (220 samples), 20 s: the issue's case and two kinder ones."""
    clock = Clock()
    mic, dev = mic_on(44100, clock)
    chunks = stream(mic, dev, clock, delivered(pattern, 4000, 220, 44100), 220)
    err, spacing = errors(chunks)
    assert abs(sum(c.samples.shape[0] for c in chunks) - 4000 * 220 * SAMPLE_RATE / 44100) < 30  # all of it
    assert np.abs(err).max() <= TOLERANCE_S, f"{pattern}: worst capture-time error {1000 * np.abs(err).max():.2f} ms"
    assert np.abs(spacing).max() < 0.0001, "evenly spaced: chunk times advance with their samples, not the callbacks"
    assert mic.clock_name == "callback-sample" and mic.input_latency_s == 0.0
    mic.close()


def test_the_bursty_driver_puts_callback_stamps_up_to_15_ms_off():
    """What the clock replaces (and the fake is bursty enough to show): a block's callback time minus its length."""
    when = delivered("bursty", 400, 220, 44100)
    stamped = when - 220 / 44100
    true = T0 + np.arange(400) * 220 / 44100
    assert (stamped - true).max() > 0.012


@pytest.mark.parametrize("ppm", [250.0, -250.0])
def test_drift_against_the_wall_clock_is_followed(ppm):
    """A device whose 16 kHz is 250 ppm off time.time()'s: 15 ms over a minute, uncorrected."""
    clock = Clock()
    mic, dev = mic_on(16000, clock)
    ratio = 1 + ppm * 1e-6
    chunks = stream(mic, dev, clock, delivered("bursty", 12000, 80, 16000 * ratio), 80, read_every_s=0.02)
    err, spacing = errors(chunks, rate_ratio=ratio)
    assert np.abs(err).max() <= TOLERANCE_S, f"worst error {1000 * np.abs(err).max():.2f} ms"
    assert np.abs(spacing).max() < 0.0001  # corrected slowly, never by a jump
    mic.close()


def adc_info(lag_s: float, rate: int, block: int, offset: float = 5000.0):
    """time_info of a driver whose stream time is time.time() + `offset`: the ADC time of block i's
    first sample `lag_s` after its true capture; the Python callback runs up to 3 ms after
    PortAudio took `currentTime` (another thread held the GIL)."""
    rng = np.random.default_rng(2)

    def info(i: int, wall: float) -> SimpleNamespace:
        return SimpleNamespace(inputBufferAdcTime=T0 + i * block / rate + lag_s + offset,
                               currentTime=wall - rng.uniform(0.0, 0.003) + offset)

    return info


def test_the_drivers_adc_time_is_used_where_it_is_possible():
    clock = Clock()
    mic, dev = mic_on(44100, clock)
    chunks = stream(mic, dev, clock, delivered("bursty", 1000, 220, 44100), 220, adc_info(0.0, 44100, 220))
    err, spacing = errors(chunks)
    assert mic.clock_name == "adc"
    assert np.abs(err).max() <= 0.0005 and np.abs(spacing).max() < 0.0001
    mic.close()


@pytest.mark.parametrize("lag_s", [0.005, -0.66, -0.03])
def test_an_impossible_adc_time_is_refused_for_the_callbacks(lag_s, caplog):
    """ALSA's PulseAudio plugin: ADC times up to a block after the truth (some blocks would have
    reached the callback before they were complete), hundreds of ms before it as a stream starts,
    or tens of ms before the promptest callbacks of a stream that reports no latency."""
    clock = Clock()
    mic, dev = mic_on(44100, clock)
    with caplog.at_level(logging.INFO, logger="livelink_bridge.sources.capture_clock"):
        chunks = stream(mic, dev, clock, delivered("bursty", 1000, 220, 44100), 220, adc_info(lag_s, 44100, 220))
    err, _ = errors(chunks)
    assert mic.clock_name == "callback-sample" and "following the callbacks' sample clock" in caplog.text
    assert np.abs(err[len(err) // 4:]).max() <= TOLERANCE_S
    mic.close()


def test_a_reopened_device_re_anchors_the_clock():
    """Unplugged, back 0.65 s later at another rate: its samples start a new timeline."""
    clock = Clock()
    mic, dev = mic_on(48000, clock, backoff_s=(0.25, 0.25))
    first = stream(mic, dev, clock, delivered("bursty", 200, 240, 48000), 240)
    dev.streams[0].active = False
    dev.info = {"name": "Fake Mic", "default_samplerate": 44100.0, "max_input_channels": 1}
    while len(dev.streams) < 2:
        clock.t += 0.05
        mic.tend()
    t0 = clock.t + 0.3  # the new stream's first sample (PulseAudio takes a while to start it)
    when = delivered("jittered", 400, 220, 44100) - T0 + t0
    second = stream(mic, dev, clock, when, 220)
    assert np.abs(errors(first)[0]).max() <= TOLERANCE_S
    assert np.abs(errors(second, t0)[0]).max() <= TOLERANCE_S, "the reopened stream is timed on its own samples"
    gap = second[0].capture_time - (first[-1].capture_time + first[-1].samples.shape[0] / SAMPLE_RATE)
    assert gap > 0.5, "the timeline jumps by the time the device was away, not on from the first opening's count"
    mic.close()


def test_blocks_the_full_queue_dropped_are_counted_in_the_timeline():
    clock = Clock()
    mic, dev = mic_on(16000, clock, queue_blocks=10)
    when = delivered("steady", 400, 80, 16000)
    block = np.zeros((80, 1), np.float32)
    for t in when[:30]:  # nobody reads: 20 blocks lost
        clock.t = t
        dev.streams[0].feed(block)
    kept = mic.read(timeout=0.0)
    after = stream(mic, dev, clock, when[30:], 80)
    assert mic.overflows == 20 and len(kept) == 10
    assert np.abs(errors(kept)[0]).max() <= TOLERANCE_S
    assert np.abs(errors(after, T0 + 30 * 80 / 16000)[0]).max() <= TOLERANCE_S
    mic.close()


@pytest.mark.parametrize("flagged", [True, False])
def test_samples_lost_in_a_stall_re_anchor_the_clock(flagged):
    """The callbacks stop for 300 ms; the driver keeps the newest 100 ms, which comes in a burst
    when they resume (with or without an overflow flag): 200 ms of samples never arrive."""
    clock = CaptureClock(16000)
    block, rate = 80, 16000
    true_start = lambda i: T0 + i * block / rate  # noqa: E731
    times = [clock.place([Callback(true_start(i + 1) + 0.0003, block)])[0] for i in range(200)]
    resume = true_start(260) + 0.0003  # blocks 200-239 lost, 240-259 buffered
    burst = [Callback(resume + 0.00005 * k, block, overflow=flagged and k == 0) for k in range(20)]
    times += clock.place(burst)
    times += [clock.place([Callback(true_start(i + 1) + 0.0003, block)])[0] for i in range(260, 600)]
    true = np.array([true_start(i) for i in list(range(200)) + list(range(240, 600))])
    assert clock.reanchors == 1
    assert np.abs(np.array(times) - true).max() <= TOLERANCE_S


def test_a_wildly_drifting_driver_is_re_anchored():
    """A fake driver 5% slow (one that sleeps 10 ms per 10 ms block): far beyond what the servo
    follows, so the clock re-anchors whenever it is REANCHOR_S behind, and stays within that."""
    clock = CaptureClock(16000)
    err = []
    for i in range(1000):
        wall = T0 + (i + 1) * 0.0105
        err.append(clock.observe(Callback(wall, 160)) - (wall - 0.0105))
    assert clock.reanchors > 5
    assert np.abs(err).max() <= REANCHOR_S + 0.01


@pytest.mark.parametrize("hostapi, blocksize, latency, said", [
    ("ALSA", 220, 0.015, "15 ms"), ("Windows WASAPI", 441, "low", "low"), ("MME", 441, "high", "high"),
    ("JACK Audio Connection Kit", 0, "low", "low"), (None, 220, "low", "low")])
def test_the_stream_asks_the_host_apis_regular_block_and_latency(hostapi, blocksize, latency, said, caplog):
    dev = FakeDevice(44100, 1, hostapi=hostapi, reports=0.0116)
    mic = MicSource(stream_factory=dev.open, device_query=dev.query, keeper_interval_s=None)
    with caplog.at_level(logging.INFO, logger="livelink_bridge.sources"):
        mic.start()
    stream = dev.streams[0]
    assert (stream.blocksize, stream.asked_latency) == (blocksize, latency)
    assert mic.input_latency_s == pytest.approx(0.0116)
    assert f"at {said} latency" in caplog.text and "the stream reports 11.6 ms" in caplog.text
    mic.close()


def test_the_config_overrides_the_host_apis_choice():
    dev = FakeDevice(44100, 1, hostapi="ALSA")
    for mic in (MicSource(stream_factory=dev.open, device_query=dev.query, keeper_interval_s=None,
                          config=MicConfig(block_ms=20, latency=0.03)),
                MicSource(chunk_ms=10, stream_factory=dev.open, device_query=dev.query, keeper_interval_s=None)):
        mic.start()
        mic.close()
    assert [(s.blocksize, s.asked_latency) for s in dev.streams] == [(882, 0.03), (441, 0.03)]  # 3 blocks
    with pytest.raises(ConfigError, match="latency"):
        MicConfig(latency="medium")
    with pytest.raises(ConfigError, match="block_ms"):
        MicConfig(block_ms=-5)
