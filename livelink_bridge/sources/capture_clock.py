"""Capture times that follow the audio, not the callbacks: a sample-count clock for an input stream.

A driver hands input over in blocks, and not always when each is complete: ALSA's PulseAudio
plugin at its default latency delivers 5 ms blocks two to four at a time, within a millisecond,
every 10-20 ms. Stamping each block with its callback's time gives the blocks of a burst nearly
the same capture time though they span 20 ms of audio, and frames scheduled against those times
are up to 15 ms wrong. Here the sample count is the clock: sample n of an opening was captured at
`anchor + n / rate`, and only the anchor (the time of sample 0) is estimated, from one of two
sources, named by `CaptureClock.name`:

- "adc": PortAudio's `inputBufferAdcTime`, where the host API fills it, moved from the stream's
  time to time.time() by the offset between its `currentTime` and the callback's own time.time()
  (their lowest difference: the Python callback runs after PortAudio took its time, by up to
  milliseconds while another thread holds the GIL). It is trusted while it is physically
  possible and steady: a block cannot reach the callback before its last sample was captured,
  the promptest callbacks come within the stream's reported latency of it, and the ADC time of
  a running stream moves with its samples. The first block whose ADC time breaks one of these
  (ALSA's PulseAudio plugin does: up to a block late at times, and its first second hundreds of
  ms off), or that has none, ends its use for this opening: the anchor moves to the callbacks'
  envelope at once.
- "callback-sample": each callback bounds the anchor from above (its block was complete before
  the callback ran: anchor <= callback time - samples so far / rate), and the anchor is the lower
  envelope of those bounds over the last few seconds, so bursty or late callbacks never pull it
  forward; a block that comes sooner than the clock allows moves it back at once. It is the
  time each sample could first have reached the process: the device's own latency before that
  is not in it (`MicSource.input_latency_s`, which the playout delay adds, covers it).

Drift between the device's clock and time.time() (real clocks: under 300 ppm) is corrected
slowly: the anchor moves toward its estimate by `GAIN_PER_S` of the error per second of audio,
at most `MAX_SLEW` seconds per second. An error beyond `REANCHOR_S` that lasts `REANCHOR_AFTER_S`
of audio (or comes after a driver overflow, or after the callbacks paused: a source that
delivered nothing) means samples were lost or never made: the clock re-anchors (an ADC time that
jumps is no longer trusted). A pause followed by its backlog re-anchors and steps back within
the batch it is read in (`place`). A new opening of the device is a new clock. Pure and
thread-free: `MicSource` records (callback time, ADC time, current time, frames) in its audio
callback and runs this on its reading thread.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

logger = logging.getLogger(__name__)

WINDOW_S = 4.0  # the envelope is the lowest callback bound over this much audio (many bursts, little drift)
GAIN_PER_S = 0.5  # drift servo: fraction of the anchor's error corrected per second of audio
MAX_SLEW = 0.002  # the servo moves the anchor at most 2 ms per second of audio (2000 ppm)
REANCHOR_S = 0.05  # an error this large is not drift or jitter: samples were lost (or the ADC time jumped)
REANCHOR_AFTER_S = 0.1  # ...once it has lasted this much audio (a burst after a short stall catches up sooner)
ADC_TOLERANCE_S = 0.001  # an ADC time up to this far past the callback's bound is still believed
ADC_SLACK_S = 0.01  # an ADC time more than the stream's latency + this before the envelope is not a time
ENVELOPE_AFTER_S = 0.25  # ...once the envelope has seen this much audio (a burst's first block alone is no bound)
START_SLACK_S = 0.1  # before that, the callback may be this much later than the promptest (a driver's start)

ADC = "adc"
CALLBACK = "callback-sample"


@dataclass(frozen=True)
class Callback:
    """What the audio callback records of one block (the clock's only input)."""

    wall: float  # time.time() when the callback ran
    frames: int  # samples per channel in the block
    adc: float = 0.0  # PortAudio's inputBufferAdcTime (stream time), 0 = not given
    current: float = 0.0  # PortAudio's currentTime (stream time) at the callback, 0 = not given
    overflow: bool = False  # the driver reported lost input before this block
    skipped: int = 0  # samples dropped just before this block (our own queue was full)


class CaptureClock:
    """Sample-count clock of one opening of an input stream at `rate` Hz."""

    def __init__(self, rate: int, latency_s: float = 0.0) -> None:
        self.rate = int(rate)
        self.latency_s = float(latency_s)  # what the stream reports: bounds how old an ADC time can be
        self.samples = 0  # samples observed (and skipped) since the opening
        self.anchor: float | None = None  # time.time() of sample 0 (as the clock now places it)
        self.reanchors = 0  # jumps of the anchor for lost samples or a jumping ADC time
        self._adc = True  # still trusting the ADC time (until a block without one, or an impossible one)
        self._window: deque[tuple[int, float]] = deque()  # (sample end, bound), bounds increasing: the window minimum
        self._run_start: int | None = None  # sample where the current run of errors beyond REANCHOR_S began
        self._run_target = math.inf  # where that run would re-anchor
        self._offset = math.inf  # time.time() - PortAudio stream time (lowest seen, creeping up with drift)
        self._last_wall = -math.inf  # when the previous block reached the callback

    @property
    def name(self) -> str:
        """Which clock the capture times follow: "adc" or "callback-sample"."""
        return ADC if self._adc and self.anchor is not None else CALLBACK

    def place(self, blocks: list[Callback]) -> list[float]:
        """Capture times of the first samples of consecutive blocks read together.

        The blocks are observed in order, then placed with the anchor as it stands after the last
        of them, so a burst's promptest block corrects the times of the blocks before it (except
        across a re-anchoring, which leaves the blocks before it where they were)."""
        out = []
        starts = []
        placed_from = 0
        anchor = self.anchor
        for i, block in enumerate(blocks):
            before = self.reanchors
            out.append(self.observe(block))
            starts.append(self.samples - block.frames)
            if self.reanchors != before:
                placed_from = i
        for i in range(placed_from, len(blocks)):
            out[i] = self.anchor + starts[i] / self.rate
        if anchor is not None and abs(self.anchor - anchor) > REANCHOR_S:  # not a pause's backlog, undone in the batch
            logger.info("input capture times re-anchored by %+.0f ms: samples lost or never made (a stall, an idle "
                        "source)", 1000 * (self.anchor - anchor))
        return out

    def observe(self, block: Callback) -> float:
        """Take one block into the estimate; the capture time of its first sample."""
        self.samples += block.skipped
        first = self.samples
        self.samples += block.frames
        bound = block.wall - self.samples / self.rate  # the anchor is no later than this
        window = self._window  # the lowest bound of the last WINDOW_S: the envelope
        while window and window[-1][1] >= bound:
            window.pop()
        window.append((self.samples, bound))
        while window[0][0] <= self.samples - WINDOW_S * self.rate:
            window.popleft()
        was_adc = self._adc
        adc_anchor = self._adc_anchor(block, first, bound)
        if self.anchor is None:
            self.anchor = adc_anchor if adc_anchor is not None else bound
        elif adc_anchor is not None and adc_anchor < self.anchor:  # a better offset, a prompter callback
            self.anchor = adc_anchor
        elif adc_anchor is not None:
            self._slew(adc_anchor, block.frames)
        else:
            if was_adc:  # the ADC time just failed: over to the callbacks' envelope at once
                self.anchor = window[0][1]
            self._follow_envelope(bound, block, block.wall - self._last_wall)
        self._last_wall = block.wall
        return self.anchor + first / self.rate

    def _adc_anchor(self, block: Callback, first: int, bound: float) -> float | None:
        """The anchor this block's ADC time implies, or None (and no more ADC) where it cannot be."""
        if not self._adc:
            return None
        anchor = None
        if block.adc > 0 and block.current > 0:
            self._offset = min(self._offset + MAX_SLEW * block.frames / self.rate, block.wall - block.current)
            anchor = block.adc + self._offset - first / self.rate
        envelope = self._window[0][1]
        if anchor is None:
            why = "not given"
        elif anchor > bound + ADC_TOLERANCE_S:
            why = f"{1000 * (anchor - bound):.1f} ms after its block reached the callback"
        elif anchor < (envelope if self.samples >= ENVELOPE_AFTER_S * self.rate else bound - START_SLACK_S) \
                - self.latency_s - ADC_SLACK_S:
            why = (f"{1000 * (envelope - anchor):.0f} ms before its promptest block reached the callback "
                   f"(the stream reports {1000 * self.latency_s:.0f} ms)")
        elif self.anchor is not None and abs(anchor - self.anchor) > REANCHOR_S:
            why = f"jumping by {1000 * (anchor - self.anchor):+.0f} ms"
        else:
            return anchor
        self._adc = False
        if anchor is not None:
            logger.info("input capture times: the driver's ADC time is %s; following the callbacks' sample clock", why)
        return None

    def _follow_envelope(self, bound: float, block: Callback, pause: float) -> None:
        """Servo the anchor toward the window's lowest bound; back at once to a bound below it;
        re-anchor once the error has stayed beyond REANCHOR_S for REANCHOR_AFTER_S of audio, or at
        once after a driver overflow or a pause of the callbacks as long (an idle PulseAudio
        monitor delivers nothing; a stall's backlog that comes after a pause moves it back again)."""
        if bound < self.anchor:  # the block came sooner than the clock says it was complete: the clock is late
            self.anchor = bound
            self._run_start = None
            return
        if bound - self.anchor <= REANCHOR_S:
            self._run_start = None
        else:
            if self._run_start is None:
                self._run_start, self._run_target = self.samples - block.frames, math.inf
            self._run_target = min(self._run_target, bound)
            if (block.overflow or pause > REANCHOR_S
                    or self.samples - self._run_start >= REANCHOR_AFTER_S * self.rate):
                logger.debug("input capture times re-anchored by %+.1f ms", 1000 * (self._run_target - self.anchor))
                self.anchor = self._run_target
                self.reanchors += 1
                self._run_start = None
                self._window.clear()
                self._window.append((self.samples, bound))
                return
        self._slew(self._window[0][1], block.frames)

    def _slew(self, estimate: float, frames: int) -> None:
        """Move the anchor toward `estimate` by GAIN_PER_S of the error per second of audio,
        at most MAX_SLEW seconds per second."""
        step = max(-MAX_SLEW, min(MAX_SLEW, (estimate - self.anchor) * GAIN_PER_S))
        self.anchor += step * frames / self.rate
