"""Record every sent frame: a CSV with a header (time, frame, the 174 board curve names) and the release's
comma-separated txt (T x 174, no header, what the MEDTalk/EmoFace tools read).

Rows are written as frames arrive and flushed every second and on close (SIGINT/SIGTERM close
the daemon cleanly), so a stopped stream loses nothing it sent.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import TextIO

import numpy as np

from medtalk_core.audio import FPS
from medtalk_core.errors import ConfigError
from medtalk_core.curve_sets import board_curve_names

from ..frames import RigFrame

logger = logging.getLogger(__name__)

_FLUSH_EVERY = FPS  # frames between flushes: at most one second in the OS buffers


class RecorderTransport:
    """Writes `<directory>/<stem>.csv` and `<stem>.txt`. No I/O until the first frame."""

    def __init__(self, directory: str | Path, stem: str | None = None) -> None:
        self.directory = Path(directory)
        self.stem = stem or datetime.datetime.now().strftime("medtalk_%Y%m%d_%H%M%S")
        self._csv: TextIO | None = None
        self._txt: TextIO | None = None
        self._t0: float | None = None
        self.frames_sent = 0

    @property
    def csv_path(self) -> Path:
        return self.directory / f"{self.stem}.csv"

    @property
    def txt_path(self) -> Path:
        return self.directory / f"{self.stem}.txt"

    def open(self) -> "RecorderTransport":
        if self._csv is None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                # Never overwrite an earlier recording: add a counter to a taken stem.
                base, n = self.stem, 1
                while self.csv_path.exists() or self.txt_path.exists():
                    n += 1
                    self.stem = f"{base}_{n}"
                self._csv = self.csv_path.open("w", encoding="utf-8", newline="")
                self._txt = self.txt_path.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise ConfigError(f"cannot record into {self.directory}: {exc}") from None
            self._csv.write(",".join(("time", "frame") + board_curve_names()) + "\n")
            logger.info("recording to %s (.csv, .txt)", self.directory / self.stem)
        return self

    def send_frame(self, frame: RigFrame) -> None:
        if self._csv is None:
            self.open()
        if self._t0 is None:
            self._t0 = frame.capture_time
        row = ",".join(f"{v:.6f}" for v in np.asarray(frame.values, dtype=np.float32).tolist())
        self._csv.write(f"{frame.capture_time - self._t0:.6f},{frame.index},{row}\n")
        self._txt.write(row + "\n")
        self.frames_sent += 1
        if self.frames_sent % _FLUSH_EVERY == 0:
            self._csv.flush()
            self._txt.flush()

    def close(self) -> None:
        for f in (self._csv, self._txt):
            if f is not None:
                f.flush()
                f.close()
        if self._csv is not None:
            logger.info("recorded %d frames to %s", self.frames_sent, self.csv_path)
        self._csv = self._txt = None

    def __enter__(self) -> "RecorderTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
