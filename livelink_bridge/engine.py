"""The streaming engine: audio chunks in, timestamped 60 fps rig frames out.

A stateful object with no sockets and no threads (the daemon owns those), in the shape of
whisper_streaming's OnlineASRProcessor: `reset()`, `insert_audio(chunk, capture_time)`,
`process() -> frames`, `finish() -> frames`.

How it works, in frames of 1/60 s:
- a preallocated ring buffer holds the last `window_s` (plus slack) of 16 kHz audio;
- every `hop` of new audio the model animates the window [N - W, N) that ends at the newest
  complete frame N;
- frames [E, N - L) are emitted, L = lookahead: each emitted frame had at least L frames of
  future audio in front of it when it was predicted;
- the first frames of each newly emitted span are crossfaded with the previous run's prediction
  for the same frames (that run covered them in its lookahead), so hop boundaries never jump;
- a guidance change starts at the next frame to emit and blends over `transition_s` through
  per-frame guidance features (`medtalk_core.guidance.mix`);
- idle motion (blinks, breathing, relaxed mouth in silence) is laid over every frame.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from medtalk_core.audio import FPS, SAMPLE_RATE, frame_samples, num_frames, rms, samples_for_frames
from medtalk_core.crossfade import crossfade, ramp
from medtalk_core.guidance import mix
from medtalk_core.head_eyes import SILENCE_DB
from medtalk_core.protocols import ClipAnimator
from medtalk_core.rig import clamp

from livelink_bridge.frames import RigFrame, SegmentText
from livelink_bridge.idle import IdleConfig, IdleMotion

logger = logging.getLogger(__name__)

_SLACK_S = 1.0  # ring buffer room beyond window + hop + lookahead, for chunks that arrive in bursts


@dataclass(frozen=True)
class EngineConfig:
    """The sliding-window streaming engine (see `livelink_bridge.engine`)."""

    window_s: float = 1.0  # audio context fed to the model each hop (the model's receptive field is ~0.5 s)
    hop_ms: float = 16.7  # the model runs every hop of new audio (every frame: docs/LIVE.md, "Latency")
    lookahead_ms: float = 33.3  # frames are emitted this far behind the newest audio (future context)
    crossfade_ms: float = 33.3  # overlapping predictions of consecutive hops are blended over this
    transition_s: float = 0.5  # a guidance change (emotion, text, image, intensity) blends over this
    idle: IdleConfig = field(default_factory=IdleConfig)


def _ms_to_frames(ms: float) -> int:
    return int(round(ms * FPS / 1000.0))


class StreamingEngine:
    """Sliding-window MEDTalk over a live audio stream. See the module docstring."""

    def __init__(self, animator: ClipAnimator, cfg: EngineConfig, guidance: Any = "neutral",
                 catch_up: bool = False) -> None:
        """`animator`: a `medtalk_core.inference.Animator`; `guidance`: a label, GuidanceSpec or
        feature (D,) to start with; `catch_up`: when several hops are pending (inference fell
        behind real time), run once on the newest window instead of once per hop."""
        self.animator = animator
        self.cfg = cfg
        self.catch_up = catch_up
        self.window = max(1, int(round(cfg.window_s * FPS)))
        self.hop = max(1, _ms_to_frames(cfg.hop_ms))
        self.lookahead = _ms_to_frames(cfg.lookahead_ms)
        self.crossfade = min(_ms_to_frames(cfg.crossfade_ms), self.lookahead)
        self.transition = _ms_to_frames(cfg.transition_s * 1000.0)
        capacity_s = cfg.window_s + (cfg.hop_ms + cfg.lookahead_ms) / 1000.0 + _SLACK_S
        self._ring = np.zeros(int(math.ceil(capacity_s * SAMPLE_RATE)), dtype=np.float32)
        self._idle = IdleMotion(cfg.idle)
        self._g_to = self._feature(guidance)  # (D,) target guidance
        self.reset()

    # --- interface ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all audio and emitted frames; keep the current guidance target."""
        self._ring[:] = 0.0
        self._total = 0  # samples inserted since reset
        self._emitted = 0  # next frame index to emit (E)
        self._last_run = 0  # newest frame N of the last model run
        self._prev: tuple[int, np.ndarray] | None = None  # (first frame, (T,174)) of the last run
        self._anchor_starts: list[int] = []  # first sample of each chunk still in use...
        self._anchor_times: list[float] = []  # ...and its capture time
        self.runs = 0  # model runs since reset (for stats and tests)
        self.skipped_frames = 0  # frames never emitted because their audio was lost (skip)
        self._g_from: torch.Tensor | None = None
        self._g_start: int | None = None  # frame at which the running guidance transition began
        self._transcripts: list[SegmentText] = []
        self._finished = False
        self._idle.reset()

    def insert_audio(self, chunk: np.ndarray, capture_time: float) -> None:
        """Append mono 16 kHz float32 samples; `capture_time` (time.time() clock) of the first one."""
        if self._finished:
            raise RuntimeError("insert_audio after finish(); call reset() to start a new stream")
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        n = chunk.shape[0]
        if n == 0:
            return
        if n > self._ring_room():
            raise ValueError(
                f"chunk of {n} samples would overwrite audio not yet processed; call process() "
                f"between chunks (ring buffer holds {self._ring.shape[0]} samples)")
        start = self._total % self._ring.shape[0]
        first = min(n, self._ring.shape[0] - start)
        self._ring[start:start + first] = chunk[:first]
        self._ring[:n - first] = chunk[first:]
        self._anchor_starts.append(self._total)
        self._anchor_times.append(float(capture_time))
        self._total += n

    def process(self) -> list[RigFrame]:
        """Run the model for every complete hop of new audio; return the frames now final."""
        frames: list[RigFrame] = []
        while True:
            available = num_frames(self._total)
            target = self._last_run + self.hop
            if available < target:
                return frames
            if self.catch_up and available - target >= self.hop:
                logger.debug("inference behind by %d frames: running once on the newest window",
                             available - target)
                target = available
            frames.extend(self._run(target, final=False))

    def room(self) -> int:
        """Samples that may be inserted before the next process(): more would overwrite audio
        not yet processed, or (catching up) leave frames older than the newest window that no
        run would cover. A live caller with more audio than this drops the oldest (`skip`)."""
        if not self.catch_up:
            return self._ring_room()
        return max(0, min(self._ring_room(), frame_samples(self._emitted + self.window) - self._total))

    def skip(self, n: int) -> None:
        """`n` samples of the stream are lost (the loop stalled and their audio was dropped, or the
        input's clock jumped): the timeline moves on by `n`, so that frame indices keep following
        capture time. The gap reads as silence; frames not yet emitted before its end are never
        emitted (counted in `skipped_frames`), and the stream resumes at the first frame after it."""
        if n <= 0:
            return
        cap = self._ring.shape[0]
        start, k = self._total % cap, min(n, cap)
        first = min(k, cap - start)
        self._ring[start:start + first] = 0.0
        self._ring[:k - first] = 0.0
        self._total += n
        resume = num_frames(self._total)
        self.skipped_frames += max(0, resume - self._emitted)
        self._emitted = max(self._emitted, resume)
        self._last_run = max(self._last_run, resume)
        self._prev = None  # its predictions end before the gap: nothing to crossfade or stand in

    @property
    def end_time(self) -> float | None:
        """Capture time just after the newest sample (None before any audio)."""
        return self._capture_time(self._total) if self._anchor_starts else None

    def finish(self) -> list[RigFrame]:
        """End of stream: animate and emit every remaining frame (no lookahead left to wait for)."""
        frames = self.process()
        available = num_frames(self._total)
        if available > self._emitted:
            frames.extend(self._run(available, final=True))
        self._finished = True
        return frames

    # --- control -----------------------------------------------------------------------------
    def set_guidance(self, guidance: Any) -> None:
        """Blend toward new guidance over `transition_s`, starting at the next frame to emit."""
        target = self._feature(guidance)
        start = self._emitted
        self._g_from = self._guidance_at(start)
        self._g_to = target
        self._g_start = start

    def add_transcript(self, start_frame: int, end_frame: int, text: str) -> None:
        """Text of the speech segment [start_frame, end_frame), for the FIM text branch."""
        if text.strip():
            self._transcripts.append(SegmentText(start_frame, end_frame, text.strip()))

    def provisional(self) -> list[RigFrame]:
        """The last run's predictions for the frames after the emitted ones (its lookahead
        region): not final (they lack future context and the crossfade), but the best stand-in
        when the output clock needs a frame before the next run has finished."""
        if self._prev is None or self._finished:
            return []
        first, pred = self._prev
        frames = []
        for f in range(self._emitted, self._last_run):
            values = self._idle.peek(np.asarray(pred[f - first], dtype=np.float32), f)
            frames.append(RigFrame(index=f, capture_time=self._capture_time(frame_samples(f)),
                                   values=clamp(values)))
        return frames

    def level_db(self, f: int) -> float:
        """RMS level (dBFS) of frame f's audio, while the ring buffer still holds it (frames are
        emitted well within its span); the silence floor otherwise."""
        a, b = frame_samples(f), frame_samples(f + 1)
        if b > self._total or self._total - a > self._ring.shape[0]:
            return SILENCE_DB
        return max(SILENCE_DB, 20.0 * math.log10(max(rms(self._read(a, b)), 1e-12)))

    @property
    def frames_emitted(self) -> int:
        return self._emitted

    # --- internals ---------------------------------------------------------------------------
    def _feature(self, guidance: Any) -> torch.Tensor:
        if isinstance(guidance, torch.Tensor):
            if guidance.dim() != 1:
                raise ValueError(f"guidance feature must be (D,), got {tuple(guidance.shape)}")
            return guidance
        return self.animator.guidance(guidance)

    def _guidance_weights(self, first: int, end: int) -> torch.Tensor:
        """Weight of the new guidance for frames [first, end): 0 before the change, ramping to 1
        over `transition` frames. (T,)"""
        return torch.from_numpy(ramp(np.arange(first, end) - self._g_start, self.transition))

    def _guidance_at(self, frame: int) -> torch.Tensor:
        if self._g_start is None or self._g_from is None:
            return self._g_to
        return mix(self._g_from, self._g_to, float(self._guidance_weights(frame, frame + 1)[0]))

    def _guidance_for(self, first: int, end: int) -> torch.Tensor:
        """(D,) when no transition touches [first, end), else per-frame features (T, D)."""
        if self._g_start is None or first >= self._g_start + self.transition:
            return self._g_to
        return mix(self._g_from, self._g_to, self._guidance_weights(first, end))  # (T, D)

    def _transcript_for(self, first: int, end: int) -> str:
        """Text of the segments overlapping [first, end); "" (the audio-only head, never the
        animator's own transcriber, which would be far too slow to run every hop) when none."""
        self._transcripts = [t for t in self._transcripts if t.end_frame > first - self.window]
        return " ".join(t.text for t in self._transcripts if t.start_frame < end and t.end_frame > first)

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) from the ring buffer; zeros past the end of the audio."""
        out = np.zeros(stop - start, dtype=np.float32)
        have = min(stop, self._total) - start
        if have > 0:
            cap = self._ring.shape[0]
            idx = (np.arange(start, start + have) % cap)
            out[:have] = self._ring[idx]
        return out

    def _ring_room(self) -> int:
        oldest_needed = min(frame_samples(max(0, self._last_run + self.hop - self.window)),
                            frame_samples(self._emitted))
        return self._ring.shape[0] - (self._total - oldest_needed)

    def _capture_time(self, sample: int) -> float:
        """Capture time of `sample`: its chunk's time plus the offset inside the chunk."""
        i = max(0, bisect_right(self._anchor_starts, sample) - 1)
        return self._anchor_times[i] + (sample - self._anchor_starts[i]) / SAMPLE_RATE

    def _prune_anchors(self) -> None:
        """Forget the chunks wholly before the next frame to emit."""
        keep = max(0, bisect_right(self._anchor_starts, frame_samples(self._emitted)) - 1)
        if keep:
            del self._anchor_starts[:keep]
            del self._anchor_times[:keep]

    def _run(self, newest: int, final: bool) -> list[RigFrame]:
        first = max(0, newest - self.window)
        n_samples = samples_for_frames(newest - first)
        start = frame_samples(first)
        audio = self._read(start, start + n_samples)  # (n,) exactly (newest - first) frames long
        guidance = self._guidance_for(first, newest)
        transcript = self._transcript_for(first, newest)
        pred = np.asarray(self.animator.animate(audio, guidance, transcript=transcript, smooth=True),
                          dtype=np.float32)  # (T, 174)
        self.runs += 1
        if pred.shape[0] != newest - first:
            raise RuntimeError(f"animator returned {pred.shape[0]} frames for {newest - first}")
        end = newest if final else newest - self.lookahead
        frames = [self._emit(f, pred[f - first], f - self._emitted) for f in range(self._emitted, end)]
        self._prev = (first, pred)
        self._last_run = newest
        self._emitted = max(self._emitted, end)
        self._prune_anchors()
        return frames

    def _emit(self, f: int, new: np.ndarray, k: int) -> RigFrame:
        values = new
        if self._prev is not None and k < self.crossfade:
            p_first, p_pred = self._prev
            if p_first <= f < p_first + p_pred.shape[0]:
                values = crossfade(p_pred[f - p_first], new, ramp(k, self.crossfade))
        a, b = frame_samples(f), frame_samples(f + 1)
        silent = rms(self._read(a, b)) < self.cfg.idle.silence_rms
        values = self._idle.apply(np.asarray(values, dtype=np.float32), f, silent)
        return RigFrame(index=f, capture_time=self._capture_time(a), values=clamp(values))


def stream_array(engine: StreamingEngine, audio: np.ndarray, chunk_samples: int = 160,
                 start_time: float = 0.0) -> np.ndarray:
    """Stream a whole clip through `engine` in chunks, as fast as possible -> (T, 174).

    What a file source in --fast mode does, for comparing a stream with offline `animate()`."""
    engine.reset()
    frames: list[RigFrame] = []
    for start in range(0, audio.shape[0], chunk_samples):
        engine.insert_audio(audio[start:start + chunk_samples], start_time + start / SAMPLE_RATE)
        frames.extend(engine.process())
    frames.extend(engine.finish())
    return np.stack([f.values for f in frames]) if frames else np.zeros((0, 174), np.float32)
