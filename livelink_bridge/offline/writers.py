"""Animation file formats for baked rig curves: writers chosen by name, readers, fps resampling.

Writers take the curves as an iterable of (n, 174) blocks so that a 30-minute bake streams to
disk without ever holding the text in memory, and every file is written to a temporary name in
the target folder and renamed into place at the end (`os.replace`), so an interrupted bake never
leaves half a file under the real name.

Formats (whisper's `get_writer` style, `get_writer("csv")`):
Column names come from `medtalk_core.curve_sets` (unique: the repeated tongue_tip pair's second
copy ends in `_2`), the same names a recording and the OSC stream carry. A take of format version
2 (TAKE_VERSION) ends each frame with the nine head and eye rotation curves
(`medtalk_core.rotation_curves.ROTATION_NAMES`, Live Link Face's names and unit); version 1, what
`--no-head-eyes` still writes, has the face curves alone.
- `csv`:  header `time,<names>`, one row per frame, time in seconds.
- `json`: `{"fps": .., "names": [..], "frames": [[..], ..], "num_frames": T}`, and `"version": 2`
  when the rotations are there.
- `txt`:  the release's rig file: comma-separated T x 174 values, no header (for its Maya
  scripts, which know nothing else); the rotations go beside it, `<stem>.rotations.txt`, T x 9.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, NamedTuple

import numpy as np

from medtalk_core import rig
from medtalk_core.audio import FPS
from medtalk_core.curve_sets import CurveSet, board_curve_names, curve_names, to_curves
from medtalk_core.expressions import DEFAULT_FACE_BOARD
from medtalk_core.errors import MedtalkError
from medtalk_core.rotation_curves import ROTATION_NAMES, rotation_curves

FILE_MODE = 0o644
TAKE_VERSION = 2  # the take format with head and eye rotation curves
ROTATIONS_SUFFIX = ".rotations.txt"  # beside a txt take: its rotation curves
_VALUE_FMT = "%.6f"  # 1e-6 is far below anything the rig can show


@contextlib.contextmanager
def atomic_text_file(path: str | Path) -> Iterator[IO[str]]:
    """Open a temporary file beside `path` for writing; rename it to `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; outputs are ordinary shared files
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _checked(block: np.ndarray, width: int | None = rig.NUM_CONTROLS) -> np.ndarray:
    """A float32 (n, width) block (any width when `width` is None)."""
    block = np.asarray(block, dtype=np.float32)
    if block.ndim != 2 or (width is not None and block.shape[1] != width):
        raise ValueError(f"curve blocks must be (n, {width or 'k'}), got shape {block.shape}")
    return block


class Writer:
    """One file format, written in three parts so that blocks can be pushed as they come."""

    extension: str = ""

    def __init__(self, names: tuple[str, ...] | None = None) -> None:
        self.names = names if names is not None else board_curve_names()  # one per column

    def begin(self, handle: IO[str], fps: float) -> None:
        """Whatever comes before the first frame."""

    def block(self, handle: IO[str], block: np.ndarray, first: int, fps: float) -> None:
        """Frames `first .. first + n - 1` of the take, (n, 174)."""
        raise NotImplementedError

    def end(self, handle: IO[str], count: int) -> None:
        """Whatever comes after the last frame."""

    def write(self, path: str | Path, blocks: Iterable[np.ndarray] | np.ndarray, fps: float = FPS) -> int:
        """Write (n, 174) blocks (or one (T, 174) array) already at `fps` to `path`, atomically."""
        if isinstance(blocks, np.ndarray):
            blocks = [blocks]
        count = 0
        with atomic_text_file(path) as handle:
            self.begin(handle, float(fps))
            for block in blocks:
                block = _checked(block, len(self.names))
                self.block(handle, block, count, float(fps))
                count += block.shape[0]
            self.end(handle, count)
        return count


class CsvWriter(Writer):
    extension = "csv"

    def begin(self, handle: IO[str], fps: float) -> None:
        handle.write(",".join(("time",) + tuple(self.names)) + "\n")

    def block(self, handle: IO[str], block: np.ndarray, first: int, fps: float) -> None:
        times = (first + np.arange(block.shape[0])) / fps  # (n,)
        np.savetxt(handle, np.column_stack([times, block]), fmt=_VALUE_FMT, delimiter=",")


class TxtWriter(Writer):
    extension = "txt"

    def block(self, handle: IO[str], block: np.ndarray, first: int, fps: float) -> None:
        np.savetxt(handle, block, fmt=_VALUE_FMT, delimiter=",")


class JsonWriter(Writer):
    extension = "json"

    # Streamed by hand: json.dump of a 30-minute take would first build ~19 M Python floats.
    def begin(self, handle: IO[str], fps: float) -> None:
        version = f'"version": {TAKE_VERSION}, ' if self.names[-len(ROTATION_NAMES):] == ROTATION_NAMES else ""
        handle.write(f'{{{version}"fps": {json.dumps(fps)}, "names": {json.dumps(list(self.names))}, '
                     '"frames": [')

    def block(self, handle: IO[str], block: np.ndarray, first: int, fps: float) -> None:
        row_fmt = "[" + ",".join([_VALUE_FMT] * len(self.names)) + "]"
        rows = [row_fmt % tuple(row) for row in block.tolist()]
        handle.write(("," if first else "") + "\n" + ",\n".join(rows))

    def end(self, handle: IO[str], count: int) -> None:
        handle.write(f'\n], "num_frames": {count}}}\n')


WRITERS: dict[str, type[Writer]] = {w.extension: w for w in (CsvWriter, JsonWriter, TxtWriter)}
TAKE_SUFFIXES = tuple(f".{name}" for name in WRITERS)  # the files read_rig_file reads back


class OutputSet:
    """The same take written to several files at once (one per format), all or nothing.

    Blocks pushed at 60 fps are resampled once to `fps` (and turned into `CTRL_expressions_*`
    curves when `curves="expressions"`) and appended to every file; with `rotations` each frame
    also gets its nine rotation curves (format version 2; a txt take writes them to its
    `ROTATIONS_SUFFIX` file). On a clean exit every temporary file is renamed into place, on an
    error every one is removed.
    """

    def __init__(self, targets: dict[str, Path], fps: float = FPS, curves: CurveSet = "board",
                 face_board: str = DEFAULT_FACE_BOARD, rotations: bool = False) -> None:
        self.targets = {name: Path(path) for name, path in targets.items()}
        self.fps = float(fps)
        self.curves = curves
        self.face_board = face_board  # whose wiring derives the expressions curves
        self.rotations = rotations
        self.names = curve_names(curves, face_board) + (ROTATION_NAMES if rotations else ())
        self.count = 0
        self._resampler = FpsResampler(self.fps)
        self._stack = contextlib.ExitStack()
        self._open: list[tuple[Writer, IO[str], slice]] = []  # writer, file, the columns it takes

    def files(self) -> dict[Path, tuple[str, slice]]:
        """Every file this set writes -> (format, its columns of the full frame)."""
        faces = len(self.names) - (len(ROTATION_NAMES) if self.rotations else 0)
        out: dict[Path, tuple[str, slice]] = {}
        for name, path in self.targets.items():
            if name == TxtWriter.extension and self.rotations:
                out[path] = (name, slice(0, faces))
                out[rotations_path(path)] = (name, slice(faces, None))
            else:
                out[path] = (name, slice(None))
        return out

    def __enter__(self) -> "OutputSet":
        for path, (name, columns) in self.files().items():
            writer = get_writer(name, self.names[columns])
            handle = self._stack.enter_context(atomic_text_file(path))
            writer.begin(handle, self.fps)
            self._open.append((writer, handle, columns))
        return self

    def push(self, block: np.ndarray, head_eyes: np.ndarray | None = None) -> None:
        """Append (n, 174) frames at 60 fps, with their (n, 6) head and eye motion
        (`medtalk_core.head_eyes.COLUMNS`) when the set writes rotations."""
        block = _checked(block)
        if self.rotations:
            block = np.concatenate([block, rotation_curves(block, head_eyes)], axis=1)  # (n, 183)
        out = self._resampler(block)  # (m, 174 [+ 9]) at self.fps
        if out.shape[0] == 0:
            return
        out = np.concatenate([to_curves(out[:, :rig.NUM_CONTROLS], self.curves, self.face_board),
                              out[:, rig.NUM_CONTROLS:]], axis=1)  # (m, len(self.names))
        for writer, handle, columns in self._open:
            writer.block(handle, out[:, columns], self.count, self.fps)
        self.count += out.shape[0]

    def flush(self) -> None:
        """Hand what was pushed to the OS (a live recording flushes every second)."""
        for _, handle, _ in self._open:
            handle.flush()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            for writer, handle, _ in self._open:
                writer.end(handle, self.count)
        # ExitStack hands the exception (if any) to each atomic_text_file: commit or remove.
        return bool(self._stack.__exit__(exc_type, exc, tb))


def rotations_path(txt_path: Path) -> Path:
    """`<stem>.txt` -> `<stem>.rotations.txt`, where a txt take keeps its rotation curves."""
    return txt_path.with_name(txt_path.stem + ROTATIONS_SUFFIX)


def get_writer(name: str, names: tuple[str, ...] | None = None) -> Writer:
    """'csv' | 'json' | 'txt' -> a writer for columns `names` (default the 174 board controls)."""
    key = name.strip().lower().lstrip(".")
    if key not in WRITERS:
        raise MedtalkError(f"unknown output format {name!r}; choose from {', '.join(sorted(WRITERS))}")
    return WRITERS[key](names)


def parse_formats(text: str) -> tuple[str, ...]:
    """'csv,json' -> ('csv', 'json'), validated, duplicates dropped, order kept."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise MedtalkError("--format needs at least one of csv, json, txt")
    for name in names:
        get_writer(name)
    return tuple(dict.fromkeys(names))


class RigTake(NamedTuple):
    """A baked or recorded take read back."""

    frames: np.ndarray  # (T, 174) board controls
    fps: float
    rotations: np.ndarray | None  # (T, 9) ROTATION_NAMES curves; None in a version 1 take


def _has_rotations(names: list[str]) -> bool:
    """Whether `names` (a take's columns after time) are the 174 board curves followed by the
    rotation curves (version 2) rather than the board curves alone (version 1)."""
    if len(names) == rig.NUM_CONTROLS + len(ROTATION_NAMES) and tuple(names[-len(ROTATION_NAMES):]) == ROTATION_NAMES:
        return True
    if len(names) == rig.NUM_CONTROLS:
        return False
    raise ValueError(f"expected the {rig.NUM_CONTROLS} board curves, optionally followed by "
                     f"{' '.join(ROTATION_NAMES)}; found {len(names)} columns (a --curves expressions "
                     "take is read by the Unreal import script, not here)")


def read_rig_file(path: str | Path, txt_fps: float = FPS) -> RigTake:
    """Read a baked or recorded csv / json / txt take, format version 1 or 2.

    A txt file has no fps of its own: `txt_fps` says what it is (the release's files are 60);
    its rotations, if any, are read from its `ROTATIONS_SUFFIX` file.
    """
    path = Path(path)
    if not path.is_file():
        raise MedtalkError(f"animation file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            names = list(data["names"])
            table = np.asarray(data["frames"], dtype=np.float32).reshape(-1, len(names))
            fps = float(data["fps"])
        elif suffix == ".csv":
            with path.open(encoding="utf-8") as handle:
                header = handle.readline().strip().split(",")
                if header[0] != "time":
                    raise ValueError("the first column must be time")
                names = header[1:]
                table = np.loadtxt(handle, delimiter=",", dtype=np.float64, ndmin=2).reshape(-1, len(header))
            span = float(table[-1, 0] - table[0, 0]) if table.shape[0] else 0.0  # 6 decimals: the whole span
            fps = round((table.shape[0] - 1) / span, 3) if table.shape[0] > 1 and span > 0 else float(FPS)
            table = table[:, 1:].astype(np.float32)
        elif suffix == ".txt":
            table = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
            if table.shape[1] != rig.NUM_CONTROLS:
                raise ValueError(f"expected {rig.NUM_CONTROLS} columns, found {table.shape[1]}")
            beside = rotations_path(path)
            if beside.is_file():
                rotations = np.loadtxt(beside, delimiter=",", dtype=np.float32, ndmin=2)
                if rotations.shape != (table.shape[0], len(ROTATION_NAMES)):
                    raise ValueError(f"{beside.name} holds {rotations.shape} values; expected "
                                     f"{table.shape[0]} rows of {len(ROTATION_NAMES)}")
                table = np.concatenate([table, rotations], axis=1)
            names = list(rig.controller_names()) + (list(ROTATION_NAMES) if beside.is_file() else [])
            fps = float(txt_fps)
        else:
            raise MedtalkError(f"unknown animation file type {path.suffix!r} ({path}); use {', '.join(TAKE_SUFFIXES)}")
        with_rotations = _has_rotations(names)
    except (ValueError, KeyError, TypeError) as exc:  # TypeError: JSON of another shape
        raise MedtalkError(f"cannot read animation file {path}: {exc}") from None
    except RecursionError:  # JSON nested thousands deep
        raise MedtalkError(f"cannot read animation file {path}: nested too deeply") from None
    frames = table[:, :rig.NUM_CONTROLS]
    return RigTake(frames, float(fps), table[:, rig.NUM_CONTROLS:] if with_rotations else None)


class FpsResampler:
    """Streams 60 fps blocks into `fps_out` blocks by linear interpolation on time.

    Output frame j sits at time j / fps_out and is emitted once the input covers that time, so
    the result is the same however the input is cut into blocks. A clip of T input frames gives
    floor((T - 1) * fps_out / fps_in) + 1 output frames: every output time inside the clip.
    """

    def __init__(self, fps_out: float, fps_in: float = FPS) -> None:
        if fps_out <= 0:
            raise MedtalkError(f"fps must be positive, got {fps_out}")
        self.ratio = fps_in / fps_out  # input frames per output frame
        self._next = 0  # next output frame index
        self._seen = 0  # input frames received so far
        self._last: np.ndarray | None = None  # (1, k): last input frame of the previous block

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """(n, k) input frames -> (m, k) output frames ready so far (k the same on every call)."""
        block = _checked(block, None if self._last is None else self._last.shape[1])
        if block.shape[0] == 0:
            return block
        if self.ratio == 1.0:
            self._seen += block.shape[0]
            return block
        offset = self._seen - (1 if self._last is not None else 0)  # input index of buf[0]
        buf = block if self._last is None else np.concatenate([self._last, block])  # (n or n + 1, k)
        self._seen += block.shape[0]
        last_ready = int(np.floor((self._seen - 1) / self.ratio + 1e-9))
        js = np.arange(self._next, last_ready + 1)
        self._next = last_ready + 1
        self._last = block[-1:]
        pos = js * self.ratio - offset  # fractional index into buf
        lo = np.clip(np.floor(pos + 1e-9).astype(np.int64), 0, buf.shape[0] - 1)
        hi = np.minimum(lo + 1, buf.shape[0] - 1)
        w = np.clip(pos - lo, 0.0, 1.0)[:, None].astype(np.float32)
        return buf[lo] * (1.0 - w) + buf[hi] * w


def resample_fps(frames: np.ndarray, fps_out: float, fps_in: float = FPS) -> np.ndarray:
    """Whole-clip form of `FpsResampler`: (T, k) at fps_in -> (T', k) at fps_out."""
    return FpsResampler(fps_out, fps_in)(frames)
