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
from functools import partial
from typing import Any, Callable

import numpy as np

from medtalk_core.audio import SAMPLE_RATE, num_frames, rms

from livelink_bridge.child_process import ChildProcess, lower_priority, serve_requests
from livelink_bridge.frames import SegmentText

logger = logging.getLogger(__name__)

_BLOCK = SAMPLE_RATE // 100  # 10 ms energy blocks


@dataclass(frozen=True)
class SpeechSegment:
    start_sample: int  # stream position of the first sample
    audio: np.ndarray  # (n,) float32 16 kHz


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
            loud = rms(block) > self.threshold
            segment = self._step(block, position, loud)
            if segment is not None:
                done.append(segment)
        self._pending = data[n_blocks * _BLOCK:]
        self._pos += n_blocks * _BLOCK
        return done

    def skip(self, n: int) -> None:
        """`n` samples of the stream are lost (a stall): the segment in progress is dropped,
        and positions move on past the gap, in step with the engine's frames."""
        self._pos += self._pending.shape[0] + n
        self._pending = np.zeros(0, np.float32)
        self._recent, self._blocks, self._voiced, self._silent_run = [], [], 0, 0

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


class _Transcribe:
    """Turns (start sample, audio) into (start frame, end frame, text) with a transcriber built once."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.transcriber = factory()

    def __call__(self, item: tuple[int, np.ndarray]) -> tuple:
        start, audio = item
        try:
            text = self.transcriber.transcribe(audio).text
        except Exception as exc:  # a recogniser failure costs one segment's text, never the stream
            return ("error", f"{type(exc).__name__}: {exc}")
        return (num_frames(start), num_frames(start + audio.shape[0]), text)


def _serve_thread(factory: Callable[[], Any], inbox: Any, outbox: Any) -> None:
    serve_requests(_Transcribe(factory), inbox, outbox)


def _serve_process(factory: Callable[[], Any], inbox: Any, outbox: Any) -> None:
    """In the child process, at a lower CPU priority than the daemon."""
    lower_priority("mt-transcribe")
    serve_requests(_Transcribe(factory), inbox, outbox)


def transcriber_factory(spec: Any) -> Callable[[], Any]:
    """A picklable recipe that builds the transcriber of `spec` (a BackboneSpec) in a worker."""
    from medtalk_core.backbones import build_backbone

    return partial(build_backbone, "transcriber", spec)


class TranscribeWorker:
    """Transcribes finished segments off the daemon's loop.

    `process=True` (the daemon's choice) runs the transcriber in a child process: pocketsphinx
    holds the GIL for hundreds of milliseconds per phrase, which in a thread would stall the
    60 fps loop. `factory` must then be picklable (see `transcriber_factory`)."""

    def __init__(self, factory: Callable[[], Any], process: bool = True, max_pending: int = 4) -> None:
        self.factory = factory
        self.process = process
        self.max_pending = max_pending
        self._child: ChildProcess | None = None
        self._thread: threading.Thread | None = None
        self._in: Any = None
        self._out: Any = None
        self.skipped = 0  # segments dropped because the transcriber was still busy
        self.done = 0

    def start(self) -> "TranscribeWorker":
        if self.process:
            self._child = ChildProcess(_serve_process, (self.factory,), "medtalk-transcribe",
                                       self.max_pending).start()
            self._in, self._out = self._child.inbox, self._child.outbox
        else:
            self._in, self._out = queue.Queue(self.max_pending), queue.Queue()
            self._thread = threading.Thread(target=_serve_thread, args=(self.factory, self._in, self._out),
                                            name="medtalk-transcribe", daemon=True)
            self._thread.start()
        return self

    def submit(self, segment: SpeechSegment) -> None:
        try:
            self._in.put_nowait((segment.start_sample, segment.audio))
        except queue.Full:
            self.skipped += 1
            logger.debug("transcriber busy: segment at %.2f s left to the audio-only head",
                         segment.start_sample / SAMPLE_RATE)

    def results(self) -> list[SegmentText]:
        out = []
        while True:
            try:
                item = self._out.get_nowait()
            except queue.Empty:
                return out
            if item[0] == "error":
                logger.warning("transcription failed: %s", item[1])
                continue
            self.done += 1
            logger.debug("transcript %r", item[2])
            out.append(SegmentText(*item))

    def close(self, timeout: float = 0.5) -> None:
        """Stop the worker: a child process ends within about 2 x `timeout` whatever it is doing
        (killed, hung inside the recogniser, still starting); SIGTERM must end the daemon in 2 s."""
        if self._child is not None:
            self._child.close(timeout)
            self._child = None
        elif self._thread is not None:
            try:
                self._in.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)  # a daemon thread stuck in the recogniser dies with the process
            self._thread = None
