"""Live control over OSC: decoding of the address space, and the server that dispatches it.

OSC address space (UDP, default 127.0.0.1:9001; docs/PROTOCOL.md):
    /medtalk/emotion <label:s|i> [strength:f]   label = name, 3-letter prefix or id 0-6
    /medtalk/guidance/text <description:s>       e.g. "a tired, reluctant smile"
    /medtalk/guidance/image <path:s>             a reference face picture on the daemon's disk
    /medtalk/intensity <scale:f>                 0 = neutral .. 1 = as predicted .. 2
    /medtalk/mute <0|1>                          1 = ignore the input (idle face)
    /medtalk/status                              replies /medtalk/status/reply <json:s> to the sender
A bad message (unknown emotion, wrong argument types or count, a string over 2 KB, a missing or
non-image file, a flood beyond the rate limit, a datagram that is not OSC) is logged with its
reason and changes nothing; the stream never stops for it.

Two steps, kept apart: `decode(address, args)` turns one message into a `GuidanceRequest` (or
the status query) or raises MedtalkError, touching nothing but the named image file; the server
then dispatches: it posts the request to the GuidanceState (the daemon loop builds the feature)
or answers the status query.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from medtalk_core.errors import MedtalkError

from .guidance_state import (MAX_STRING_BYTES, GuidanceRequest, GuidanceState, emotion_request, image_request,
                             intensity_request, mute_request, text_request)

logger = logging.getLogger(__name__)

STATUS = "/medtalk/status"
STATUS_REPLY = "/medtalk/status/reply"


class StatusQuery:
    """The decoded `/medtalk/status` message: answered by the server, changes nothing."""


def _args(args: tuple, least: int, most: int) -> tuple:
    if not least <= len(args) <= most:
        want = str(least) if least == most else f"{least} to {most}"
        raise MedtalkError(f"takes {want} argument{'s' if most != 1 else ''}, got {len(args)}")
    return args


def _status(args: tuple, max_bytes: int) -> StatusQuery:
    _args(args, 0, 0)
    return StatusQuery()


# address -> (arguments, longest string) -> request; each checks the argument count first
_DECODERS: dict[str, Callable[[tuple, int], GuidanceRequest | StatusQuery]] = {
    "/medtalk/emotion": lambda a, n: emotion_request(*_args(a, 1, 2), max_bytes=n),
    "/medtalk/guidance/text": lambda a, n: text_request(*_args(a, 1, 1), max_bytes=n),
    "/medtalk/guidance/image": lambda a, n: image_request(*_args(a, 1, 1), max_bytes=n),
    "/medtalk/intensity": lambda a, n: intensity_request(*_args(a, 1, 1)),
    "/medtalk/mute": lambda a, n: mute_request(*_args(a, 1, 1)),
    STATUS: _status,
}
ADDRESSES = tuple(_DECODERS)


def decode(address: str, args: tuple, max_string_bytes: int = MAX_STRING_BYTES) -> GuidanceRequest | StatusQuery:
    """One OSC message -> what it asks for; MedtalkError (with the reason) when it is bad."""
    decoder = _DECODERS.get(address)
    if decoder is None:
        raise MedtalkError(f"unknown address {address[:100]}")
    return decoder(tuple(args), max_string_bytes)


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._tokens, self._t = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
            self._t = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class _QuietLog:
    """At most `per_s` warnings a second; the rest are counted and summarised (a flood of bad
    messages must not become a flood of log lines)."""

    def __init__(self, per_s: int = 5) -> None:
        self.per_s = per_s
        self._window, self._count, self._suppressed = 0, 0, 0

    def warn(self, msg: str, *args: Any) -> None:
        second = int(time.monotonic())
        if second != self._window:
            if self._suppressed:
                logger.warning("control: %d more rejected messages not shown", self._suppressed)
            self._window, self._count, self._suppressed = second, 0, 0
        self._count += 1
        if self._count <= self.per_s:
            logger.warning(msg, *args)
        else:
            self._suppressed += 1


class _Server(BlockingOSCUDPServer):
    """One thread serves datagrams in turn (a threading server would start a thread per
    datagram, which a flood turns into thousands). Rate limit and sanity check come first."""

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, owner: "ControlServer") -> None:
        self.owner = owner
        super().__init__(address, dispatcher)

    def verify_request(self, request: Any, client_address: tuple[str, int]) -> bool:
        owner = self.owner
        if not owner.bucket.take():
            owner.dropped += 1
            owner.log.warn("control: flood from %s:%d, message dropped (limit %.0f/s)",
                           client_address[0], client_address[1], owner.bucket.rate)
            return False
        if not super().verify_request(request, client_address):
            owner.rejected += 1
            owner.log.warn("control: datagram from %s:%d is not OSC, ignored", *client_address[:2])
            return False
        return True

    def finish_request(self, request: Any, client_address: tuple[str, int]) -> None:
        try:
            super().finish_request(request, client_address)
        except (ValueError, IndexError, TypeError) as exc:  # python-osc's parser on malformed data
            self.owner.rejected += 1
            self.owner.log.warn("control: malformed OSC from %s:%d ignored (%s)", client_address[0],
                                client_address[1], type(exc).__name__)


class ControlServer:
    """The OSC control server on its own thread. `address` is the bound (host, port)."""

    def __init__(self, state: GuidanceState, host: str = "127.0.0.1", port: int = 9001,
                 max_messages_per_s: float = 50.0, burst: int = 100,
                 status: Callable[[], dict[str, Any]] | None = None) -> None:
        self.state = state
        self.host, self.port = host, int(port)
        self.bucket = _TokenBucket(max_messages_per_s, burst)
        self.log = _QuietLog()
        self._status = status or (lambda: {})
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.accepted = 0
        self.rejected = 0
        self.dropped = 0

    def _dispatcher(self) -> Dispatcher:
        d = Dispatcher()
        for address in ADDRESSES:
            d.map(address, self._handle)
        d.set_default_handler(self._unknown)
        return d

    def _handle(self, address: str, *args: Any) -> tuple[str, str] | None:
        """Decode, then dispatch: post a guidance request, or answer the status query."""
        try:
            request = decode(address, args, self.state.max_string_bytes)
            reply = self._status_reply() if isinstance(request, StatusQuery) else self.state.post(request)
        except MedtalkError as exc:
            self.rejected += 1
            self.log.warn("control: %s %s rejected: %s", address, _short(args), exc)
            return None
        except Exception:  # a bug must not stop the control server or the stream
            self.rejected += 1
            logger.exception("control: %s failed", address)
            return None
        self.accepted += 1
        return reply

    def _status_reply(self) -> tuple[str, str]:
        info = dict(self._status())
        info.update(self.state.snapshot().as_dict())
        return (STATUS_REPLY, json.dumps(info, sort_keys=True))

    def _unknown(self, address: str, *args: Any) -> None:
        self.rejected += 1
        self.log.warn("control: unknown address %s, ignored", address[:100])

    def start(self) -> "ControlServer":
        try:
            self._server = _Server((self.host, self.port), self._dispatcher(), self)
        except OSError as exc:
            raise MedtalkError(f"cannot listen for control on {self.host}:{self.port}: {exc}") from None
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="medtalk-control", daemon=True)
        self._thread.start()
        logger.info("control: OSC on %s:%d", self.host, self.port)
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _short(args: tuple) -> str:
    text = " ".join(repr(a) for a in args)
    return text if len(text) <= 80 else text[:77] + "..."
