"""A worker in a child process that can never hold up the daemon: started in the background,
fed through bounded queues, and ended within a bounded time whatever state it is in.

Work that runs Python for long stretches (a recogniser, a guidance fit, a face-landmark graph)
must not share the daemon's process: every torch call of the model thread releases the GIL, and
while another thread of the process is busy in Python each call waits a whole switch interval to
get it back. Measured here, one busy thread made a 5.6 ms model run take 680 ms (docs/LIVE.md,
"The real-time path"). A child process is scheduled by the OS instead, at a lower priority.

Shutdown never blocks: the parent's ends of the queues never wait for the child to read (a queue
whose feeder thread is stuck writing into a pipe nobody reads again would hold up the
interpreter's exit forever), and a child that does not stop when asked is terminated, then killed.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import sys
from typing import Any, Callable

logger = logging.getLogger(__name__)

CHILD_NICENESS = 10  # a child's work is wanted in seconds, a frame within milliseconds
PARENT_CHECK_S = 1.0  # how often an idle child checks that the daemon is still there
_PR_SET_NAME = 15  # prctl option: the thread's name, as /proc/PID/comm shows it


def serve_requests(handle: Callable[[Any], Any], inbox: Any, outbox: Any) -> None:
    """The child's loop: answer each item of `inbox` with `handle(item)` on `outbox` until a None
    arrives or the parent has gone (a daemon killed without a word must not leave it behind)."""
    parent = os.getppid()
    while True:
        try:
            item = inbox.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        outbox.put(handle(item))


def lower_priority(name: str, threads: int = 1) -> None:
    """In the child: yield the CPU to the daemon, use one torch thread (idle pool threads spin),
    and go by `name` in `top` and `ps -o comm` (Linux), so a user can tell the children apart."""
    os.nice(CHILD_NICENESS)
    _set_process_name(name)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # a child that never imports torch needs no thread setting
        pass


def _set_process_name(name: str) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: only the name shown by ps is lost
        pass


class ChildProcess:
    """One spawned child with an inbox (bounded) and an outbox. `put` never blocks; `get` polls."""

    def __init__(self, target: Callable[..., None], args: tuple, name: str, max_pending: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that holds torch threads
        self.inbox = ctx.Queue(max_pending)
        self.outbox = ctx.Queue()
        # Never let the interpreter's exit wait for queued items to reach a child that is gone.
        self.inbox.cancel_join_thread()
        self.outbox.cancel_join_thread()
        self.process = ctx.Process(target=target, args=(*args, self.inbox, self.outbox), name=name, daemon=True)
        self.name = name

    def start(self) -> "ChildProcess":
        self.process.start()
        return self

    def put(self, item: Any) -> bool:
        """Queue an item for the child; False when its inbox is full."""
        try:
            self.inbox.put_nowait(item)
            return True
        except queue.Full:
            return False

    def get(self, timeout: float | None = None) -> Any:
        """The next answer; queue.Empty when there is none (within `timeout`, if given)."""
        if timeout is None:
            return self.outbox.get_nowait()
        return self.outbox.get(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self, timeout: float = 0.5) -> None:
        """Ask the child to stop, then end it: at most about 2 x `timeout` in all."""
        while True:  # make room for the stop sign: what is pending is no longer wanted
            try:
                self.inbox.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
        self.put(None)
        self.process.join(timeout)
        if self.process.is_alive():  # hung, or still starting: end our own child
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():  # it ignored SIGTERM
            logger.warning("%s did not stop; killing it", self.name)
            self.process.kill()
            self.process.join(timeout)
        self.inbox.close()
        self.outbox.close()
