"""Stream statistics and the status line: a live rich line on a terminal, plain log lines
otherwise (input level, guidance, fps, capture-to-send latency, late frames, packets sent)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, TextIO

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusConfig:
    """The status line of `medtalk run`."""

    interval_s: float = 1.0  # how often the status line (or plain log line) is refreshed


class StreamStats:
    """Counters of one stream, updated by the daemon's threads and read by anyone."""

    def __init__(self, history: int = 600) -> None:
        self._lock = threading.Lock()  # the sender appends while the status line and control read
        self.frames_sent = 0
        self.packets_sent = 0
        self.late_frames = 0
        self.dropped_frames = 0
        self.overflows = 0
        self.input_level_db = -120.0
        self.input_lost = False  # a live input delivers nothing (silence filled in), unlike a quiet one
        self.model_runs = 0
        self.bad_samples = 0  # NaN or infinite input samples, zeroed
        self.gaps = 0  # stalls bridged by skipping audio (livelink_bridge.stall)
        self.gap_s = 0.0  # audio seconds skipped in all
        self.longest_gap_s = 0.0
        self.skipped_frames = 0  # output indices never sent (stale after a stall, or skipped audio)
        self.continued_frames = 0  # late frames with no model prediction: continued from the last pose
        self.playout_delay_ms: float | None = None  # live: the (adaptive) capture-to-send target now
        self.capture_clock = ""  # what capture times follow (the source's clock_name)
        self.source = ""
        self._latency: deque[float] = deque(maxlen=history)  # seconds, capture -> send
        self._sent_at: deque[float] = deque(maxlen=240)  # wall times of recent sends

    def record_send(self, capture_time: float, now: float, packets: int) -> None:
        with self._lock:
            self.frames_sent += 1
            self.packets_sent += packets
            self._latency.append(now - capture_time)
            self._sent_at.append(now)

    def fps(self, now: float, span_s: float = 1.0) -> float:
        with self._lock:
            recent = [t for t in self._sent_at if t > now - span_s]
        return len(recent) / span_s

    def latency_ms(self, percentile: float = 50.0) -> float | None:
        with self._lock:
            latency = np.asarray(self._latency)
        if latency.size == 0:
            return None
        return 1000.0 * float(np.percentile(latency, percentile))

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        p50, p95 = self.latency_ms(50), self.latency_ms(95)
        return {"source": self.source, "input_level_db": round(self.input_level_db, 1),
                "input_lost": self.input_lost,
                "fps": round(self.fps(now), 1), "frames_sent": self.frames_sent,
                "packets_sent": self.packets_sent, "late_frames": self.late_frames,
                "dropped_frames": self.dropped_frames, "overflows": self.overflows,
                "model_runs": self.model_runs, "bad_samples": self.bad_samples, "gaps": self.gaps,
                "gap_s": round(self.gap_s, 3), "longest_gap_s": round(self.longest_gap_s, 3),
                "skipped_frames": self.skipped_frames, "continued_frames": self.continued_frames,
                "playout_delay_ms": None if self.playout_delay_ms is None else round(self.playout_delay_ms, 1),
                "capture_clock": self.capture_clock,
                "latency_ms_p50": None if p50 is None else round(p50, 1),
                "latency_ms_p95": None if p95 is None else round(p95, 1)}


def _bar(level_db: float, width: int = 10) -> str:
    filled = int(round(np.clip((level_db + 60.0) / 60.0, 0.0, 1.0) * width))
    return "#" * filled + "." * (width - filled)


def format_status(stats: StreamStats, guidance: dict[str, Any], now: float) -> str:
    d = stats.as_dict(now)
    lat = "-" if d["latency_ms_p50"] is None else f"{d['latency_ms_p50']:.0f}/{d['latency_ms_p95']:.0f} ms"
    mute = " MUTED" if guidance.get("muted") else ""
    delay = "" if d["playout_delay_ms"] is None else f" (delay {d['playout_delay_ms']:.0f} ms)"
    clock = f" [{stats.capture_clock} clock]" if stats.capture_clock else ""
    # A lost input (nothing delivered) reads differently from a quiet one (silence delivered).
    level = "input lost" if stats.input_lost else f"in {_bar(stats.input_level_db)} {stats.input_level_db:5.0f} dB"
    return (f"{level:<22} | "
            f"{guidance.get('guidance', '?')} x{guidance.get('intensity', 1.0):.1f}{mute} | "
            f"{d['fps']:4.1f} fps | latency p50/p95 {lat}{clock}{delay} | late {d['late_frames']} | "
            f"sent {d['packets_sent']} | overflows {d['overflows']} | gaps {d['gaps']} | "
            f"bad samples {d['bad_samples']}")


class StatusLine:
    """Call `update(now)` often; it redraws (or logs) every `interval_s`."""

    def __init__(self, stats: StreamStats, guidance: Callable[[], dict[str, Any]], interval_s: float = 1.0,
                 stream: TextIO | None = None) -> None:
        self.stats = stats
        self.guidance = guidance
        self.interval_s = interval_s
        self.stream = stream or sys.stdout
        self._live: Any = None
        self._next = 0.0

    def start(self) -> "StatusLine":
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            self._live = Live(Text("starting..."), console=Console(file=self.stream),
                              auto_refresh=False, transient=False)
            self._live.start()
        return self

    def update(self, now: float) -> None:
        if now < self._next:
            return
        self._next = now + self.interval_s
        line = format_status(self.stats, self.guidance(), now)
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(line), refresh=True)
        else:
            logger.info("%s", line)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
