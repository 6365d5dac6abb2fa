"""Terminal hotkeys (only when stdin is a terminal): 1-7 emotions, +/- intensity, m mute,
t type a description, q quit. They feed the same GuidanceState as the OSC control server."""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
from typing import Callable, TextIO

from medtalk_core.errors import MedtalkError
from medtalk_core.rig import EMOTIONS

from livelink_bridge.control.state import GuidanceState
from livelink_bridge.loop_thread import LoopThread

logger = logging.getLogger(__name__)

INTENSITY_STEP = 0.1
HELP = ("keys: " + " ".join(f"{i + 1}={name}" for i, name in enumerate(EMOTIONS))
        + "  +/- intensity  m mute  t describe  q quit")


class Hotkeys:
    """Reads single key presses on a thread; `on_quit` is called for q (and Ctrl-D)."""

    def __init__(self, state: GuidanceState, on_quit: Callable[[], None], stream: TextIO | None = None) -> None:
        self.state = state
        self.on_quit = on_quit
        self.stream = stream or sys.stdin
        self._reader = LoopThread("medtalk-hotkeys", self._loop)
        self._saved: list | None = None

    @staticmethod
    def available(stream: TextIO | None = None) -> bool:
        stream = stream or sys.stdin
        try:
            # In the background (`medtalk run &`) touching the terminal would stop the process.
            return (os.name == "posix" and stream.isatty()
                    and os.tcgetpgrp(stream.fileno()) == os.getpgrp())
        except (AttributeError, ValueError, OSError):
            return False

    def start(self) -> "Hotkeys":
        import termios
        import tty

        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)  # keys arrive one by one, Ctrl-C still raises SIGINT
        self._reader.start()
        logger.info(HELP)
        return self

    def close(self) -> None:
        self._reader.stop()
        self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def _loop(self, stopping: threading.Event) -> None:
        fd = self.stream.fileno()
        while not stopping.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            key = os.read(fd, 1).decode("utf-8", errors="ignore")
            if key == "":  # end of input
                self.on_quit()
                return
            try:
                self.handle(key)
            except MedtalkError as exc:
                logger.warning("hotkey %r: %s", key, exc)

    def handle(self, key: str) -> None:
        """Apply one key press to the guidance state."""
        if key and key in "1234567":
            self.state.set_emotion(int(key) - 1)
        elif key in ("+", "="):
            self.state.nudge_intensity(INTENSITY_STEP)
        elif key in ("-", "_"):
            self.state.nudge_intensity(-INTENSITY_STEP)
        elif key in ("m", "M"):
            self.state.toggle_mute()
        elif key in ("t", "T"):
            self._describe()
        elif key in ("q", "Q", "\x04"):
            self.on_quit()
        elif key in ("h", "?"):
            logger.info(HELP)

    def _describe(self) -> None:
        """Back to line mode for one line of text: the description of an expression."""
        import tty

        self._restore()
        try:
            sys.stdout.write("\ndescribe the expression: ")
            sys.stdout.flush()
            line = self.stream.readline()
        finally:
            tty.setcbreak(self.stream.fileno())
        if line.strip():
            self.state.set_text(line.strip())
