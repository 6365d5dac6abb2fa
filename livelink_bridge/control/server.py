"""Live control over OSC: the server that reads the control port and dispatches what it hears.

The address space (UDP, default 127.0.0.1:9001) is `control.messages`, documented in
docs/PROTOCOL.md, section 2. Every decoded message is acknowledged to its sender
(`/medtalk/ack <address:s> <ok:i> <reason:s>`; the status query's reply is its acknowledgement).
A bad message (unknown emotion, wrong argument types or count, a string over 2 KB, a missing or
non-image file, a datagram that is not OSC) is logged with its reason (at most 5 lines a second)
and changes nothing; the stream never stops for it. Datagrams are decoded by our own bounded
decoder (`control.wire`): exact addresses, no patterns, bundle timetags ignored (a bundle runs at once).

Access (livelink_bridge.access): datagrams from outside `access.allowed_networks` are not
answered; with a token asked, only a bundle led by `/medtalk/auth <token>` changes anything, and
a status query without it gets the stream's health but no file, device, address or description.

Two steps, kept apart: `decode(address, args)` turns one message into a `GuidanceRequest` (or
the status query) or raises MedtalkError, touching nothing but the named image file; the server
then dispatches: it posts the request to the GuidanceState or answers the status query.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from pythonosc.osc_message_builder import OscMessageBuilder

from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.errors import MedtalkError

from livelink_bridge.access import Access, AccessConfig
from livelink_bridge.control.messages import (ACK, AUTH, LATEST_WINS, MAX_STRING_BYTES, STATUS, STATUS_REPLY,
                                              DecodeRules, StatusQuery, decode)
from livelink_bridge.control.state import GuidanceState
from livelink_bridge.control.wire import Message, OscDecodeError, decode_datagram
from livelink_bridge.loop_thread import LoopThread
from livelink_bridge.quiet_log import QuietLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlConfig:
    """The OSC control server and terminal hotkeys."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9001
    max_messages_per_s: float = 50.0  # changes admitted per second (token bucket); over it, the newest of each kind waits
    burst: int = 100  # token bucket size
    max_reads_per_s: float = 20000.0  # datagrams (stream messages) read per second at most; beyond, left unread
    max_string_bytes: int = MAX_STRING_BYTES  # longer strings are rejected
    hotkeys: bool = True  # only where stdin is a terminal
    emotion: str = "neutral"  # guidance at start
    strength: float = 1.0  # strength of a label guidance
    intensity: float = 1.0  # emotion intensity scale at start (0 = neutral, 1 = as predicted, up to 2)

_LATEST_WINS_PREFIXES = tuple(a.encode() + b"\0" for a in LATEST_WINS)
_STATUS_PREFIX = STATUS.encode() + b"\0"
_STATUS_PER_S = 10.0  # status queries answered per second beyond the shared rate limit
_POLL_S = 0.05  # the server thread wakes this often: stop requests, held-back fader values
_MAX_DATAGRAM = 65536
_BUNDLE_PREFIX = b"#bundle\0"
# What a status reply leaves out for a sender without the token: the source's file, device or
# address, and the guidance's description or photo file name (the rest is the stream's health).
PRIVATE_STATUS_KEYS = ("source", "guidance")
NOT_AUTHORISED = f"not authorised: this daemon asks for its token (`medtalk send --token`, or a bundle led by {AUTH})"
_RECEIVE_BUFFER = 1 << 20  # bytes asked of the kernel for queued datagrams


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._tokens, self._t = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
        self._t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ControlServer:
    """The OSC control server on its own thread. `address` is the bound (host, port).

    What a sender can make it do is bounded by cost, not by trust:
    - one thread reads datagrams in turn from one socket (a thread per datagram is what a flood
      turns into thousands), at most `max_reads_per_s` a second: beyond that it sleeps and the
      kernel drops what does not fit its buffer, so no flood can keep the thread busy (a busy
      thread would slow every model run through the GIL);
    - each message, bundle elements included, costs one token of the rate limit; over the limit
      the newest message of each guidance address is held back and applied, in the order they
      came, as tokens come free (a burst's last request always applies); anything else is
      dropped unparsed;
    - status queries have a small budget of their own, so a flood cannot blind the operator;
    - every decoded message is acknowledged to its sender (`/medtalk/ack`, or the status reply).
    Applying a request only posts it to the GuidanceState: descriptions and photos are built by
    the guidance worker, at most one at a time, latest wins."""

    def __init__(self, state: GuidanceState, cfg: ControlConfig,
                 status: Callable[[], dict[str, Any]] | None = None, access: Access | None = None,
                 image_folders: AllowedFolders | None = None) -> None:
        self.state = state
        self.cfg = cfg
        self.access = access or Access(AccessConfig())
        self.rules = DecodeRules(cfg.max_string_bytes, image_folders or AllowedFolders.of(["."]))
        self.host, self.port = cfg.host, int(cfg.port)
        self.bucket = TokenBucket(cfg.max_messages_per_s, cfg.burst)
        self.reads = TokenBucket(cfg.max_reads_per_s, max(1, int(cfg.max_reads_per_s / 10)))
        self.status_bucket = TokenBucket(_STATUS_PER_S, int(_STATUS_PER_S))
        self.log = QuietLog(logger, "control: rejected messages")
        self._status = status or (lambda: {})
        self._sock: socket.socket | None = None
        self._reader = LoopThread("medtalk-control", self._serve)
        self._latest: dict[str, tuple[Message | bytes, tuple[str, int]]] = {}  # address -> newest held back
        self.accepted = 0
        self.rejected = 0
        self.refused = 0  # datagrams from outside access.allowed_networks, unanswered
        self.dropped = 0
        self.coalesced = 0  # held-back fader values replaced by a newer one before they could apply

    def start(self) -> "ControlServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise MedtalkError(f"cannot listen for control on {self.host}:{self.port}: {exc}") from None
        sock.settimeout(_POLL_S)
        # Room for a burst that arrives while this thread waits for the GIL (the kernel grants
        # at most net.core.rmem_max; what it drops then is lost, as UDP may always be).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self._reader.start()
        logger.info("control: OSC on %s:%d", self.host, self.port)
        return self

    def close(self) -> None:
        self._reader.stop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- the server thread ---
    def _serve(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            if not self.reads.take():  # leave the flood to the kernel's buffer (and its drops)
                stopping.wait(1.0 / self.reads.rate)
                self._release_latest()
                continue
            try:
                data, sender = self._sock.recvfrom(_MAX_DATAGRAM)
            except socket.timeout:
                data = None
            except OSError as exc:  # e.g. an ICMP error for an earlier reply; the socket is fine
                logger.debug("control: recvfrom: %s", exc)
                continue
            if data is not None:
                self._datagram(data, sender[:2])
            self._release_latest()

    def _datagram(self, data: bytes, sender: tuple[str, int]) -> None:
        if not self.access.admits(sender[0]):
            self.refused += 1  # not answered: a reply would only tell a stranger we are here
            self.log.warn("control: datagram from %s:%d refused: not in access.allowed_networks", *sender)
            return
        if not self.bucket.take():
            self._over_limit(data, sender)
            return
        messages, trusted = self._authorised(self._decode(data, sender))
        if not trusted:
            for message in messages:
                self._untrusted(message, sender)
            return
        for n, message in enumerate(messages):
            # The datagram's own token paid for the first message. While changes are held back,
            # newer ones queue behind them: the guidance ends as the last message asked.
            if (n and not self.bucket.take()) or (self._latest and message.address in LATEST_WINS):
                self._hold_back(message, sender)
                continue
            self._handle(message, sender)
        self._release_latest()

    def _authorised(self, messages: list[Message]) -> tuple[list[Message], bool]:
        """(the requests, whether they carry the token): with a token asked, a datagram is a bundle
        led by /medtalk/auth <token>."""
        if self.access.token is None:  # a client that sends one anyway is welcome
            return [m for m in messages if m.address != AUTH], True
        if messages and messages[0].address == AUTH and len(messages[0].args) == 1 \
                and self.access.token_ok(messages[0].args[0]):
            return messages[1:], True
        return [m for m in messages if m.address != AUTH], False

    def _untrusted(self, message: Message, sender: tuple[str, int]) -> None:
        """A message without the token: a status query gets the health part of the status; the
        rest is refused (and acknowledged as refused)."""
        if message.address == STATUS and not message.args:
            self._reply(sender, *self._status_reply(trusted=False))
            return
        self.rejected += 1
        self.log.warn("control: %s from %s:%d refused: no token", message.address[:100], *sender)
        self._reply(sender, ACK, [message.address[:100], 0, NOT_AUTHORISED])

    def _over_limit(self, data: bytes, sender: tuple[str, int]) -> None:
        if self.access.token is not None and data.startswith(_BUNDLE_PREFIX):
            self._over_limit_with_token(data, sender)
            return
        if data.startswith(_STATUS_PREFIX) and self.status_bucket.take():
            # Status queries have a small budget of their own: a flood of other traffic must not
            # blind the operator who asks what is going on.
            try:
                messages = decode_datagram(data)
            except OscDecodeError:
                messages = []
            if len(messages) == 1:
                if self.access.token is None:
                    self._handle(messages[0], sender)
                else:
                    self._untrusted(messages[0], sender)
                return
        prefix = next((p for p in _LATEST_WINS_PREFIXES if data.startswith(p)), None)
        if prefix is not None and self.access.token is None:
            # kept as it came, decoded only if still the newest when its turn comes
            self._hold(prefix[:-1].decode(), data, sender)
            return
        self.dropped += 1
        self.log.warn("control: flood from %s:%d, message dropped (limit %.0f/s)", sender[0], sender[1],
                      self.bucket.rate)

    def _over_limit_with_token(self, data: bytes, sender: tuple[str, int]) -> None:
        """Over the limit, a token's bundle is decoded (the decoder is bounded, the reads capped) to
        see whether it is one status query (answered from its own budget) or one guidance change
        (held back) behind a good token."""
        messages, trusted = self._authorised(self._decode(data, sender))
        if trusted and len(messages) == 1:
            message = messages[0]
            if message.address == STATUS and self.status_bucket.take():  # the operator's own budget
                self._handle(message, sender)
                return
            if message.address in LATEST_WINS:
                self._hold(message.address, message, sender)
                return
        self.dropped += 1
        self.log.warn("control: flood from %s:%d, message dropped (limit %.0f/s)", sender[0], sender[1],
                      self.bucket.rate)

    def _hold_back(self, message: Message, sender: tuple[str, int]) -> None:
        if message.address in LATEST_WINS:
            self._hold(message.address, message, sender)
            return
        self.dropped += 1
        self.log.warn("control: flood from %s:%d, %s dropped (limit %.0f/s)", sender[0], sender[1],
                      message.address[:100], self.bucket.rate)

    def _hold(self, address: str, message: Message | bytes, sender: tuple[str, int]) -> None:
        """Keep the newest `address` change (a decoded message or its datagram) for a free token."""
        held = self._latest.pop(address, None)  # re-inserted last: released in arrival order
        self.coalesced += held is not None
        self._latest[address] = (message, sender)

    def _release_latest(self) -> None:
        while self._latest and self.bucket.take():
            address = next(iter(self._latest))
            message, sender = self._latest.pop(address)
            if isinstance(message, bytes):
                decoded = self._decode(message, sender)
                if not decoded:
                    continue
                message = decoded[0]  # a datagram that starts with an address holds one message
            self._handle(message, sender)

    def _decode(self, data: bytes, sender: tuple[str, int]) -> list[Message]:
        """The datagram's messages; none (counted and logged) when it is not OSC."""
        try:
            return decode_datagram(data)
        except OscDecodeError as exc:
            self.rejected += 1
            self.log.warn("control: datagram from %s:%d ignored: %s", sender[0], sender[1], exc)
            return []

    def _handle(self, message: Message, sender: tuple[str, int]) -> None:
        """Decode, then dispatch: post a guidance request, or answer the status query; acknowledge."""
        address, args = message.address, message.args
        try:
            request = decode(address, args, self.rules)
            if isinstance(request, StatusQuery):
                reply = self._status_reply(trusted=True)
            else:
                self.state.post(request)
                reply = (ACK, [address, 1, ""])
        except MedtalkError as exc:
            self.rejected += 1
            self.log.warn("control: %s %s rejected: %s", address[:100], _short(args), _clip(str(exc)))
            reply = (ACK, [address, 0, _clip(str(exc))])
        except Exception:  # a bug must not stop the control server or the stream
            self.rejected += 1
            self.log.warn("control: %s failed", address[:100], exc_info=True)
            reply = (ACK, [address, 0, "internal error (see the daemon's log)"])
        else:
            self.accepted += 1
        self._reply(sender, *reply)

    def _reply(self, sender: tuple[str, int], address: str, args: list[Any]) -> None:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        try:
            self._sock.sendto(builder.build().dgram, sender)
        except OSError as exc:  # the sender has gone; its ack is lost, nothing else
            logger.debug("control: reply to %s:%d failed: %s", sender[0], sender[1], exc)

    def _status_reply(self, trusted: bool) -> tuple[str, list[Any]]:
        info = dict(self._status())
        info.update(self.state.snapshot().as_dict())
        if not trusted:
            for key in PRIVATE_STATUS_KEYS:
                info.pop(key, None)
        return (STATUS_REPLY, [json.dumps(info, sort_keys=True)])


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short(args: tuple) -> str:
    text = " ".join(repr(a) for a in args)
    return text if len(text) <= 80 else text[:77] + "..."
