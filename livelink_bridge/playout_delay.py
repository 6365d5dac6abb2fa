"""The adaptive playout delay: how long after its audio's capture a frame is sent.

Every final frame tells how long after its capture it was ready (`observe`). The delay aims at
the largest such need seen lately plus a margin for the sender's own wake-up jitter; that peak
is forgotten slowly (`DECAY_PER_S`), so the delay comes back down when the machine is quiet and
a periodic load does not make it oscillate. The delay actually used moves toward its aim by a
bounded step per frame sent: growing by `GROW_PER_FRAME` stretches a few frames' spacing (a
moment of slow motion, never a jump or a pause), shrinking by `SHRINK_PER_FRAME` is too small
to see. It never leaves [base, maximum]; with maximum <= base it is fixed.
"""

from __future__ import annotations

MARGIN_S = 0.005  # above the largest recent need: the sender thread's wake-up jitter
DECAY_PER_S = 0.003  # the remembered peak need falls this much per second (a 150 ms rise is forgotten in ~50 s)
GROW_PER_FRAME = 0.004  # s the delay may grow per frame sent (a frame spaced 20.7 ms instead of 16.7)
SHRINK_PER_FRAME = 0.00025  # s it may shrink per frame sent (15 ms/s at most)


class PlayoutDelay:
    """`observe(need, now)` for each final frame, `step(now)` for each frame sent; `current`."""

    def __init__(self, base_s: float, max_s: float | None = None) -> None:
        self.base_s = float(base_s)
        self.max_s = max(self.base_s, float(max_s)) if max_s is not None else self.base_s
        self.current = self.base_s
        self._peak = 0.0  # largest recent need, as it stood at _peak_at
        self._peak_at = 0.0

    def raise_base(self, extra_s: float) -> None:
        """The input itself lags by `extra_s` (a device's reported latency): every bound moves up."""
        self.base_s += extra_s
        self.max_s += extra_s
        self.current += extra_s

    @property
    def adaptive(self) -> bool:
        return self.max_s > self.base_s

    def _peak_now(self, now: float) -> float:
        return self._peak - DECAY_PER_S * max(0.0, now - self._peak_at)

    def observe(self, need_s: float, now: float) -> None:
        """A final frame was ready `need_s` after its capture."""
        if self.adaptive and need_s > self._peak_now(now):
            self._peak, self._peak_at = need_s, now

    def target(self, now: float) -> float:
        return min(self.max_s, max(self.base_s, self._peak_now(now) + MARGIN_S))

    def step(self, now: float) -> None:
        """One frame was sent: move toward the target by at most one step."""
        if not self.adaptive:
            return
        aim = self.target(now)
        if aim > self.current:
            self.current = min(aim, self.current + GROW_PER_FRAME)
        else:
            self.current = max(aim, self.current - SHRINK_PER_FRAME)
