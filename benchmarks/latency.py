"""Live latency of `medtalk run`: stream a file in real time (looping) through the model for a
while and report capture-to-send latency (p50/p95/p99), achieved fps, late frames, model time
per hop and CPU use, and the end-to-end capture-to-receive latency at a UDP receiver.
Target on a 2-core machine (docs/LIVE.md): default p95 <= 70 ms, low-latency profile p95 <= 50
ms, both with 0 late frames.

    python3 benchmarks/latency.py [--duration 120] [--checkpoint DIR | --tiny] [--audio WAV] [--config YAML]

Frames go over real UDP (OSC) to 127.0.0.1; latency is measured when each frame is handed to the
last transport, and again when a plain UDP socket on its own thread receives the datagram (its
arrival time, taken before any parsing, against the capture time the frame carries).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from pythonosc.osc_message import OscMessage  # noqa: E402

from livelink_bridge.daemon import Daemon  # noqa: E402
from livelink_bridge.daemon_config import load_daemon_config  # noqa: E402
from livelink_bridge.frames import RigFrame  # noqa: E402
from livelink_bridge.sources import example_path  # noqa: E402


class LatencyProbe:
    """A transport that records capture-to-send latency of every frame."""

    def __init__(self) -> None:
        self.latency: list[float] = []

    def open(self) -> "LatencyProbe":
        return self

    def send_frame(self, frame: RigFrame) -> None:
        self.latency.append(time.time() - frame.capture_time)

    def close(self) -> None:
        """Nothing to release."""


class ArrivalReceiver:
    """A UDP socket on 127.0.0.1 that timestamps each datagram on arrival and only then reads the
    frame's capture time out of it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._arrivals: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="arrival-receiver", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self._arrivals.append((time.time(), data))

    def latency(self) -> list[float]:
        """Arrival - capture time of every frame datagram received (the names lists are skipped)."""
        out = []
        for t, data in self._arrivals:
            msg = OscMessage(data)
            if msg.address.endswith("/frame"):
                out.append(t - msg.params[1])
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class TimedAnimator:
    """Wraps an Animator and times each animate() call (one per hop)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.times: list[float] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def animate(self, *args, **kwargs):
        t = time.perf_counter()
        out = self.inner.animate(*args, **kwargs)
        self.times.append(time.perf_counter() - t)
        return out


def tiny_checkpoint(folder: Path) -> Path:
    import torch

    from medtalk_core.backbones import BackboneConfig
    from medtalk_core.checkpoint import save
    from medtalk_core.model import MEDTalk, load_model_config

    torch.manual_seed(0)
    return save(folder, MEDTalk(load_model_config("tiny")), BackboneConfig(), stage="init", step=0)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the transcriber's process is
    counted once it has ended, i.e. after the daemon closed)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of streaming")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped default model)")
    parser.add_argument("--tiny", action="store_true", help="use a random tiny-profile checkpoint")
    parser.add_argument("--audio", help="audio file (default: the packaged English example), looped")
    parser.add_argument("--config", help="daemon YAML (default: the built-in defaults)")
    args = parser.parse_args()

    rep = dataclasses.replace
    cfg = load_daemon_config(args.config)
    checkpoint = args.checkpoint
    if args.tiny:
        checkpoint = str(tiny_checkpoint(Path(tempfile.mkdtemp(prefix="medtalk_tiny_"))))
    rx = ArrivalReceiver()
    cfg = rep(cfg, source=rep(cfg.source, kind="file", path=str(args.audio or example_path()), realtime=True, loop=True),
              transports=rep(cfg.transports, osc=rep(cfg.transports.osc, enabled=True, port=rx.port)),
              control=rep(cfg.control, enabled=False, hotkeys=False),
              model=rep(cfg.model, checkpoint=checkpoint))
    from livelink_bridge.daemon import build_transports, load_animator

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(cfg.model.threads)  # before loading, as the daemon does: no idle pool threads
    threadpool_limits(limits=cfg.model.threads)
    probe = LatencyProbe()
    animator = TimedAnimator(load_animator(cfg))
    daemon = Daemon(cfg, animator=animator, transports=build_transports(cfg) + [probe])
    with daemon:
        animator.times.clear()
        usage0, wall0, load0 = _cpu(), time.time(), os.getloadavg()[0]
        timer = threading.Timer(args.duration, daemon.stop)
        timer.start()
        daemon.run()
        wall = time.time() - wall0
        load1 = os.getloadavg()[0]
        late, held, dropped = daemon.clock.late_frames, daemon.clock.held_frames, daemon.clock.dropped_frames
        timer.cancel()
    usage1 = _cpu()  # after close(): the transcriber's child process has been joined
    time.sleep(0.2)
    received = rx.latency()
    rx.close()
    cpu = usage1 - usage0
    e = cfg.engine
    print(f"model: {checkpoint or 'default'}; window {e.window_s} s, hop {e.hop_ms} ms, lookahead {e.lookahead_ms} ms, "
          f"playout delay {cfg.clock.playout_delay_ms} ms, chunk {cfg.source.chunk_ms} ms, "
          f"torch threads {cfg.model.threads}, {os.cpu_count()} CPUs")
    print(f"{'measure':<34}{'value':>12}")
    rows = [
        ("streamed (s)", f"{wall:.1f}"),
        ("frames sent", f"{len(probe.latency)}"),
        ("achieved fps", f"{len(probe.latency) / wall:.2f}"),
        ("late frames (not final at deadline)", f"{late}"),
        ("  of which held (no stand-in)", f"{held}"),
        ("final frames dropped (came late)", f"{dropped}"),
        ("capture->send p50 (ms)", f"{pct(probe.latency, 50):.1f}"),
        ("capture->send p95 (ms)", f"{pct(probe.latency, 95):.1f}"),
        ("capture->send p99 (ms)", f"{pct(probe.latency, 99):.1f}"),
        ("frames received (UDP 127.0.0.1)", f"{len(received)}"),
        ("capture->receive p50 (ms)", f"{pct(received, 50):.1f}" if received else "-"),
        ("capture->receive p95 (ms)", f"{pct(received, 95):.1f}" if received else "-"),
        ("capture->receive p99 (ms)", f"{pct(received, 99):.1f}" if received else "-"),
        ("model runs", f"{len(animator.times)}"),
        ("model ms per run p50 / p95", f"{pct(animator.times, 50):.1f} / {pct(animator.times, 95):.1f}"),
        ("CPU use (% of one core)", f"{100 * cpu / wall:.0f}"),
        ("machine load avg start / end", f"{load0:.1f} / {load1:.1f}"),
        ("nice", f"{os.nice(0)}"),
    ]
    for name, value in rows:
        print(f"{name:<34}{value:>12}")


if __name__ == "__main__":
    main()
