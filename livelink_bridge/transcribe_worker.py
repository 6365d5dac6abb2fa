"""Background transcription for the FIM text branch of a live stream.

An energy-based segmenter cuts the incoming audio into speech segments; each finished segment
goes to a worker thread that runs the animator's transcriber; the text comes back, tagged with
the segment's frames, for the engine (`StreamingEngine.add_transcript`). Until a segment's text
arrives, the engine's windows use the audio-only intensity head.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from medtalk_core.audio import SAMPLE_RATE, num_frames

logger = logging.getLogger(__name__)

_BLOCK = SAMPLE_RATE // 100  # 10 ms energy blocks


@dataclass(frozen=True)
class SpeechSegment:
    start_sample: int  # stream position of the first sample
    audio: np.ndarray  # (n,) float32 16 kHz


@dataclass(frozen=True)
class SegmentText:
    start_frame: int
    end_frame: int
    text: str


class SpeechSegmenter:
    """Speech starts when a 10 ms block is louder than `threshold_rms` and ends after
    `end_silence_s` of quieter blocks; segments shorter than `min_speech_s` are noise, longer
    than `max_segment_s` are cut (a transcriber needs finished phrases, not a whole monologue)."""

    def __init__(self, threshold_rms: float = 0.02, min_speech_s: float = 0.3, end_silence_s: float = 0.35,
                 max_segment_s: float = 8.0, preroll_s: float = 0.1) -> None:
        self.threshold = threshold_rms
        self.min_blocks = int(min_speech_s * 100)
        self.end_blocks = int(end_silence_s * 100)
        self.max_blocks = int(max_segment_s * 100)
        self.preroll_blocks = int(preroll_s * 100)
        self._pending = np.zeros(0, np.float32)  # samples not yet forming a whole block
        self._pos = 0  # stream position of _pending[0]
        self._recent: list[np.ndarray] = []  # pre-roll blocks before speech starts
        self._blocks: list[np.ndarray] = []  # current segment
        self._start = 0
        self._voiced = 0
        self._silent_run = 0

    def feed(self, chunk: np.ndarray) -> list[SpeechSegment]:
        """Add samples; return the segments that ended inside them."""
        data = np.concatenate([self._pending, np.asarray(chunk, np.float32)])
        done: list[SpeechSegment] = []
        n_blocks = data.shape[0] // _BLOCK
        for b in range(n_blocks):
            block = data[b * _BLOCK:(b + 1) * _BLOCK]
            position = self._pos + b * _BLOCK
            loud = float(np.sqrt(np.mean(block * block))) > self.threshold
            segment = self._step(block, position, loud)
            if segment is not None:
                done.append(segment)
        self._pending = data[n_blocks * _BLOCK:]
        self._pos += n_blocks * _BLOCK
        return done

    def _step(self, block: np.ndarray, position: int, loud: bool) -> SpeechSegment | None:
        if not self._blocks:
            if not loud:
                self._recent = (self._recent + [block])[-self.preroll_blocks:] if self.preroll_blocks else []
                return None
            self._start = position - len(self._recent) * _BLOCK
            self._blocks = self._recent + [block]
            self._recent, self._voiced, self._silent_run = [], 1, 0
            return None
        self._blocks.append(block)
        self._voiced += int(loud)
        self._silent_run = 0 if loud else self._silent_run + 1
        if self._silent_run >= self.end_blocks or len(self._blocks) >= self.max_blocks:
            blocks, voiced, start = self._blocks, self._voiced, self._start
            self._blocks, self._voiced, self._silent_run = [], 0, 0
            if voiced >= self.min_blocks:
                return SpeechSegment(start, np.concatenate(blocks))
        return None


class TranscribeWorker:
    """Runs `transcriber.transcribe` on finished segments, on its own thread."""

    def __init__(self, transcriber: Any, max_pending: int = 4) -> None:
        self.transcriber = transcriber
        self._in: queue.Queue[SpeechSegment | None] = queue.Queue(maxsize=max_pending)
        self._out: queue.Queue[SegmentText] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.skipped = 0  # segments dropped because the transcriber was still busy
        self.done = 0

    def start(self) -> "TranscribeWorker":
        self._thread = threading.Thread(target=self._loop, name="medtalk-transcribe", daemon=True)
        self._thread.start()
        return self

    def submit(self, segment: SpeechSegment) -> None:
        try:
            self._in.put_nowait(segment)
        except queue.Full:
            self.skipped += 1
            logger.debug("transcriber busy: segment at %.2f s left to the audio-only head",
                         segment.start_sample / SAMPLE_RATE)

    def results(self) -> list[SegmentText]:
        out = []
        while True:
            try:
                out.append(self._out.get_nowait())
            except queue.Empty:
                return out

    def _loop(self) -> None:
        while True:
            segment = self._in.get()
            if segment is None:
                return
            try:
                text = self.transcriber.transcribe(segment.audio).text
            except Exception:  # a recogniser failure costs one segment's text, never the stream
                logger.exception("transcription failed")
                continue
            end = segment.start_sample + segment.audio.shape[0]
            self.done += 1
            logger.debug("transcript %r", text)
            self._out.put(SegmentText(num_frames(segment.start_sample), num_frames(end), text))

    def close(self) -> None:
        if self._thread is None:
            return
        while True:  # make room for the stop sign: pending segments are no longer wanted
            try:
                self._in.get_nowait()
            except queue.Empty:
                break
        self._in.put(None)
        self._thread.join()
        self._thread = None
