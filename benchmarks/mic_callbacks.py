"""How a host API delivers microphone blocks: callback intervals, bursts and the capture clock.

Starts a private PulseAudio (tests/pulse_server.py) with a null sink as a virtual microphone,
plays speech into it in a loop, and opens the PortAudio stream (ALSA's pulse plugin here) with
each block size and latency in turn, recording every callback: its time, frames and the driver's
ADC and current times. Per setting it prints what the stream reports, the callback intervals
(p50 / p95, and how many come within 1 ms of the previous one: a burst), whether the capture
clock (`livelink_bridge/sources/capture_clock.py`) could use the ADC time, how long after the captured
audio each block reached the callback by that clock (p50 / p95 / max: what the playout delay has
to cover beyond the file source's), and the CPU the recording process used (PortAudio, the ALSA
plugin's PulseAudio client and the callback; the daemon's model shares those cores). `HOST_API_STREAMS` in sources/mic.py records the choice.

    python3 benchmarks/mic_callbacks.py [--seconds 30] [--rate 44100] [--audio WAV]
        [--settings 5:high,5:low,5:0.015,10:low,20:low] [--table FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pulse_server import VMIC_DEVICE, PulseServer  # noqa: E402  (a test helper: private PulseAudio)

from md_table import append_rows  # noqa: E402

from livelink_bridge.sources.capture_clock import Callback, CaptureClock  # noqa: E402
from livelink_bridge.sources import example_path  # noqa: E402


def parse_settings(text: str) -> list[tuple[float, str | float]]:
    """'5:high,20:0.04' -> [(5.0, 'high'), (20.0, 0.04)]"""
    out = []
    for item in text.split(","):
        block, _, latency = item.partition(":")
        out.append((float(block), latency if latency in ("low", "high") else float(latency)))
    return out


def record(rate: int, block_ms: float, latency: str | float, seconds: float) -> tuple[list[Callback], float, float]:
    """Every callback of `seconds` of an input stream on the virtual microphone -> (callbacks,
    the latency the stream reports, CPU the process used meanwhile in % of one core)."""
    import sounddevice as sd

    got: list[Callback] = []

    def callback(indata, frames, time_info, status) -> None:
        got.append(Callback(time.time(), frames, time_info.inputBufferAdcTime, time_info.currentTime,
                            bool(status.input_overflow)))

    with sd.InputStream(device=VMIC_DEVICE, samplerate=rate, channels=2, dtype="float32", callback=callback,
                        blocksize=int(round(rate * block_ms / 1000)), latency=latency) as stream:
        cpu0, wall0 = time.process_time(), time.time()
        time.sleep(seconds)
        cpu = 100 * (time.process_time() - cpu0) / (time.time() - wall0)
        reported = stream.latency
    return got, float(reported), cpu


def measure(calls: list[Callback], rate: int) -> dict:
    calls = calls[len(calls) // 20:]  # the stream's start-up is not its steady state
    clock = CaptureClock(rate)
    batch, starts = [], []
    for call in calls:  # read in 10 ms batches, as the daemon's loop does
        if batch and call.wall - batch[0].wall > 0.01:
            starts += clock.place(batch)
            batch = []
        batch.append(call)
    starts += clock.place(batch)
    wall = np.array([c.wall for c in calls])
    frames = np.array([c.frames for c in calls])
    interval = np.diff(wall) * 1000
    arrival = (wall - np.array(starts) - frames / rate) * 1000  # callback after the block's last sample
    return {"interval": np.percentile(interval, [50, 95]), "bursts": 100 * float(np.mean(interval < 1.0)),
            "clock": clock.name, "arrival": np.percentile(arrival, [50, 95, 100]), "reanchors": clock.reanchors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds recorded per setting")
    parser.add_argument("--rate", type=int, default=44100, help="the virtual microphone's rate")
    parser.add_argument("--audio", help="speech played into it, looped (default: the packaged example)")
    parser.add_argument("--settings", default="5:high,5:low,5:0.015,10:high,10:low,20:low",
                        help="block_ms:latency pairs (latency: low, high or seconds)")
    parser.add_argument("--table", help="append the rows to this markdown file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    server = PulseServer(Path(tempfile.mkdtemp(prefix="medtalk_pulse_"))).start()
    os.environ.update(server.env)  # before PortAudio starts: it reads the ALSA config once
    module = server.add_microphone("vmic", args.rate)
    done = threading.Event()

    def speak() -> None:
        while not done.is_set():
            server.play("vmic", Path(args.audio or example_path())).wait()

    speaker = threading.Thread(target=speak, daemon=True)
    speaker.start()
    rows = []
    try:
        for block_ms, latency in parse_settings(args.settings):
            calls, reported, cpu = record(args.rate, block_ms, latency, args.seconds)
            m = measure(calls, args.rate)
            rows.append((f"{block_ms:g}", str(latency), f"{1000 * reported:.1f}",
                         f"{m['interval'][0]:.1f} / {m['interval'][1]:.1f}", f"{m['bursts']:.0f}%", m["clock"],
                         " / ".join(f"{v:.1f}" for v in m["arrival"]), str(m["reanchors"]), f"{cpu:.0f}%"))
            print(" | ".join(rows[-1]), flush=True)
    finally:
        done.set()
        server.unplug(module)
        server.close()
    header = ("block ms", "latency asked", "reported ms", "interval p50 / p95 ms", "within 1 ms", "capture clock",
              "arrival p50 / p95 / max ms", "re-anchors", "CPU (one core)")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))
    if args.table:
        append_rows(args.table, f"Microphone callbacks ({args.rate} Hz, {args.seconds:g} s each)", header, rows)


if __name__ == "__main__":
    main()
