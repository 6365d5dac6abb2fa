"""The control language, spelled once: one small dataclass per message that owns its address,
its arguments, their checks and its encoding (docs/PROTOCOL.md, section 2).

Every path that speaks it uses this table: the OSC control server and a network stream's JSON
control messages decode with `decode()`, `medtalk send` encodes with the messages' `encode()`,
and the hotkeys post the same `GuidanceRequest`s. Nothing here imports torch or opens a socket.

A decoded message becomes a `GuidanceRequest` (a checked change of the guidance, applied by the
daemon's GuidanceState) or the `StatusQuery`; anything wrong raises MedtalkError with the reason
the sender is told.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.errors import MedtalkError
from medtalk_core.image_files import check_image_file
from medtalk_core.rig import emotion_id

MAX_INTENSITY = 2.0  # the intensity scale: 0 = neutral, 1 = as predicted, 2 = double
MAX_STRENGTH = 10.0  # of an emotion label
MAX_STRING_BYTES = 2048  # longer strings are rejected

STATUS_REPLY = "/medtalk/status/reply"  # <json:s>: the answer to /medtalk/status, to its sender
ACK = "/medtalk/ack"  # <address:s> <ok:i 1|0> <reason:s>: to the sender of every other decoded message

RequestKind = Literal["emotion", "text", "image", "intensity", "nudge", "mute", "toggle_mute", "gaze", "head_eyes"]
GAZE_RANGE_DEG = (35.0, 25.0)  # |yaw|, |pitch| of a gaze target: the eyes' comfortable range


@dataclass(frozen=True)
class GuidanceRequest:
    """One checked change of the guidance, not yet turned into a feature."""

    kind: RequestKind
    value: Any = None  # emotion id | description | image path | intensity | intensity delta | mute flag |
    #                    gaze (yaw, pitch) degrees | head-and-eyes flag
    strength: float = 1.0  # of an emotion label


class StatusQuery:
    """The decoded `/medtalk/status` message: answered by the server, changes nothing."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StatusQuery)

    def __hash__(self) -> int:
        return hash(StatusQuery)


# --- checks of what a sender gave ---------------------------------------------------------------
def check_strength(strength: Any) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= MAX_STRENGTH:
        raise MedtalkError(f"strength must be a number in 0..{MAX_STRENGTH:g}, got {strength!r}")
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


def _count(args: tuple, least: int, most: int) -> tuple:
    if not least <= len(args) <= most:
        want = str(least) if least == most else f"{least} to {most}"
        raise MedtalkError(f"takes {want} argument{'s' if most != 1 else ''}, got {len(args)}")
    return args


def _one_string(args: tuple, what: str, rules: DecodeRules) -> str:
    (text,) = _count(args, 1, 1)
    return check_string(what, text, rules.max_string_bytes)


# --- the messages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeRules:
    """What a decoder allows: string length, and where image guidance may be read (None: anywhere
    the caller can read, for local callers; a client's requests always get folders)."""

    max_string_bytes: int = MAX_STRING_BYTES
    image_folders: AllowedFolders | None = None


class ControlMessage:
    """Base of the messages: `ADDRESS`, `NAME` (the `medtalk send` word), `decode(args)` -> the
    request, `args()` -> the OSC arguments with their type tags, `encode()` -> the datagram."""

    ADDRESS: ClassVar[str]
    NAME: ClassVar[str]

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest | StatusQuery:
        raise NotImplementedError

    def args(self) -> list[tuple[Any, str]]:
        return []

    def encode(self) -> bytes:
        return _builder(self).build().dgram


@dataclass(frozen=True)
class Emotion(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/emotion"
    NAME: ClassVar[str] = "emotion"
    label: str | int  # name, 3-letter prefix or id 0-6
    strength: float | None = None  # 0..10, default 1

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        label, *rest = _count(args, 1, 2)
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise MedtalkError(f"emotion label must be a name or an id, got {type(label).__name__}")
        if isinstance(label, str):
            label = check_string("emotion label", label, rules.max_string_bytes)
        return GuidanceRequest("emotion", emotion_id(label), check_strength(rest[0] if rest else 1.0))

    def args(self) -> list[tuple[Any, str]]:
        label = int(self.label) if isinstance(self.label, str) and self.label.isdigit() else self.label
        out = [(label, OscMessageBuilder.ARG_TYPE_INT if isinstance(label, int) else OscMessageBuilder.ARG_TYPE_STRING)]
        if self.strength is not None:
            out.append((float(self.strength), OscMessageBuilder.ARG_TYPE_FLOAT))
        return out


@dataclass(frozen=True)
class Text(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/guidance/text"
    NAME: ClassVar[str] = "text"
    description: str  # e.g. "a tired, reluctant smile"

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        return GuidanceRequest("text", _one_string(args, "guidance text", rules))

    def args(self) -> list[tuple[Any, str]]:
        return [(self.description, OscMessageBuilder.ARG_TYPE_STRING)]


@dataclass(frozen=True)
class Image(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/guidance/image"
    NAME: ClassVar[str] = "image"
    path: str  # a reference face picture on the daemon's disk

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        text = _one_string(args, "image path", rules)
        if rules.image_folders is None:  # a local caller (the Python API): any path it can read
            file = Path(text).expanduser()
        else:  # from a client: only under the allowed folders, and `~` is not the daemon's home
            file = rules.image_folders.resolve(text, what="image path")
        if not file.is_file():
            raise MedtalkError(f"image file not found: {text if rules.image_folders is not None else file}")
        check_image_file(file)
        return GuidanceRequest("image", str(file))

    def args(self) -> list[tuple[Any, str]]:
        return [(self.path, OscMessageBuilder.ARG_TYPE_STRING)]


@dataclass(frozen=True)
class Intensity(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/intensity"
    NAME: ClassVar[str] = "intensity"
    scale: float  # 0 = neutral .. 1 = as predicted .. 2

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        (scale,) = _count(args, 1, 1)
        return GuidanceRequest("intensity", check_intensity(scale))

    def args(self) -> list[tuple[Any, str]]:
        return [(float(self.scale), OscMessageBuilder.ARG_TYPE_FLOAT)]


@dataclass(frozen=True)
class Mute(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/mute"
    NAME: ClassVar[str] = "mute"
    muted: bool  # True = ignore the input (idle face)

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        (muted,) = _count(args, 1, 1)
        return GuidanceRequest("mute", _flag(muted, "mute"))

    def args(self) -> list[tuple[Any, str]]:
        return [(int(self.muted), OscMessageBuilder.ARG_TYPE_INT)]


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise MedtalkError(f"{what} takes 0 or 1, got {value!r}")


@dataclass(frozen=True)
class Gaze(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/gaze"
    NAME: ClassVar[str] = "gaze"
    yaw: float  # degrees, positive toward the character's left; 0 0 = at the camera
    pitch: float  # degrees, positive up

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        angles = _count(args, 2, 2)
        for value, limit, what in zip(angles, GAZE_RANGE_DEG, ("yaw", "pitch")):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
                raise MedtalkError(f"gaze {what} must be a number in -{limit:g}..{limit:g} degrees, got {value!r}")
        return GuidanceRequest("gaze", (float(angles[0]), float(angles[1])))

    def args(self) -> list[tuple[Any, str]]:
        return [(float(self.yaw), OscMessageBuilder.ARG_TYPE_FLOAT), (float(self.pitch), OscMessageBuilder.ARG_TYPE_FLOAT)]


@dataclass(frozen=True)
class HeadEyesSwitch(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/head_eyes"
    NAME: ClassVar[str] = "head-eyes"
    on: bool  # False: the head stays still and the eyes follow the gaze controls only

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> GuidanceRequest:
        (on,) = _count(args, 1, 1)
        return GuidanceRequest("head_eyes", _flag(on, "head_eyes"))

    def args(self) -> list[tuple[Any, str]]:
        return [(int(self.on), OscMessageBuilder.ARG_TYPE_INT)]


@dataclass(frozen=True)
class Status(ControlMessage):
    ADDRESS: ClassVar[str] = "/medtalk/status"
    NAME: ClassVar[str] = "status"

    @classmethod
    def decode(cls, args: tuple, rules: DecodeRules) -> StatusQuery:
        _count(args, 0, 0)
        return StatusQuery()


def _builder(message: ControlMessage) -> OscMessageBuilder:
    b = OscMessageBuilder(message.ADDRESS)
    for value, tag in message.args():
        b.add_arg(value, tag)
    return b


MESSAGES: tuple[type[ControlMessage], ...] = (Emotion, Text, Image, Intensity, Mute, Gaze, HeadEyesSwitch, Status)
BY_ADDRESS: dict[str, type[ControlMessage]] = {m.ADDRESS: m for m in MESSAGES}
BY_NAME: dict[str, type[ControlMessage]] = {m.NAME: m for m in MESSAGES}
STATUS = Status.ADDRESS
# Every change of the guidance replaces the one before: over the rate limit only the newest of
# each matters (a fader moved fast, a burst of descriptions), and it is held back, never dropped.
LATEST_WINS = tuple(m.ADDRESS for m in MESSAGES if m is not Status)


def decode(address: str, args: tuple, rules: DecodeRules = DecodeRules()) -> GuidanceRequest | StatusQuery:
    """One message -> what it asks for; MedtalkError (with the reason) when it is bad."""
    message = BY_ADDRESS.get(address)
    if message is None:
        raise MedtalkError(f"unknown address {address[:100]}")
    return message.decode(tuple(args), rules)


def emotion_request(label: Any, strength: Any = 1.0, rules: DecodeRules = DecodeRules()) -> GuidanceRequest:
    return Emotion.decode((label, strength), rules)


def text_request(description: Any, rules: DecodeRules = DecodeRules()) -> GuidanceRequest:
    return Text.decode((description,), rules)


def image_request(path: Any, rules: DecodeRules = DecodeRules()) -> GuidanceRequest:
    return Image.decode((path,), rules)


def intensity_request(scale: Any) -> GuidanceRequest:
    return Intensity.decode((scale,), DecodeRules())


# --- JSON control (a network stream's text messages, the panel's) -------------------------------
def read_json(text: str, what: str, error: type[MedtalkError] = MedtalkError) -> Any:
    """JSON from a client, with one line for anything that is not (nesting too deep included:
    the parser recurses, and a 1000-deep array raises RecursionError, not ValueError)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise error(f"{what} is not JSON: {exc}") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply") from None


def decode_json(text: str, rules: DecodeRules) -> GuidanceRequest | StatusQuery:
    """`{"control": "/medtalk/emotion", "args": ["happy", 0.8]}` -> what it asks for: the OSC
    address space and checks of `decode`; MedtalkError with the reason."""
    obj = read_json(text, "control message")
    if not isinstance(obj, dict) or set(obj) - {"control", "args"} or not isinstance(obj.get("control"), str):
        raise MedtalkError('control message must be {"control": ADDRESS, "args": [...]}')
    args = obj.get("args", [])
    if not isinstance(args, list):
        raise MedtalkError("control args must be a list")
    return decode(obj["control"], tuple(args), rules)


# --- the token ------------------------------------------------------------------------------------
# A daemon that asks for a token (livelink_bridge.access) takes only datagrams that are a bundle
# whose first message is `/medtalk/auth <token:s>`; the messages after it are the requests.
AUTH = "/medtalk/auth"


def with_token(message: ControlMessage, token: str | None) -> bytes:
    """The datagram of `message`, in a bundle behind `/medtalk/auth` when a token is given."""
    if token is None:
        return message.encode()
    auth = OscMessageBuilder(AUTH)
    auth.add_arg(token, OscMessageBuilder.ARG_TYPE_STRING)
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(auth.build())
    bundle.add_content(_builder(message).build())
    return bundle.build().dgram
