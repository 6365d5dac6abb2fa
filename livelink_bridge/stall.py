"""Bridging a stall of the live loop: the audio that piled up, or the time that jumped.

When the daemon's loop stops for a while (a `kill -STOP`, a swapped-out process, a slow disk),
one of two things greets it afterwards: a backlog of audio longer than the engine can take in
one go (a file source hands out every chunk whose time has come; a microphone queue holds
seconds), or, when the capture thread stopped too, a jump in the chunks' capture times. Either
way the stream must go on, at the audio's own timeline:
- a jump of more than `GAP_S` becomes a gap: the engine's timeline moves on to the audio after
  it (blocks from before the jump in the same batch are old, and dropped with it);
- of a backlog, the engine keeps the newest audio it can take (`StreamingEngine.room`) and the
  oldest is dropped as a gap;
the engine then skips the frames of the gap (`StreamingEngine.skip`) and the output clock skips
their indices (`FrameClock`), so frame indices keep following capture time and no stale frame
is sent late. Every gap is counted and logged once.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from medtalk_core.audio import SAMPLE_RATE

from livelink_bridge.engine import StreamingEngine
from livelink_bridge.sources import AudioChunk
from livelink_bridge.transcribe_worker import SpeechSegmenter

logger = logging.getLogger(__name__)

GAP_S = 0.25  # a capture-time jump longer than this is a stall, not driver jitter (~ms)


def drop_oldest(chunks: list[AudioChunk], keep: int) -> tuple[list[AudioChunk], int]:
    """The newest `keep` samples of `chunks` -> (those chunks, samples dropped before them)."""
    total = sum(c.samples.shape[0] for c in chunks)
    excess = total - max(0, keep)
    if excess <= 0:
        return chunks, 0
    out: list[AudioChunk] = []
    cut = excess
    for chunk in chunks:
        n = chunk.samples.shape[0]
        if cut >= n:
            cut -= n
            continue
        if cut:  # the first kept chunk loses its head; its capture time moves with it
            chunk = replace(chunk, samples=chunk.samples[cut:], capture_time=chunk.capture_time + cut / SAMPLE_RATE)
            cut = 0
        out.append(chunk)
    return out, excess


class StallGuard:
    """Sits between the source and a live engine: `admit(chunks)` returns what to insert."""

    def __init__(self, engine: StreamingEngine, segmenter: SpeechSegmenter | None = None,
                 gap_s: float = GAP_S) -> None:
        self.engine = engine
        self.segmenter = segmenter  # speech positions move on with the engine's
        self.gap_s = gap_s
        self.gaps = 0  # stalls bridged
        self.lost_s = 0.0  # audio seconds given up in all
        self.longest_s = 0.0

    def admit(self, chunks: list[AudioChunk]) -> list[AudioChunk]:
        if not chunks:
            return chunks
        lost = 0
        expected = self.engine.end_time
        resume = self._last_jump(chunks, expected)
        if resume is not None:  # what came before the jump is old audio: dropped with the gap
            lost = int(round((chunks[resume].capture_time - expected) * SAMPLE_RATE))
            chunks = chunks[resume:]
            self._skip(lost)
        chunks, dropped = drop_oldest(chunks, self.engine.room())
        self._skip(dropped)
        lost += dropped
        if lost:
            seconds = lost / SAMPLE_RATE
            self.gaps += 1
            self.lost_s += seconds
            self.longest_s = max(self.longest_s, seconds)
            logger.warning("stream stalled: %.2f s of audio skipped (gap %d), streaming on", seconds, self.gaps)
        return chunks

    def _last_jump(self, chunks: list[AudioChunk], expected: float | None) -> int | None:
        """Index of the last chunk that starts more than `gap_s` after the one before it (the
        batch may hold blocks from before the stall and after it), or None."""
        if expected is None:
            return None
        found, end = None, expected
        for i, chunk in enumerate(chunks):
            if chunk.capture_time - end > self.gap_s:
                found = i
            end = chunk.capture_time + chunk.samples.shape[0] / SAMPLE_RATE
        return found

    def _skip(self, n: int) -> None:
        if n > 0:
            self.engine.skip(n)
            if self.segmenter is not None:
                self.segmenter.skip(n)
