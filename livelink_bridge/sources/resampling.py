"""Resampling a live stream to 16 kHz block by block, with no seams between blocks, and the
capture times of the resampled output."""

from __future__ import annotations

import logging

import numpy as np

from livelink_bridge.sources import AudioChunk
from medtalk_core.audio import (
    SAMPLE_RATE,
    polyphase_filter,
    rate_ratio,
)

logger = logging.getLogger(__name__)

class StreamResampler:
    """Polyphase FIR resampling of a stream, block by block, with no seams between blocks.

    The filter (`audio.polyphase_filter`) and its delay compensation are those of the offline
    `audio.resample`, so the concatenated output equals resampling the whole signal, except
    for the last few samples, which wait for the input that follows them."""

    def __init__(self, orig_rate: int, target_rate: int = SAMPLE_RATE) -> None:
        self.up, self.down = rate_ratio(orig_rate, target_rate)
        self._h = np.ones(1)
        self._next = 0  # next output on upfirdn's grid (the filter delay is skipped at the start)
        if self.up != self.down:
            h = polyphase_filter(self.up, self.down) * self.up
            half_len = (h.shape[0] - 1) // 2
            pre_pad = self.down - half_len % self.down
            self._h = np.concatenate([np.zeros(pre_pad), h])
            self._next = (half_len + pre_pad) // self.down
        self._buf = np.zeros(0, dtype=np.float64)
        self._buf_start = 0  # input index of _buf[0]; always a multiple of `down`

    def _first_input(self, k: int) -> int:
        """First input sample output k reads, rounded down to upfirdn's grid (a multiple of `down`)."""
        lo = max(0, -(-(k * self.down - self._h.shape[0] + 1) // self.up))
        return lo - lo % self.down

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed input samples; return every output sample that is now complete."""
        block = np.asarray(block, dtype=np.float32)
        if self.up == self.down:
            return block
        from scipy.signal import upfirdn

        self._buf = np.concatenate([self._buf, block.astype(np.float64)])
        end = self._buf_start + self._buf.shape[0]
        last = (end * self.up - 1) // self.down  # newest output whose inputs have all arrived
        if last < self._next:
            return np.zeros(0, dtype=np.float32)
        start = self._first_input(self._next)
        y = upfirdn(self._h, self._buf[start - self._buf_start:], self.up, self.down)
        offset = start * self.up // self.down  # output index of y[0]
        out = y[self._next - offset:last + 1 - offset]
        self._next = last + 1
        keep = self._first_input(self._next)
        self._buf = self._buf[keep - self._buf_start:]
        self._buf_start = keep
        return out.astype(np.float32)


class _ChunkTimer:
    """Capture time of resampled output: input block times mapped through the rate ratio."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.inputs = 0  # input samples seen
        self.outputs = 0  # output samples handed out

    def chunk(self, block_time: float, block_len: int, out: np.ndarray) -> AudioChunk:
        # The first output sample sits at input position outputs * rate / 16k.
        t = block_time + (self.outputs * self.rate / SAMPLE_RATE - self.inputs) / self.rate
        self.inputs += block_len
        self.outputs += out.shape[0]
        return AudioChunk(out, t)


