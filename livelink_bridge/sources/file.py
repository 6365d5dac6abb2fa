"""An audio file as a stream: paced in real time (optionally looping) or as fast as possible."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from medtalk_core.audio import MAX_INPUT_S, SAMPLE_RATE, load_audio, num_frames

from livelink_bridge.sources import AudioChunk, level_db

logger = logging.getLogger(__name__)


# --- file ------------------------------------------------------------------------------------
class FileSource:
    """An audio file as a stream: paced in real time (optionally looping) or as fast as possible."""

    def __init__(self, path: str | Path, realtime: bool = True, loop: bool = False, chunk_ms: float = 10.0,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 resampler: str | None = None) -> None:
        self.path = Path(path)
        # (n,) float32 16 kHz, all in memory: as a bake, at most an hour; raises AudioLoadError
        self.audio = load_audio(self.path, resampler=resampler, max_s=MAX_INPUT_S)
        self.realtime = realtime
        self.loop = loop
        self.chunk = max(1, int(round(chunk_ms * SAMPLE_RATE / 1000.0)))
        self._clock = clock
        self._sleep = sleep
        self._t0 = 0.0
        self._pos = 0  # samples handed out (keeps growing across loops)
        self.exhausted = False
        self.overflows = 0  # a file never overflows; kept for a uniform status line
        self.bad_samples = 0  # a file's non-finite samples reach the daemon, which counts them
        self.level_db = -120.0
        self.input_latency_s = 0.0
        self.clock_name = "file"

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / SAMPLE_RATE

    @property
    def end_frame(self) -> int | None:
        return None if self.loop else num_frames(self.audio.shape[0])

    def start(self) -> None:
        self._t0 = self._clock()
        self._pos = 0
        self.exhausted = False

    def close(self) -> None:
        """Nothing to release: the file was read whole at construction."""

    def _next_chunk(self) -> AudioChunk | None:
        n_total = self.audio.shape[0]
        if not self.loop and self._pos >= n_total:
            self.exhausted = True
            return None
        start = self._pos % n_total
        n = self.chunk if self.loop else min(self.chunk, n_total - self._pos)
        idx = (np.arange(start, start + n) % n_total)
        chunk = AudioChunk(self.audio[idx], self._t0 + self._pos / SAMPLE_RATE)
        self._pos += n
        self.level_db = level_db(chunk.samples)
        if not self.loop and self._pos >= n_total:
            self.exhausted = True
        return chunk

    def read(self, timeout: float) -> list[AudioChunk]:
        if self.exhausted:
            return []
        if not self.realtime:
            chunk = self._next_chunk()
            return [chunk] if chunk is not None else []
        # A chunk is "captured" once its last sample has played: hand out those whose time came.
        ready_at = self._t0 + (self._pos + self.chunk) / SAMPLE_RATE
        wait = ready_at - self._clock()
        if wait > 0:
            self._sleep(min(wait, max(0.0, timeout)))
        out = []
        while not self.exhausted and self._t0 + (self._pos + self.chunk) / SAMPLE_RATE <= self._clock() + 1e-4:
            chunk = self._next_chunk()
            if chunk is not None:
                out.append(chunk)
        return out
