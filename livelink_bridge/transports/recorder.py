"""Record the sent stream as a take: `<stem>.csv` and `<stem>.txt`, in the very format a bake
writes, through the same writer (`writers.OutputSet`), so that everything that reads a baked
take (`medtalk preview`, `writers.read_rig_file`, the Unreal import) reads a recording.

- csv: header `time,<174 board curve names>,<9 rotation curve names>` (take format version 2:
  the head and eyes as every route carries them), time = frame / 60 from the first frame sent;
  txt: the release's comma-separated T x 174 values (what the MEDTalk/EmoFace tools read), its
  rotations beside it in `<stem>.rotations.txt`.
- Frames are written a second at a time; each file is a hidden `.part` file until `close()`
  (SIGINT/SIGTERM close the daemon cleanly) renames it into place, so a take under its real
  name is always complete.
- Output indices skipped after a stall (`FrameClock`) are filled with the last pose, as a
  receiver would have shown it, so the take's time axis stays the stream's.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livelink_bridge.frames import HeadEyesHold, RigFrame
from livelink_bridge.offline.writers import OutputSet
from medtalk_core.head_eyes import COLUMNS as HEAD_EYES_COLUMNS
from medtalk_core.audio import FPS
from medtalk_core.errors import ConfigError

logger = logging.getLogger(__name__)

_FLUSH_EVERY = FPS  # frames buffered before they are written: at most one second


@dataclass(frozen=True)
class RecorderConfig:
    """Record every sent frame to files (CSV with names and times, and the release's txt)."""

    enabled: bool = False
    directory: str = "recordings"


class RecorderTransport:
    """Writes `<directory>/<stem>.csv` and `<stem>.txt`; files are created by `open()`."""

    def __init__(self, directory: str | Path, stem: str | None = None) -> None:
        self.directory = Path(directory)
        self.stem = stem or datetime.datetime.now().strftime("medtalk_%Y%m%d_%H%M%S")
        self._out: OutputSet | None = None
        self._rows: list[np.ndarray] = []  # (174 + 6,) values and head_eyes not yet written
        self._held = HeadEyesHold()  # stand-in frames keep the head where it was
        self._last: RigFrame | None = None
        self._last_row: np.ndarray | None = None  # the last frame's row, repeated over skipped indices
        self.frames_sent = 0  # frames received from the stream
        self.frames_held = 0  # rows that repeat the last pose over skipped indices

    @property
    def csv_path(self) -> Path:
        return self.directory / f"{self.stem}.csv"

    @property
    def txt_path(self) -> Path:
        return self.directory / f"{self.stem}.txt"

    def open(self) -> "RecorderTransport":
        if self._out is None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                # Never overwrite an earlier recording: add a counter to a taken stem.
                base, n = self.stem, 1
                while self.csv_path.exists() or self.txt_path.exists():
                    n += 1
                    self.stem = f"{base}_{n}"
                out = OutputSet({"csv": self.csv_path, "txt": self.txt_path}, FPS, "board", rotations=True)
                self._out = out.__enter__()
            except OSError as exc:
                raise ConfigError(f"cannot record into {self.directory}: {exc}") from None
            logger.info("recording to %s (.csv, .txt)", self.directory / self.stem)
        return self

    def send_frame(self, frame: RigFrame) -> None:
        if self._out is None:
            self.open()
        head_eyes = self._held.of(frame)
        row = np.concatenate([np.asarray(frame.values, dtype=np.float32),
                              np.zeros(len(HEAD_EYES_COLUMNS), np.float32) if head_eyes is None else head_eyes])
        if self._last is not None and frame.index > self._last.index + 1:
            held = frame.index - self._last.index - 1
            self._rows.extend([self._last_row] * held)
            self.frames_held += held
        self._rows.append(row)
        self._last, self._last_row = frame, row
        self.frames_sent += 1
        if len(self._rows) >= _FLUSH_EVERY:
            self._write()

    def _write(self) -> None:
        if self._rows:
            rows = np.stack(self._rows)  # (n, 180)
            self._out.push(rows[:, :-len(HEAD_EYES_COLUMNS)], rows[:, -len(HEAD_EYES_COLUMNS):])
            self._out.flush()
            self._rows = []

    def close(self) -> None:
        out = self._out
        if out is None:
            return
        try:
            self._write()
        except BaseException as exc:
            self._out = None
            out.__exit__(type(exc), exc, exc.__traceback__)  # the .part files are removed
            raise
        self._out = None
        out.__exit__(None, None, None)  # renamed into place
        logger.info("recorded %d frames to %s", self.frames_sent + self.frames_held, self.csv_path)

    def __enter__(self) -> "RecorderTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
