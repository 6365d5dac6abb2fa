"""The steady 60 fps output clock of a live stream.

Frame f is sent at (capture time of its audio) + the playout delay: the clock follows the audio's
own timeline, so the output never drifts from the input, however long the stream runs. When the
engine has not finalised frame f by its deadline (inference fell behind), the clock counts a
late frame and sends a stand-in under index f (`continuation`): the previous model run's
provisional prediction of that frame when there is one, else a continuation of the last frame
sent, never the same pose again. The real frame f, if it comes later, is dropped, so that the
indices stay a steady, gap-free 60 fps sequence; the real frames after it take over through a
short crossfade.

The playout delay adapts (`playout_delay`): every final frame says how long after its capture it
was ready; the delay grows when frames need more, up to a maximum, and comes back slowly when
the machine is quiet. A fixed delay is kept when the maximum is not above the delay.

After a stall (the whole process stopped, or the sender fell seconds behind) the clock
resynchronises instead of sending a burst of stale frames: a frame more than `max_hold_frames`
frames past its deadline is skipped, not sent, and frames the engine will never deliver (it
skipped audio lost in the stall, `StreamingEngine.skip`) are skipped as soon as a later frame is
there. Skipped indices are counted; the frames sent still follow the audio's own timeline.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from medtalk_core.audio import FPS

from livelink_bridge.continuation import Continuation, ContinuationConfig
from livelink_bridge.frames import RigFrame
from livelink_bridge.playout_delay import PlayoutDelay


@dataclass(frozen=True)
class ClockConfig:
    """The steady 60 fps output clock of a live (real-time) stream."""

    playout_delay_ms: float = 70.0  # frame f is sent at its audio's capture time + this (the lowest, when adaptive)
    adaptive: bool = True  # grow the delay while frames come late, bring it back slowly when quiet
    max_playout_delay_ms: float = 250.0  # the adaptive delay never grows beyond this
    max_hold_frames: int = 30  # a frame this far past its deadline is stale (the sender stalled): skipped
    continuation: ContinuationConfig = field(default_factory=ContinuationConfig)  # stand-ins for late frames


class FrameClock:
    """Pacing policy without threads: `push(frames, now)`, then `due(now)` returns what to send."""

    def __init__(self, delay_s: float, max_hold_frames: int = 30, max_delay_s: float | None = None,
                 continuation: Continuation | None = None) -> None:
        self.playout = PlayoutDelay(delay_s, max_delay_s)
        self.max_hold_frames = int(max_hold_frames)  # beyond this many frames late: stale, skipped
        self.continuation = continuation or Continuation()
        self._pending: deque[RigFrame] = deque()
        self._next = 0  # index of the next frame to send
        self._anchor: tuple[int, float] | None = None  # (index, capture time) of the newest known frame
        self._last: RigFrame | None = None
        self._takeover: int | None = None  # frames of the crossfade back to final frames done so far
        self._draining = False
        self._end: int | None = None  # frames in the whole stream, when known (a file without loop)
        self._provisional: dict[int, RigFrame] = {}  # stand-ins for frames not yet final
        self.late_frames = 0  # frames not final at their deadline (sent provisional or continued)
        self.held_frames = 0  # late frames with no provisional stand-in: continued from the last frame
        self.dropped_frames = 0  # real frames that came after their slot was filled
        self.skipped_frames = 0  # indices never sent: stale after a stall, or never delivered

    @property
    def delay_s(self) -> float:
        """The playout delay now (capture-to-send target)."""
        return self.playout.current

    def push(self, frames: list[RigFrame], now: float | None = None) -> None:
        """Final frames from the engine; `now` (when given) is when they became ready, which
        the adaptive delay learns from."""
        for frame in frames:
            if now is not None:
                self.playout.observe(now - frame.capture_time, now)
            if frame.index < self._next:
                self.dropped_frames += 1
                continue
            self._pending.append(frame)
            self._anchor = (frame.index, frame.capture_time)

    def offer(self, frames: list[RigFrame]) -> None:
        """Provisional frames (the engine's lookahead predictions), used only if the final
        frame of that index is late; each offer replaces the previous one."""
        self._provisional = {f.index: f for f in frames if f.index >= self._next}

    def set_end(self, total_frames: int) -> None:
        """The stream has exactly this many frames: never send a stand-in past its end (a slow
        main thread may call drain() after the last deadline has passed)."""
        self._end = int(total_frames)

    def drain(self) -> None:
        """No more frames will come: send what is pending, and stand in for no more."""
        self._draining = True

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def finished(self) -> bool:
        """Draining and nothing left to send, or every frame of a stream of known length sent."""
        return (self._draining and not self._pending) or (self._end is not None and self._next >= self._end)

    def deadline(self, index: int | None = None) -> float | None:
        """Send time of frame `index` (default: the next one); None before the first frame."""
        index = self._next if index is None else index
        if self._pending and self._pending[0].index == index:
            return self._pending[0].capture_time + self.delay_s
        if self._anchor is None:
            return None
        a_index, a_time = self._anchor
        return a_time + (index - a_index) / FPS + self.delay_s

    def due(self, now: float) -> list[RigFrame]:
        """Frames whose send time has come, in order, stand-ins included."""
        out: list[RigFrame] = []
        while True:
            when = self.deadline()
            if when is None or when > now or (self._end is not None and self._next >= self._end):
                return out
            if when < now - self.max_hold_frames / FPS and not self._draining:
                # Stale: the sender itself was stalled. Sending it now would be a burst of the past.
                if self._pending and self._pending[0].index == self._next:
                    self._pending.popleft()
                self._skip(1)
                continue
            if self._pending and self._pending[0].index == self._next:
                frame = self._taking_over(self._pending.popleft())
            elif self._pending and self._pending[0].index < self._next:
                self._pending.popleft()  # defensive: an out-of-order duplicate
                self.dropped_frames += 1
                continue
            elif self._pending and self._next not in self._provisional:
                # A later frame is there and this one is not: the engine skipped it (lost audio).
                self._skip(self._pending[0].index - self._next)
                continue
            elif self._draining or self._last is None:
                return out
            else:
                frame = self._stand_in(when)
            out.append(frame)
            self._last = frame
            self._next += 1
            self.playout.step(now)

    def _stand_in(self, when: float) -> RigFrame:
        """Frame `_next` is not final at its deadline: the last run's prediction of it, else a
        continuation of the last frame sent."""
        self.late_frames += 1
        self._takeover = 0
        if self._next in self._provisional:
            return self._provisional.pop(self._next)
        self.held_frames += 1
        values = self.continuation.stand_in(self._last.values, self._last.index, self._next)
        return RigFrame(index=self._next, capture_time=when - self.delay_s, values=values)

    def _taking_over(self, frame: RigFrame) -> RigFrame:
        """A final frame after stand-ins fades in from where the continuation had got to."""
        if self._takeover is None or self._last is None:
            return frame
        k = self._takeover
        self._takeover = k + 1 if k + 1 < self.continuation.cfg.takeover_frames else None
        stand_in = self.continuation.stand_in(self._last.values, self._last.index, frame.index)
        return replace(frame, values=self.continuation.take_over(stand_in, frame.values, k))

    def _skip(self, n: int) -> None:
        self._next += n
        self.skipped_frames += n
        self._takeover = None  # the stream jumps: nothing to fade from
        self._provisional = {i: f for i, f in self._provisional.items() if i >= self._next}
