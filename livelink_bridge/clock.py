"""The steady 60 fps output clock of a live stream.

Frame f is sent at (capture time of its audio) + `delay`: the clock follows the audio's own
timeline, so the output never drifts from the input, however long the stream runs. When the
engine has not finalised frame f by its deadline (inference fell behind), the clock counts a
late frame and sends a stand-in under index f: the previous model run's provisional prediction
of that frame when there is one (extrapolation by the model itself), else the last frame's
values again (hold). The real frame f, if it comes later, is dropped, so that the indices stay a
steady, gap-free 60 fps sequence.

After a stall (the whole process stopped, or the loop fell seconds behind) the clock
resynchronises instead of sending a burst of stale frames: a frame more than `max_hold_frames`
frames past its deadline is skipped, not sent, and frames the engine will never deliver (it
skipped audio lost in the stall, `StreamingEngine.skip`) are skipped as soon as a later frame is
there. Skipped indices are counted; the frames sent still follow the audio's own timeline.
"""

from __future__ import annotations

from collections import deque

from medtalk_core.audio import FPS

from .frames import RigFrame


class FrameClock:
    """Pacing policy without threads: `push(frames)`, then `due(now)` returns what to send now."""

    def __init__(self, delay_s: float, max_hold_frames: int = 30) -> None:
        self.delay_s = float(delay_s)  # capture-to-send target
        self.max_hold_frames = int(max_hold_frames)  # beyond this many holds in a row: stalled, stop holding
        self._pending: deque[RigFrame] = deque()
        self._next = 0  # index of the next frame to send
        self._anchor: tuple[int, float] | None = None  # (index, capture time) of the newest known frame
        self._last: RigFrame | None = None
        self._holds_in_row = 0
        self._draining = False
        self._end: int | None = None  # frames in the whole stream, when known (a file without loop)
        self._provisional: dict[int, RigFrame] = {}  # stand-ins for frames not yet final
        self.late_frames = 0  # frames not final at their deadline (sent provisional or held)
        self.held_frames = 0  # late frames with no provisional stand-in: the last pose again
        self.dropped_frames = 0  # real frames that came after their slot was filled
        self.skipped_frames = 0  # indices never sent: stale after a stall, or never delivered

    def push(self, frames: list[RigFrame]) -> None:
        for frame in frames:
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
        """No more frames will come: send what is pending, and hold no more."""
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
        """Frames whose send time has come, in order, holds included."""
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
                frame = self._pending.popleft()
                self._holds_in_row = 0
            elif self._pending and self._pending[0].index < self._next:
                self._pending.popleft()  # defensive: an out-of-order duplicate
                self.dropped_frames += 1
                continue
            elif self._pending and self._next not in self._provisional:
                # A later frame is there and this one is not: the engine skipped it (lost audio).
                self._skip(self._pending[0].index - self._next)
                self._holds_in_row = 0  # the stream goes on
                continue
            elif self._next in self._provisional and not self._draining:
                # Not final in time: the last run's own prediction of this frame stands in.
                frame = self._provisional.pop(self._next)
                self._holds_in_row = 0
                self.late_frames += 1
            else:
                if self._draining or self._last is None or self._holds_in_row >= self.max_hold_frames:
                    return out
                # Nothing predicted either: hold the last pose rather than freeze or jump.
                capture = when - self.delay_s
                frame = RigFrame(index=self._next, capture_time=capture, values=self._last.values)
                self._holds_in_row += 1
                self.late_frames += 1
                self.held_frames += 1
            out.append(frame)
            self._last = frame
            self._next += 1

    def _skip(self, n: int) -> None:
        self._next += n
        self.skipped_frames += n
        self._provisional = {i: f for i, f in self._provisional.items() if i >= self._next}
