"""Process-wide settings a live 60 fps loop needs, applied when the daemon starts and restored
when it closes (a library caller's process is left as it was found).

Each one removed a measured source of late frames on a 2-core machine (docs/LIVE.md, "Latency"):
- torch and BLAS threads: idle OpenBLAS/OpenMP workers busy-wait after every call (the
  Savitzky-Golay fit of each hop is one) and burned a whole core;
- the garbage collector's heap: the first full collection after torch and transformers are
  loaded walks millions of objects and stopped the loop for about 100 ms; the loaded model's
  objects are frozen out of every later collection.
"""

from __future__ import annotations

import gc
from typing import Any

import torch
from threadpoolctl import threadpool_limits


class ProcessTuning:
    """`apply()` before the model loads, `freeze_heap()` once it has loaded and warmed up,
    `restore()` on close; each is safe to call twice."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._threads_before: int | None = None
        self._blas_limits: Any = None
        self._frozen = False

    def apply(self) -> None:
        if self._threads_before is None:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            self._blas_limits = threadpool_limits(limits=self.threads)

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
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
