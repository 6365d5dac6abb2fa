"""Process-wide settings a live 60 fps loop needs, applied when the daemon starts and restored
when it closes (a library caller's process is left as it was found).

Each one removed a measured source of late frames on a 2-core machine (docs/LIVE.md, "Latency"):
- torch and BLAS threads: idle OpenBLAS/OpenMP workers busy-wait after every call (the
  Savitzky-Golay fit of each hop is one) and burned a whole core;
- the garbage collector's heap: the first full collection after torch and transformers are
  loaded walks millions of objects and stopped the loop for about 100 ms; the loaded model's
  objects are frozen out of every later collection;
- the GIL's switch interval: every torch call of the model thread releases the GIL, and while
  another thread is busy in Python each call waited the whole interval (5 ms) to get it back:
  a 5.6 ms model run took 680 ms beside one busy thread, 133 ms at 1 ms, 37 ms at 0.2 ms. No
  thread of the daemon should be busy (slow work runs in child processes), but a burst of
  control or network messages is, briefly.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import torch
from threadpoolctl import threadpool_limits


SWITCH_INTERVAL_S = 0.0005


class ProcessTuning:
    """`apply()` before the model loads, `freeze_heap()` once it has loaded and warmed up,
    `restore()` on close; each is safe to call twice."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._threads_before: int | None = None
        self._blas_limits: Any = None
        self._frozen = False
        self._switch_before: float | None = None

    def apply(self) -> None:
        if self._threads_before is None:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            self._blas_limits = threadpool_limits(limits=self.threads)
            self._switch_before = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL_S)

    def freeze_heap(self) -> None:
        if not self._frozen:
            gc.collect()
            gc.freeze()
            self._frozen = True

    def restore(self) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._blas_limits.restore_original_limits()
            self._threads_before = self._blas_limits = None
            sys.setswitchinterval(self._switch_before)
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
