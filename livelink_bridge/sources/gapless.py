"""A live audio timeline that never stops: silence wherever the input delivers nothing.

The output clock sends frame f at the capture time of its audio plus the playout delay, so a
live input that delivers nothing (a microphone pulled out, a PulseAudio source suspended, a
stream that has not started yet) would leave the clock with nothing to send: the face froze.
`GaplessSource` wraps any live source behind the same interface; once the input has been
silent longer than `lost_after_s` it hands out silence in real time, continuing the timeline
from its last sample, so the engine keeps producing idle frames (blinks, breathing, relaxed
mouth) at 60 fps. When audio comes back, the part that overlaps silence already handed out is
dropped, so the timeline stays continuous and the frames follow the new audio at once.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from medtalk_core.audio import SAMPLE_RATE

from livelink_bridge.sources import AudioChunk, AudioSource

logger = logging.getLogger(__name__)

_MAX_FILL_S = 0.5  # longest silence handed out at once (the engine's ring buffer holds ~2 s)
_BEHIND_S = 0.05  # a chunk stamped further before the timeline's end is re-stamped to continue it


def _inner(name: str) -> property:
    """A read-only attribute of the wrapped source (`self.inner`)."""
    return property(lambda self: getattr(self.inner, name))


class GaplessSource:
    """`AudioSource` wrapper; `input_lost` is True while the silence is ours, not the input's."""

    def __init__(self, inner: AudioSource, lost_after_s: float = 0.2,
                 clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        # Below the output clock's tolerance: it holds the last pose for max_hold_frames (0.5 s)
        # after the playout delay; above a driver's normal gap between blocks.
        self.lost_after_s = lost_after_s
        self._clock = clock
        self._end = 0.0  # capture time just after the last sample handed out
        self.input_lost = False

    # The wrapped source's own facts, read through as they are now.
    exhausted = _inner("exhausted")
    overflows = _inner("overflows")
    bad_samples = _inner("bad_samples")
    input_latency_s = _inner("input_latency_s")
    clock_name = _inner("clock_name")
    end_frame = _inner("end_frame")

    @property
    def level_db(self) -> float:
        return -120.0 if self.input_lost else self.inner.level_db

    def start(self) -> None:
        self.inner.start()
        self._end = self._clock()  # the timeline starts now, whether or not audio flows yet
        self.input_lost = False

    def close(self) -> None:
        self.inner.close()

    def read(self, timeout: float) -> list[AudioChunk]:
        chunks = self.inner.read(timeout)
        now = self._clock()
        if chunks:
            return self._delivered(chunks)
        if self.inner.exhausted or (not self.input_lost and now - self._end <= self.lost_after_s):
            return []
        if not self.input_lost:
            self.input_lost = True
            logger.warning("audio input delivers nothing (%.2f s): input lost, idle frames until it returns",
                           now - self._end)
        return self._silence(now)

    def _delivered(self, chunks: list[AudioChunk]) -> list[AudioChunk]:
        if not self.input_lost:
            out = []
            for chunk in chunks:
                if self._end - chunk.capture_time > _BEHIND_S:  # see below: the input's clock lags
                    chunk = AudioChunk(chunk.samples, self._end)
                out.append(chunk)
                self._end = max(self._end, chunk.capture_time + chunk.samples.shape[0] / SAMPLE_RATE)
            return out
        self.input_lost = False
        logger.warning("audio input delivers again")
        lag = self._end - chunks[0].capture_time
        if lag > self.lost_after_s + _BEHIND_S:
            # Stamped before the silence began: new audio from an input whose clock has not yet
            # caught up with a pause (a device switched under the stream). It continues the
            # timeline rather than being taken for audio the silence already covered.
            chunks = [AudioChunk(c.samples, c.capture_time + lag) for c in chunks]
        out = self._silence(chunks[0].capture_time)  # up to the first new sample, if it is ahead
        for chunk in chunks:
            skip = int(round((self._end - chunk.capture_time) * SAMPLE_RATE))
            if skip >= chunk.samples.shape[0]:
                continue  # wholly inside the silence already handed out
            if skip > 0:
                chunk = AudioChunk(chunk.samples[skip:], chunk.capture_time + skip / SAMPLE_RATE)
            out.append(chunk)
            self._end = chunk.capture_time + chunk.samples.shape[0] / SAMPLE_RATE
        return out

    def _silence(self, until: float) -> list[AudioChunk]:
        """Silence from the end of the timeline to `until` (its newest `_MAX_FILL_S` at most)."""
        start = max(self._end, until - _MAX_FILL_S)
        n = int((until - start) * SAMPLE_RATE)
        if n <= 0:
            return []
        self._end = start + n / SAMPLE_RATE
        return [AudioChunk(np.zeros(n, dtype=np.float32), start)]
