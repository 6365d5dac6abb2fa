"""Live control: one GuidanceState that the OSC control server and the hotkeys both feed.

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
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import GuidanceSpec, strength_of, with_strength
from medtalk_core.rig import EMOTIONS, emotion_id

logger = logging.getLogger(__name__)

MAX_INTENSITY = 2.0
STATUS_REPLY = "/medtalk/status/reply"


@dataclass(frozen=True)
class GuidanceSnapshot:
    version: int  # increases with every accepted change
    description: str  # "happy", "text: a tired smile", "image: face.png"
    strength: float  # of the guidance itself
    intensity: float  # user scale on top, 0..2
    muted: bool
    feature: torch.Tensor  # (D,) what the engine blends to: norm = strength * intensity

    def as_dict(self) -> dict[str, Any]:
        return {"guidance": self.description, "strength": round(self.strength, 4),
                "intensity": round(self.intensity, 4), "muted": self.muted, "version": self.version}


class GuidanceState:
    """Thread-safe current guidance. Setters validate, compute the feature outside the lock
    (text/image encoders can be slow), then commit; a MedtalkError leaves the state unchanged."""

    def __init__(self, animator: Any, emotion: str = "neutral", strength: float = 1.0,
                 intensity: float = 1.0, max_string_bytes: int = 2048) -> None:
        self.animator = animator
        self.max_string_bytes = max_string_bytes
        self._lock = threading.Lock()
        self._check_intensity(intensity)
        base = animator.guidance(emotion_id(emotion), strength=self._check_strength(strength))
        self._base = base  # (D,) before the intensity scale
        self._snap = GuidanceSnapshot(0, EMOTIONS[emotion_id(emotion)], float(strength), float(intensity),
                                      False, self._scaled(base, intensity))

    @staticmethod
    def _scaled(base: torch.Tensor, intensity: float) -> torch.Tensor:
        return with_strength(base, strength_of(base) * intensity)

    @staticmethod
    def _check_strength(strength: Any) -> float:
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 10:
            raise MedtalkError(f"strength must be a number in 0..10, got {strength!r}")
        return float(strength)

    @staticmethod
    def _check_intensity(scale: Any) -> float:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= MAX_INTENSITY:
            raise MedtalkError(f"intensity must be a number in 0..{MAX_INTENSITY:g}, got {scale!r}")
        return float(scale)

    def _check_string(self, what: str, text: Any) -> str:
        if not isinstance(text, str):
            raise MedtalkError(f"{what} must be a string, got {type(text).__name__}")
        if len(text.encode("utf-8")) > self.max_string_bytes:
            raise MedtalkError(f"{what} is longer than {self.max_string_bytes} bytes")
        if not text.strip():
            raise MedtalkError(f"{what} is empty")
        return text.strip()

    def _commit(self, **changes: Any) -> GuidanceSnapshot:
        with self._lock:
            snap = self._snap
            base = changes.pop("base", self._base)
            intensity = changes.get("intensity", snap.intensity)
            self._base = base
            self._snap = replace(snap, version=snap.version + 1, feature=self._scaled(base, intensity), **changes)
            logger.info("guidance: %s (strength %.2f, intensity %.2f%s)", self._snap.description,
                        self._snap.strength, self._snap.intensity, ", muted" if self._snap.muted else "")
            return self._snap

    # --- setters (any thread) ---
    def set_emotion(self, label: str | int, strength: float = 1.0) -> GuidanceSnapshot:
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise MedtalkError(f"emotion label must be a name or an id, got {type(label).__name__}")
        if isinstance(label, str):
            label = self._check_string("emotion label", label)
        strength = self._check_strength(strength)
        eid = emotion_id(label)
        base = self.animator.guidance(eid, strength=strength)
        return self._commit(base=base, description=EMOTIONS[eid], strength=strength)

    def set_text(self, description: str) -> GuidanceSnapshot:
        description = self._check_string("guidance text", description)
        base = self.animator.guidance(GuidanceSpec(text=description))
        return self._commit(base=base, description=f"text: {description}", strength=1.0)

    def set_image(self, path: str) -> GuidanceSnapshot:
        path = self._check_string("image path", path)
        file = Path(path).expanduser()
        if not file.is_file():
            raise MedtalkError(f"image file not found: {file}")
        _check_image(file)
        base = self.animator.guidance(GuidanceSpec(image=str(file)))
        return self._commit(base=base, description=f"image: {file.name}", strength=1.0)

    def set_intensity(self, scale: float) -> GuidanceSnapshot:
        return self._commit(intensity=self._check_intensity(scale))

    def nudge_intensity(self, delta: float) -> GuidanceSnapshot:
        scale = min(MAX_INTENSITY, max(0.0, self.snapshot().intensity + delta))
        return self.set_intensity(round(scale, 3))

    def set_mute(self, muted: Any) -> GuidanceSnapshot:
        if isinstance(muted, bool):
            flag = muted
        elif isinstance(muted, (int, float)) and muted in (0, 1):
            flag = bool(muted)
        else:
            raise MedtalkError(f"mute takes 0 or 1, got {muted!r}")
        return self._commit(muted=flag)

    def toggle_mute(self) -> GuidanceSnapshot:
        return self.set_mute(not self.snapshot().muted)

    def snapshot(self) -> GuidanceSnapshot:
        with self._lock:
            return self._snap


def _check_image(path: Path) -> None:
    """Raise MedtalkError unless `path` is a picture Pillow can read."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # Pillow comes with matplotlib; say so if it is missing anyway
        raise MedtalkError("image guidance needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MedtalkError(f"{path} is not a readable image: {exc}") from None


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
        d.map("/medtalk/emotion", self._guard(self._emotion))
        d.map("/medtalk/guidance/text", self._guard(lambda *a: self.state.set_text(*self._args(a, 1, 1))))
        d.map("/medtalk/guidance/image", self._guard(lambda *a: self.state.set_image(*self._args(a, 1, 1))))
        d.map("/medtalk/intensity", self._guard(lambda *a: self.state.set_intensity(*self._args(a, 1, 1))))
        d.map("/medtalk/mute", self._guard(lambda *a: self.state.set_mute(*self._args(a, 1, 1))))
        d.map("/medtalk/status", self._guard(self._status_reply))
        d.set_default_handler(self._unknown)
        return d

    @staticmethod
    def _args(args: tuple, least: int, most: int) -> tuple:
        if not least <= len(args) <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise MedtalkError(f"takes {want} argument{'s' if most != 1 else ''}, got {len(args)}")
        return args

    def _emotion(self, *args: Any) -> None:
        label, *rest = self._args(args, 1, 2)
        self.state.set_emotion(label, *rest)

    def _status_reply(self, *args: Any) -> tuple[str, str]:
        self._args(args, 0, 0)
        info = dict(self._status())
        info.update(self.state.snapshot().as_dict())
        return (STATUS_REPLY, json.dumps(info, sort_keys=True))

    def _guard(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(address: str, *args: Any) -> Any:
            try:
                result = handler(*args)
            except MedtalkError as exc:
                self.rejected += 1
                self.log.warn("control: %s %s rejected: %s", address, _short(args), exc)
                return None
            except Exception:  # a bug must not stop the control server or the stream
                self.rejected += 1
                logger.exception("control: %s failed", address)
                return None
            self.accepted += 1
            return result if isinstance(result, tuple) else None
        return run

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
