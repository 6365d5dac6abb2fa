"""Warnings about what clients send, at most a few lines a second: a flood of bad messages or
connections must not become a flood of log lines (each line costs the daemon's threads time)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class QuietLog:
    """At most `per_s` warnings a second on `logger`; the rest are counted and summarised. Every
    line is bounded: callers pass short, truncated arguments. Safe from several threads."""

    def __init__(self, logger: logging.Logger, what: str, per_s: int = 5) -> None:
        self.logger, self.what, self.per_s = logger, what, per_s
        self._window, self._count, self._suppressed = 0, 0, 0
        self._lock = threading.Lock()

    def warn(self, msg: str, *args: Any, exc_info: bool = False) -> None:
        second = int(time.monotonic())
        with self._lock:
            if second != self._window:
                if self._suppressed:
                    self.logger.warning("%s: %d more not shown", self.what, self._suppressed)
                self._window, self._count, self._suppressed = second, 0, 0
            self._count += 1
            show = self._count <= self.per_s
            self._suppressed += not show
        if show:
            self.logger.warning(msg, *args, exc_info=exc_info)
