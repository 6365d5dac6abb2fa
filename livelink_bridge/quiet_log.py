"""Warnings about what clients send, at most a few lines a second: a flood of bad messages or
connections must not become a flood of log lines (each line costs the daemon's threads time)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class OneLine(logging.Filter):
    """For a library's logger: its errors about a client (a failed handshake, a peer gone
    mid-ping) become one warning line, the exception's text in place of its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"[:300]
            record.args = None
            record.exc_info = record.exc_text = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def library_logger(name: str) -> logging.Logger:
    """A logger for a library's own messages about clients: warnings and up, one line each."""
    log = logging.getLogger(name)
    log.setLevel(logging.WARNING)
    if not any(isinstance(f, OneLine) for f in log.filters):
        log.addFilter(OneLine())
    return log


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
