"""The live guidance: requests that any thread may post, and the state that turns them into the
feature the engine blends to.

Control (the OSC server's thread, a network stream's, the hotkeys') only validates and posts a
`GuidanceRequest`; the daemon's loop calls `apply_pending()`, which commits what is cheap (a
label, the intensity, mute) at once and hands descriptions and photos to a `Preparer` (in the
daemon, `guidance_worker.GuidanceWorker`: a child process), whose result comes back through
`prepared()` and is committed at the loop's next turn, unless a newer guidance was asked for
meanwhile. So nothing slow ever runs on the model's thread, the animator is never used from two
threads at once, and a request is checked at the edge, before it is queued: a bad one raises
MedtalkError to the sender's side. Without a preparer (a library caller, tests), descriptions
and photos are built inside `apply_pending()`.

Posting never blocks and never fails for lack of room: the oldest waiting request gives way to
the newest (a burst's last request is the one that applies).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import GuidanceSpec, strength_of, with_strength
from medtalk_core.protocols import GuidanceEncoder
from medtalk_core.rig import EMOTIONS

from livelink_bridge.control.messages import (MAX_INTENSITY, MAX_STRING_BYTES, DecodeRules, GuidanceRequest,
                                              check_intensity, emotion_request, image_request, intensity_request,
                                              text_request)

logger = logging.getLogger(__name__)

MAX_PENDING = 64  # requests waiting for the daemon loop; beyond, the oldest gives way to the newest


@dataclass(frozen=True)
class GuidanceSnapshot:
    version: int  # increases with every accepted change
    description: str  # "happy", "text: a tired smile", "image: face.png"
    strength: float  # of the guidance itself
    intensity: float  # user scale on top, 0..2
    muted: bool
    feature: torch.Tensor  # (D,) what the engine blends to: norm = strength * intensity
    head_eyes: bool = True  # head rotation and saccades on (medtalk_core.head_eyes)
    gaze: tuple[float, float] = (0.0, 0.0)  # the gaze target, yaw and pitch degrees (0 0: the camera)

    def as_dict(self) -> dict[str, Any]:
        return {"guidance": self.description, "strength": round(self.strength, 4),
                "intensity": round(self.intensity, 4), "muted": self.muted, "version": self.version,
                "head_eyes": self.head_eyes, "gaze": list(self.gaze)}


# --- the state ---------------------------------------------------------------------------------
class Preparer(Protocol):
    """Builds description and photo features elsewhere; hands each back to `GuidanceState.prepared`."""

    def submit(self, seq: int, spec: GuidanceSpec) -> None: ...


@dataclass(frozen=True)
class _Done:
    """A prepared feature coming back (guidance_worker.Prepared has this shape)."""

    seq: int
    spec: GuidanceSpec
    feature: Any  # (D,) array or tensor, or None
    error: str | None


class GuidanceState:
    """Thread-safe current guidance. Setters (any thread) validate and post; `apply_pending()`
    (the daemon loop) commits; a request that fails to build is logged and leaves the state as
    it was."""

    def __init__(self, encoder: GuidanceEncoder, emotion: str = "neutral", strength: float = 1.0,
                 intensity: float = 1.0, max_string_bytes: int = MAX_STRING_BYTES,
                 preparer: Preparer | None = None, head_eyes: bool = True) -> None:
        self.encoder = encoder
        self.preparer = preparer
        self.max_string_bytes = max_string_bytes
        self.failed = 0  # requests that passed the checks but could not be applied
        self.coalesced = 0  # waiting requests that gave way to newer ones in a burst
        self._pending: deque[GuidanceRequest | _Done] = deque()
        self._lock = threading.Lock()
        self._asked = 0  # sequence number of the newest guidance asked for (label, text, image)
        start = emotion_request(emotion, strength)
        check_intensity(intensity)
        self._base = encoder.guidance(start.value, strength=start.strength)  # (D,) before the intensity scale
        self._snap = GuidanceSnapshot(0, EMOTIONS[start.value], start.strength, float(intensity), False,
                                      self._scaled(self._base, intensity), head_eyes=head_eyes)

    @staticmethod
    def _scaled(base: torch.Tensor, intensity: float) -> torch.Tensor:
        return with_strength(base, strength_of(base) * intensity)

    # --- any thread ---
    def post(self, request: GuidanceRequest) -> None:
        self._enqueue(request)

    def prepared(self, done: Any) -> None:
        """A feature built by the preparer (any thread); committed at the loop's next turn."""
        self._enqueue(_Done(done.seq, done.spec, done.feature, done.error))

    def _enqueue(self, item: GuidanceRequest | _Done) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.coalesced += 1
            self._pending.append(item)

    def set_emotion(self, label: str | int, strength: float = 1.0) -> None:
        self.post(emotion_request(label, strength, DecodeRules(self.max_string_bytes)))

    def set_text(self, description: str) -> None:
        self.post(text_request(description, DecodeRules(self.max_string_bytes)))

    def set_image(self, path: str) -> None:
        self.post(image_request(path, DecodeRules(self.max_string_bytes)))

    def set_intensity(self, scale: float) -> None:
        self.post(intensity_request(scale))

    def nudge_intensity(self, delta: float) -> None:
        self.post(GuidanceRequest("nudge", float(delta)))  # applied to the intensity of its turn

    def toggle_mute(self) -> None:
        self.post(GuidanceRequest("toggle_mute"))

    def snapshot(self) -> GuidanceSnapshot:
        with self._lock:
            return self._snap

    # --- the daemon loop ---
    def apply_pending(self) -> int:
        """Commit every posted request in order (descriptions and photos: hand them to the
        preparer, or build them here without one); returns how many changed the state."""
        applied = 0
        while True:
            with self._lock:
                if not self._pending:
                    return applied
                item = self._pending.popleft()
            try:
                applied += self._apply(item)
            except MedtalkError as exc:
                self.failed += 1
                what = f"{item.kind} {item.value!r}" if isinstance(item, GuidanceRequest) else _spec_name(item.spec)
                logger.warning("guidance %s not applied: %s", what, exc)

    def _apply(self, item: GuidanceRequest | _Done) -> bool:
        if isinstance(item, _Done):
            if item.seq != self._asked:  # a newer guidance was asked for while this one was built
                return False
            if item.error is not None:
                raise MedtalkError(item.error)
            self._commit_spec(item.spec, torch.as_tensor(item.feature, dtype=self._base.dtype).to(self._base.device))
            return True
        r, snap = item, self.snapshot()  # only this thread commits: no change can slip in between
        if r.kind in ("emotion", "text", "image"):
            self._asked += 1
            spec = _spec(r)
            if r.kind == "emotion" or self.preparer is None:
                self._commit_spec(spec, self.encoder.guidance(spec.label if r.kind == "emotion" else spec,
                                                              strength=r.strength))
                return True
            self.preparer.submit(self._asked, spec)
            return False
        if r.kind == "intensity":
            self._commit(intensity=r.value)
        elif r.kind == "gaze":
            self._commit(gaze=r.value)
        elif r.kind == "head_eyes":
            self._commit(head_eyes=r.value)
        elif r.kind == "nudge":
            self._commit(intensity=round(min(MAX_INTENSITY, max(0.0, snap.intensity + r.value)), 3))
        elif r.kind == "mute":
            self._commit(muted=r.value)
        else:  # toggle_mute
            self._commit(muted=not snap.muted)
        return True

    def _commit_spec(self, spec: GuidanceSpec, base: torch.Tensor) -> None:
        strength = float(spec.strength) if spec.label is not None else 1.0
        self._commit(base=base, description=_spec_name(spec), strength=strength)

    def _commit(self, base: torch.Tensor | None = None, **changes: Any) -> None:
        with self._lock:
            snap = self._snap
            self._base = base if base is not None else self._base
            intensity = changes.get("intensity", snap.intensity)
            self._snap = replace(snap, version=snap.version + 1, feature=self._scaled(self._base, intensity), **changes)
            logger.info("guidance: %s (strength %.2f, intensity %.2f%s)", self._snap.description,
                        self._snap.strength, self._snap.intensity, ", muted" if self._snap.muted else "")


def _spec(r: GuidanceRequest) -> GuidanceSpec:
    """The GuidanceSpec a label, description or photo request asks for."""
    if r.kind == "emotion":
        return GuidanceSpec(label=r.value, strength=r.strength)
    return GuidanceSpec(text=r.value) if r.kind == "text" else GuidanceSpec(image=r.value)


def _spec_name(spec: GuidanceSpec) -> str:
    """"happy", "text: a tired smile", "image: face.png"."""
    if spec.label is not None:
        return EMOTIONS[spec.label]
    return f"text: {spec.text}" if spec.text is not None else f"image: {Path(spec.image).name}"


class ControlInbox:
    """The door a part built before the guidance state (a network source: it exists before the
    model loads) posts control requests through; until `connect()`, they are refused."""

    def __init__(self, rules: DecodeRules) -> None:
        self.rules = rules  # what a client may ask for
        self._state: GuidanceState | None = None

    def connect(self, state: GuidanceState) -> None:
        self._state = state

    def post(self, request: GuidanceRequest) -> None:
        if self._state is None:
            raise MedtalkError("this daemon takes no guidance changes yet")
        self._state.post(request)
