"""Audio of any length through the model in overlapping windows, with bounded memory.

The file is never loaded whole: `AudioFileReader` reads one window at a time from disk (with a
margin that keeps the resampling filter's edge effects out of the window), the windows of one
file run through `animate_batch` a few at a time, and `Stitcher` crossfades consecutive windows
over their overlap and hands finished frames on at once. Memory is a few windows of audio plus
the caller's output, whatever the length of the file.

Window starts fall on multiples of 3 frames (= 800 samples at 16 kHz / 60 fps), so every window
holds a whole number of frames and the stitched take has exactly `audio.num_frames(N)` frames.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from . import rig
from .crossfade import crossfade, ramp
from .audio import (FPS, FRAME_QUANTUM as _FRAME_QUANTUM, QUANTUM_SAMPLES as _QUANTUM_SAMPLES, SAMPLE_RATE,
                    audio_header, num_frames, rate_ratio, read_native, resample, to_mono)
from .errors import AudioLoadError
from .protocols import BatchAnimator

logger = logging.getLogger(__name__)

SILENCE_PEAK = 1e-4  # about -80 dBFS: a file that never gets louder holds nothing to animate


@dataclasses.dataclass(frozen=True)
class WindowOptions:
    window_s: float = 16.0  # audio the model sees per window
    overlap_s: float = 1.0  # audio shared by neighbouring windows; predictions crossfade over it
    batch_size: int = 8  # windows of one file run through the model together
    read_margin_s: float = 0.1  # extra audio read on each side so resampling edges fall outside

    def frames(self) -> tuple[int, int]:
        """(window, overlap) in frames, rounded to whole multiples of 3 frames."""
        window = max(_FRAME_QUANTUM, round(self.window_s * FPS / _FRAME_QUANTUM) * _FRAME_QUANTUM)
        overlap = max(0, round(self.overlap_s * FPS / _FRAME_QUANTUM) * _FRAME_QUANTUM)
        if overlap >= window:
            raise ValueError(f"overlap_s ({self.overlap_s}) must be shorter than window_s ({self.window_s})")
        return window, overlap


@dataclasses.dataclass(frozen=True)
class Window:
    start: int  # first frame (a multiple of 3)
    stop: int  # one past the last frame

    @property
    def start_sample(self) -> int:
        return self.start // _FRAME_QUANTUM * _QUANTUM_SAMPLES


def plan_windows(total_samples: int, options: WindowOptions) -> list[Window]:
    """Windows covering frames 0 .. num_frames(total_samples); the last one ends at the file's end.

    The last window is pulled back to full length when the file allows it, so no window runs
    the model on a scrap of a second of audio.
    """
    total = num_frames(total_samples)
    window, overlap = options.frames()
    hop = window - overlap
    if total <= window:
        return [Window(0, total)]
    starts = list(range(0, total - window, hop))
    last = (total - window) // _FRAME_QUANTUM * _FRAME_QUANTUM
    if last > starts[-1]:
        starts.append(last)
    return [Window(s, min(s + window, total)) for s in starts[:-1]] + [Window(starts[-1], total)]


class AudioFileReader:
    """Random access to a file as mono 16 kHz audio, one window at a time."""

    def __init__(self, path: str | Path, margin_s: float = 0.1, resampler: str | None = None,
                 max_s: float = 0.0) -> None:
        self.path = Path(path)
        self.resampler = resampler  # audio.RESAMPLERS; both give whole-file results window by window
        self.rate, self.native_samples = audio_header(self.path, max_s)  # max_s: cap in seconds, 0 = none
        if self.native_samples <= 0:
            raise AudioLoadError(f"audio file {self.path} holds no samples")
        self._up, self._down = rate_ratio(self.rate)
        # resample_poly gives ceil(n * up / down) samples; so does this reader, window by window.
        self.num_samples = -(-self.native_samples * self._up // self._down)
        self._margin = int(margin_s * SAMPLE_RATE)
        self.peak = 0.0  # loudest sample read so far

    @property
    def duration_s(self) -> float:
        return self.num_samples / SAMPLE_RATE

    def read(self, start: int, stop: int) -> np.ndarray:
        """16 kHz samples [start, stop) -> (stop - start,) float32 (clipped at the file's end)."""
        stop = min(stop, self.num_samples)
        # Native start on a multiple of `down` so that it maps to a whole 16 kHz sample index.
        native_start = max(0, (start - self._margin) // self._up) * self._down
        native_stop = min(self.native_samples, -(-(stop + self._margin) * self._down // self._up))
        data, _ = read_native(self.path, native_start, native_stop)
        audio = resample(to_mono(data), self.rate, method=self.resampler)  # (n,) at 16 kHz
        offset = native_start // self._down * self._up
        out = audio[start - offset: stop - offset]
        if out.shape[0] != stop - start:
            raise AudioLoadError(f"audio file {self.path} is shorter than its header says")
        bad = int(np.count_nonzero(~np.isfinite(out)))
        if bad:  # before the peak, which NaN would leave at 0 ("silent")
            raise AudioLoadError(f"audio file {self.path} holds NaN or infinite samples "
                                 f"({bad} between {start / SAMPLE_RATE:.2f} s and {stop / SAMPLE_RATE:.2f} s)")
        if out.size:
            self.peak = max(self.peak, float(np.abs(out).max()))
        return out


class Stitcher:
    """Joins window predictions into one take, crossfading each overlap linearly.

    `add(window, rig)` returns the frames that are final: everything before the next window's
    start; the overlap is held back until the next window arrives.
    """

    def __init__(self, windows: Sequence[Window]) -> None:
        self._windows = list(windows)
        self._k = 0
        self._pending = np.zeros((0, rig.NUM_CONTROLS), np.float32)  # frames [next.start, prev.stop)

    def add(self, window: Window, frames: np.ndarray) -> np.ndarray:
        if window != self._windows[self._k]:
            raise ValueError(f"windows must arrive in order: expected {self._windows[self._k]}, got {window}")
        if frames.shape != (window.stop - window.start, rig.NUM_CONTROLS):
            raise ValueError(f"window {window} needs {(window.stop - window.start, rig.NUM_CONTROLS)} frames, "
                             f"got {frames.shape}")
        overlap = self._pending.shape[0]
        weight = ramp(np.arange(overlap), overlap)[:, None]  # (L, 1) towards the new window
        head = crossfade(self._pending, frames[:overlap], weight)  # (L, 174)
        self._k += 1
        if self._k < len(self._windows):
            keep_from = self._windows[self._k].start - window.start
            self._pending = frames[keep_from:]
            body = frames[overlap:keep_from]
        else:
            self._pending = frames[:0]
            body = frames[overlap:]
        return np.concatenate([head, body]).astype(np.float32, copy=False)


def animate_file(animator: BatchAnimator, reader: AudioFileReader, guidance: Any,
                 options: WindowOptions = WindowOptions(), transcript: str | None = None,
                 path: str | None = None) -> Iterator[np.ndarray]:
    """Yield the take of one file as (n, 174) blocks, in order, windows batched.

    `transcript` goes to every window: None lets the animator transcribe each window itself
    (when it has a transcriber), "" uses the audio-only intensity head. `path`: the guidance path
    ("label" | "clip", see Animator.animate) of a guidance given as a feature.

    Raises AudioLoadError after the last block when the whole file was silent.
    """
    if num_frames(reader.num_samples) < 1:
        raise AudioLoadError(f"audio file {reader.path} is shorter than one frame (1/{FPS} s)")
    windows = plan_windows(reader.num_samples, options)
    stitcher = Stitcher(windows)
    for first in range(0, len(windows), max(1, options.batch_size)):
        group = windows[first: first + max(1, options.batch_size)]
        audios = [reader.read(w.start_sample, w.start_sample + _samples(w)) for w in group]
        rigs = animator.animate_batch(audios, [guidance] * len(group), [transcript] * len(group),
                                      paths=[path] * len(group))  # each (T_w, 174)
        for window, frames in zip(group, rigs):
            yield stitcher.add(window, np.asarray(frames, dtype=np.float32))
    if reader.peak < SILENCE_PEAK:
        raise AudioLoadError(f"audio file {reader.path} is silent (peak {reader.peak:.1e})")


def _samples(window: Window) -> int:
    """16 kHz samples holding exactly the window's frames (the last one may end earlier)."""
    return (window.stop - window.start + _FRAME_QUANTUM - 1) // _FRAME_QUANTUM * _QUANTUM_SAMPLES
