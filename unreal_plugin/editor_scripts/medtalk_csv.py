"""Reading a `medtalk bake` CSV for the Unreal editor import script, in plain Python.

Unreal's embedded Python has no numpy, so this module uses the standard library only, and it
does not import `unreal`: our tests run it outside the editor. The CSV is `time` plus one
column per curve: the 174 face-board controls (`--curves board`) or the MetaHuman
`CTRL_expressions_*` curves (`--curves expressions`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

EXPRESSIONS_PREFIX = "CTRL_expressions_"
MAX_KEY_GAP = 240  # frames between kept keys at most: bounds the work per key on long takes


class BakedCsvError(ValueError):
    """The file is not a `medtalk bake` CSV."""


@dataclass
class BakedCurves:
    fps: float  # frames per second, from the time column
    times: list[float]  # seconds, one per frame
    curves: dict[str, list[float]]  # curve name -> one value per frame, in file column order
    duplicates: list[str] = field(default_factory=list)  # repeated (or `_2`-numbered) columns, first kept

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def kind(self) -> str:
        """'expressions' when every curve is a CTRL_expressions_* curve, else 'board'."""
        return "expressions" if all(n.startswith(EXPRESSIONS_PREFIX) for n in self.curves) else "board"


def _copy_of(name: str, earlier: dict[str, int]) -> str | None:
    """The column a numbered copy repeats: bake names the k-th copy of a repeated curve name
    `<name>_k` (k >= 2; medtalk_core/curve_sets.py), e.g. CTRL_C_tongue_tip-translateX_2."""
    stem, sep, k = name.rpartition("_")
    return stem if sep and k.isdigit() and int(k) >= 2 and stem in earlier else None


def read_baked_csv(path: str | Path) -> BakedCurves:
    path = Path(path)
    if not path.is_file():
        raise BakedCsvError(f"CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if not header or header[0].strip() != "time" or len(header) < 2:
            raise BakedCsvError(f"{path}: first column must be 'time' followed by curve names")
        names = [h.strip() for h in header[1:]]
        keep: dict[str, int] = {}
        duplicates = []
        for i, name in enumerate(names):
            original = name if name in keep else _copy_of(name, keep)
            if original is not None:
                duplicates.append(original)  # the 174-column layout repeats CTRL_C_tongue_tip
            else:
                keep[name] = i
        times: list[float] = []
        columns: list[list[float]] = [[] for _ in names]
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise BakedCsvError(f"{path} line {line}: {len(row)} values, header has {len(header)}")
            try:
                values = [float(v) for v in row]
            except ValueError as exc:
                raise BakedCsvError(f"{path} line {line}: {exc}") from None
            times.append(values[0])
            for column, value in zip(columns, values[1:]):
                column.append(value)
    if not times:
        raise BakedCsvError(f"{path} holds no frames")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise BakedCsvError(f"{path}: times must increase")
    span = times[-1] - times[0]
    fps = round((len(times) - 1) / span, 3) if len(times) > 1 and span > 0 else 60.0
    return BakedCurves(fps, times, {name: columns[i] for name, i in keep.items()}, duplicates)


def reduce_keys(times: list[float], values: list[float], tolerance: float = 1e-4) -> list[tuple[float, float]]:
    """Drop keys that linear interpolation between their kept neighbours reproduces within
    `tolerance`; first and last keys always stay, and no gap exceeds MAX_KEY_GAP frames."""
    if len(times) != len(values):
        raise ValueError("times and values differ in length")
    if len(times) <= 2:
        return list(zip(times, values))
    kept = [0]
    for i in range(1, len(times) - 1):
        a = kept[-1]
        # Would a straight line from the last kept key to the next key still pass every frame in between?
        t0, v0, t1, v1 = times[a], values[a], times[i + 1], values[i + 1]
        slope = (v1 - v0) / (t1 - t0)
        if i - a >= MAX_KEY_GAP or any(abs(v0 + slope * (times[j] - t0) - values[j]) > tolerance
                                      for j in range(a + 1, i + 1)):
            kept.append(i)
    kept.append(len(times) - 1)
    return [(times[i], values[i]) for i in kept]


def board_controls(names: list[str]) -> dict[str, dict[str, str]]:
    """Board curve names grouped by Control Rig control: 'CTRL_C_jaw' -> {'X': name, 'Y': name}."""
    out: dict[str, dict[str, str]] = {}
    for name in names:
        control, _, channel = name.partition("-translate")
        if channel not in ("X", "Y"):
            raise BakedCsvError(f"{name!r} is not a face-board control channel (CTRL_...-translateX/Y)")
        out.setdefault(control, {})[channel] = name
    return out
