"""A named background thread that runs one loop until its owner stops it."""

from __future__ import annotations

import threading
from typing import Callable


class LoopThread:
    """`start()` runs `loop(stopping)` on a daemon thread; `stop()` sets `stopping` and joins.

    The loop must look at `stopping` at least every few tens of milliseconds (every wait in it
    bounded), so that stop() returns promptly; it may be started again after a stop."""

    def __init__(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self.name = name
        self.stopping = threading.Event()
        self._loop = loop
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stopping.clear()
        self._thread = threading.Thread(target=self._loop, args=(self.stopping,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
