"""The live guidance: requests that any thread may post, and the state that turns them into the
feature the engine blends to.

Control (the OSC server's thread, the hotkeys' thread) only validates and posts a
`GuidanceRequest`; the daemon's own loop, the one thread that runs the model, calls
`apply_pending()`, which builds the features (text and image encoders included) and commits a
new `GuidanceSnapshot`. So the animator is never used from two threads at once, and a request is
checked at the edge, before it is queued: a bad one raises MedtalkError to the sender's side.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch

from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import GuidanceSpec, strength_of, with_strength
from medtalk_core.protocols import GuidanceEncoder
from medtalk_core.rig import EMOTIONS, emotion_id

logger = logging.getLogger(__name__)

MAX_INTENSITY = 2.0
MAX_STRING_BYTES = 2048
MAX_PENDING = 64  # requests waiting for the daemon loop; more is a flood and is refused

RequestKind = Literal["emotion", "text", "image", "intensity", "nudge", "mute", "toggle_mute"]


@dataclass(frozen=True)
class GuidanceRequest:
    """One validated change of the guidance, not yet turned into a feature."""

    kind: RequestKind
    value: Any = None  # emotion id | description | image path | intensity | intensity delta | mute flag
    strength: float = 1.0  # of an emotion label


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


# --- requests: pure checks of what a sender gave ---------------------------------------------
def check_strength(strength: Any) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 10:
        raise MedtalkError(f"strength must be a number in 0..10, got {strength!r}")
    return float(strength)


def check_intensity(scale: Any) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= MAX_INTENSITY:
        raise MedtalkError(f"intensity must be a number in 0..{MAX_INTENSITY:g}, got {scale!r}")
    return float(scale)


def check_string(what: str, text: Any, max_bytes: int = MAX_STRING_BYTES) -> str:
    if not isinstance(text, str):
        raise MedtalkError(f"{what} must be a string, got {type(text).__name__}")
    if len(text.encode("utf-8")) > max_bytes:
        raise MedtalkError(f"{what} is longer than {max_bytes} bytes")
    if not text.strip():
        raise MedtalkError(f"{what} is empty")
    return text.strip()


def emotion_request(label: Any, strength: Any = 1.0, max_bytes: int = MAX_STRING_BYTES) -> GuidanceRequest:
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise MedtalkError(f"emotion label must be a name or an id, got {type(label).__name__}")
    if isinstance(label, str):
        label = check_string("emotion label", label, max_bytes)
    return GuidanceRequest("emotion", emotion_id(label), check_strength(strength))


def text_request(description: Any, max_bytes: int = MAX_STRING_BYTES) -> GuidanceRequest:
    return GuidanceRequest("text", check_string("guidance text", description, max_bytes))


def image_request(path: Any, max_bytes: int = MAX_STRING_BYTES) -> GuidanceRequest:
    file = Path(check_string("image path", path, max_bytes)).expanduser()
    if not file.is_file():
        raise MedtalkError(f"image file not found: {file}")
    _check_image(file)
    return GuidanceRequest("image", str(file))


def intensity_request(scale: Any) -> GuidanceRequest:
    return GuidanceRequest("intensity", check_intensity(scale))


def mute_request(muted: Any) -> GuidanceRequest:
    if isinstance(muted, bool):
        return GuidanceRequest("mute", muted)
    if isinstance(muted, (int, float)) and muted in (0, 1):
        return GuidanceRequest("mute", bool(muted))
    raise MedtalkError(f"mute takes 0 or 1, got {muted!r}")


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


# --- the state ---------------------------------------------------------------------------------
class GuidanceState:
    """Thread-safe current guidance. Setters (any thread) validate and post; `apply_pending()`
    (the daemon loop) builds features and commits; a request that fails there is logged and
    leaves the state unchanged."""

    def __init__(self, encoder: GuidanceEncoder, emotion: str = "neutral", strength: float = 1.0,
                 intensity: float = 1.0, max_string_bytes: int = MAX_STRING_BYTES) -> None:
        self.encoder = encoder
        self.max_string_bytes = max_string_bytes
        self.failed = 0  # requests that passed the checks but could not be applied
        self._pending: queue.Queue[GuidanceRequest] = queue.Queue(maxsize=MAX_PENDING)
        self._lock = threading.Lock()
        start = emotion_request(emotion, strength)
        check_intensity(intensity)
        self._base = encoder.guidance(start.value, strength=start.strength)  # (D,) before the intensity scale
        self._snap = GuidanceSnapshot(0, EMOTIONS[start.value], start.strength, float(intensity), False,
                                      self._scaled(self._base, intensity))

    @staticmethod
    def _scaled(base: torch.Tensor, intensity: float) -> torch.Tensor:
        return with_strength(base, strength_of(base) * intensity)

    # --- any thread ---
    def post(self, request: GuidanceRequest) -> None:
        try:
            self._pending.put_nowait(request)
        except queue.Full:
            raise MedtalkError(f"{MAX_PENDING} guidance changes are already waiting; request dropped") from None

    def set_emotion(self, label: str | int, strength: float = 1.0) -> None:
        self.post(emotion_request(label, strength, self.max_string_bytes))

    def set_text(self, description: str) -> None:
        self.post(text_request(description, self.max_string_bytes))

    def set_image(self, path: str) -> None:
        self.post(image_request(path, self.max_string_bytes))

    def set_intensity(self, scale: float) -> None:
        self.post(intensity_request(scale))

    def nudge_intensity(self, delta: float) -> None:
        self.post(GuidanceRequest("nudge", float(delta)))  # applied to the intensity of its turn

    def set_mute(self, muted: Any) -> None:
        self.post(mute_request(muted))

    def toggle_mute(self) -> None:
        self.post(GuidanceRequest("toggle_mute"))

    def snapshot(self) -> GuidanceSnapshot:
        with self._lock:
            return self._snap

    # --- the daemon loop ---
    def apply_pending(self) -> int:
        """Build and commit every posted request, in order; returns how many were applied."""
        applied = 0
        while True:
            try:
                request = self._pending.get_nowait()
            except queue.Empty:
                return applied
            try:
                self._apply(request)
                applied += 1
            except MedtalkError as exc:
                self.failed += 1
                logger.warning("guidance %s %r not applied: %s", request.kind, request.value, exc)

    def _apply(self, r: GuidanceRequest) -> None:
        snap = self.snapshot()  # only this thread commits: no change can slip in between
        if r.kind == "emotion":
            base = self.encoder.guidance(r.value, strength=r.strength)
            self._commit(base=base, description=EMOTIONS[r.value], strength=r.strength)
        elif r.kind == "text":
            self._commit(base=self.encoder.guidance(GuidanceSpec(text=r.value)),
                         description=f"text: {r.value}", strength=1.0)
        elif r.kind == "image":
            self._commit(base=self.encoder.guidance(GuidanceSpec(image=r.value)),
                         description=f"image: {Path(r.value).name}", strength=1.0)
        elif r.kind == "intensity":
            self._commit(intensity=r.value)
        elif r.kind == "nudge":
            self._commit(intensity=round(min(MAX_INTENSITY, max(0.0, snap.intensity + r.value)), 3))
        elif r.kind == "mute":
            self._commit(muted=r.value)
        else:  # toggle_mute
            self._commit(muted=not snap.muted)

    def _commit(self, base: torch.Tensor | None = None, **changes: Any) -> None:
        with self._lock:
            snap = self._snap
            self._base = base if base is not None else self._base
            intensity = changes.get("intensity", snap.intensity)
            self._snap = replace(snap, version=snap.version + 1, feature=self._scaled(self._base, intensity), **changes)
            logger.info("guidance: %s (strength %.2f, intensity %.2f%s)", self._snap.description,
                        self._snap.strength, self._snap.intensity, ", muted" if self._snap.muted else "")
