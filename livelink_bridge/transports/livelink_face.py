"""Live Link Face packets (the iPhone app's protocol, version 6) for a stock MetaHuman, no plugin.

Unreal's AppleARKit Live Link source (FAppleARKitLiveLinkRemoteListener) reads each UDP
datagram in network byte order (big-endian, FNboSerializer):

    uint8   packet version                     6
    int32   device id length n, then n bytes    UTF-8, no terminator
    int32   subject name length m, then m bytes UTF-8, no terminator
    int32   frame number                        FQualifiedFrameTime.Time.FrameNumber
    float32 sub-frame                           FQualifiedFrameTime.Time.SubFrame, in [0, 1)
    int32   frame rate numerator                60
    int32   frame rate denominator              1
    uint8   blend shape count                   61 (EARFaceBlendShape::MAX)
    float32 x 61                                the values, in EARFaceBlendShape order

The 61 values are the 52 ARKit blendshapes in Apple's order, then head yaw/pitch/roll, left eye
yaw/pitch/roll, right eye yaw/pitch/roll. Rotations are in the engine's unit, degrees / 180
(-1..1): its ARKit conversion (AppleARKitFaceMeshConversion.h ToBlendShapeMap, "Map the
-180..180 range to -1..1") divides each FRotator angle by 180 before sending, and the listener
passes the floats through unchanged. The frame time is the time of day of the frame's audio
capture as a 60 fps timecode frame number (what the app sends), so several senders line up in
Take Recorder.

The device id tells senders apart: Unreal keys each sender's static data by it and, when a
device's subject name changes, removes the old subject (FAppleARKitLiveLinkSource::
PublishBlendShapes). Two daemons sharing one id would make their subjects replace each other on
every packet, so each transport makes its own id (a UUID) unless one is given.
"""

from __future__ import annotations

import datetime
import logging
import struct
import uuid
from dataclasses import dataclass

import numpy as np

from livelink_bridge.frames import HeadEyesHold, RigFrame
from livelink_bridge.transports.udp import UdpSender
from medtalk_core.audio import FPS
from medtalk_core.errors import ConfigError
from medtalk_core.rig import NUM_CONTROLS, controller_names
from medtalk_core.rotation_curves import ROTATION_NAMES, rotation_curves

logger = logging.getLogger(__name__)

PACKET_VERSION = 6

ARKIT_NAMES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward", "JawLeft",
    "JawRight", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft", "MouthRight",
    "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft",
    "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight", "MouthRollLower", "MouthRollUpper",
    "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft",
    "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight",
    "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
) + ROTATION_NAMES
NUM_BLENDSHAPES = 52
NUM_VALUES = len(ARKIT_NAMES)  # 61

# --- The 174 -> 52 ARKit mapping ----------------------------------------------------------------
# shape: [(board control without "CTRL_" and "-translateY", side, weight), ...]
#   side "+" uses max(x, 0), side "-" uses max(-x, 0); the weighted sum is clipped to [0, 1].
# Signs are Epic's board wiring (medtalk_core/assets/face_boards/classic.csv; a test checks
# each shape fires with its MetaHuman counterpart): +Y of an eye control looks up; +X of the eye
# controls looks toward the character's left for both eyes (the board is not mirrored); +X of
# C_mouth is mouthLeft but +X of C_jaw is jawRight; -Y of jaw_fwdBack is jawFwd; -Y of
# tongue_inOut is tongueOut; +Y of a blink closes the lid, -Y widens it, and -Y of eyelidU
# raises the upper lid (eyeUpperLidUp); +Y of suckBlow blows the cheeks out. Pairs of
# upper/lower lip controls (U/D) are averaged: ARKit has one shape where the board has two.
_X = "-translateX"
ARKIT_FROM_BOARD: dict[str, tuple[tuple[str, str, float], ...]] = {
    "EyeBlinkLeft": (("L_eye_blink", "+", 1.0),),
    "EyeLookDownLeft": (("L_eye", "-", 1.0), ("C_eye", "-", 1.0)),
    "EyeLookInLeft": (("L_eye" + _X, "-", 1.0), ("C_eye" + _X, "-", 1.0)),
    "EyeLookOutLeft": (("L_eye" + _X, "+", 1.0), ("C_eye" + _X, "+", 1.0)),
    "EyeLookUpLeft": (("L_eye", "+", 1.0), ("C_eye", "+", 1.0)),
    "EyeSquintLeft": (("L_eye_squintInner", "+", 1.0), ("L_eye_lidPress", "+", 0.5)),
    "EyeWideLeft": (("L_eye_blink", "-", 1.0), ("L_eye_eyelidU", "-", 1.0)),
    "EyeBlinkRight": (("R_eye_blink", "+", 1.0),),
    "EyeLookDownRight": (("R_eye", "-", 1.0), ("C_eye", "-", 1.0)),
    "EyeLookInRight": (("R_eye" + _X, "+", 1.0), ("C_eye" + _X, "+", 1.0)),
    "EyeLookOutRight": (("R_eye" + _X, "-", 1.0), ("C_eye" + _X, "-", 1.0)),
    "EyeLookUpRight": (("R_eye", "+", 1.0), ("C_eye", "+", 1.0)),
    "EyeSquintRight": (("R_eye_squintInner", "+", 1.0), ("R_eye_lidPress", "+", 0.5)),
    "EyeWideRight": (("R_eye_blink", "-", 1.0), ("R_eye_eyelidU", "-", 1.0)),
    "JawForward": (("C_jaw_fwdBack", "-", 1.0),),
    "JawLeft": (("C_jaw" + _X, "-", 1.0),),
    "JawRight": (("C_jaw" + _X, "+", 1.0),),
    "JawOpen": (("C_jaw", "+", 1.0), ("C_jaw_openExtreme", "+", 0.3)),
    "MouthClose": (("L_mouth_lipsTogetherU", "+", 0.25), ("L_mouth_lipsTogetherD", "+", 0.25),
                   ("R_mouth_lipsTogetherU", "+", 0.25), ("R_mouth_lipsTogetherD", "+", 0.25)),
    "MouthFunnel": (("L_mouth_funnelU", "+", 0.25), ("L_mouth_funnelD", "+", 0.25),
                    ("R_mouth_funnelU", "+", 0.25), ("R_mouth_funnelD", "+", 0.25)),
    "MouthPucker": (("L_mouth_purseU", "+", 0.25), ("L_mouth_purseD", "+", 0.25),
                    ("R_mouth_purseU", "+", 0.25), ("R_mouth_purseD", "+", 0.25)),
    "MouthLeft": (("C_mouth" + _X, "+", 1.0),),
    "MouthRight": (("C_mouth" + _X, "-", 1.0),),
    "MouthSmileLeft": (("L_mouth_cornerPull", "+", 1.0), ("L_mouth_sharpCornerPull", "+", 0.3)),
    "MouthSmileRight": (("R_mouth_cornerPull", "+", 1.0), ("R_mouth_sharpCornerPull", "+", 0.3)),
    "MouthFrownLeft": (("L_mouth_cornerDepress", "+", 1.0),),
    "MouthFrownRight": (("R_mouth_cornerDepress", "+", 1.0),),
    "MouthDimpleLeft": (("L_mouth_dimple", "+", 1.0),),
    "MouthDimpleRight": (("R_mouth_dimple", "+", 1.0),),
    "MouthStretchLeft": (("L_mouth_stretch", "+", 1.0),),
    "MouthStretchRight": (("R_mouth_stretch", "+", 1.0),),
    "MouthRollLower": (("L_mouth_lipsRollD", "+", 0.5), ("R_mouth_lipsRollD", "+", 0.5)),
    "MouthRollUpper": (("L_mouth_lipsRollU", "+", 0.5), ("R_mouth_lipsRollU", "+", 0.5)),
    "MouthShrugLower": (("L_jaw_ChinRaiseD", "+", 0.5), ("R_jaw_ChinRaiseD", "+", 0.5)),
    "MouthShrugUpper": (("L_jaw_ChinRaiseU", "+", 0.5), ("R_jaw_ChinRaiseU", "+", 0.5)),
    "MouthPressLeft": (("L_mouth_pressU", "+", 0.5), ("L_mouth_pressD", "+", 0.5)),
    "MouthPressRight": (("R_mouth_pressU", "+", 0.5), ("R_mouth_pressD", "+", 0.5)),
    "MouthLowerDownLeft": (("L_mouth_lowerLipDepress", "+", 1.0),),
    "MouthLowerDownRight": (("R_mouth_lowerLipDepress", "+", 1.0),),
    "MouthUpperUpLeft": (("L_mouth_upperLipRaise", "+", 1.0),),
    "MouthUpperUpRight": (("R_mouth_upperLipRaise", "+", 1.0),),
    "BrowDownLeft": (("L_brow_down", "+", 1.0), ("L_brow_lateral", "+", 0.3)),
    "BrowDownRight": (("R_brow_down", "+", 1.0), ("R_brow_lateral", "+", 0.3)),
    "BrowInnerUp": (("L_brow_raiseIn", "+", 0.5), ("R_brow_raiseIn", "+", 0.5)),
    "BrowOuterUpLeft": (("L_brow_raiseOut", "+", 1.0),),
    "BrowOuterUpRight": (("R_brow_raiseOut", "+", 1.0),),
    "CheekPuff": (("L_mouth_suckBlow", "+", 0.5), ("R_mouth_suckBlow", "+", 0.5)),
    "CheekSquintLeft": (("L_eye_cheekRaise", "+", 1.0),),
    "CheekSquintRight": (("R_eye_cheekRaise", "+", 1.0),),
    "NoseSneerLeft": (("L_nose_wrinkleUpper", "+", 1.0), ("L_nose", "+", 0.5)),
    "NoseSneerRight": (("R_nose_wrinkleUpper", "+", 1.0), ("R_nose", "+", 0.5)),
    "TongueOut": (("C_tongue_inOut", "-", 1.0),),
}


def _control_index(control: str) -> int:
    name = "CTRL_" + control if control.endswith(_X) else f"CTRL_{control}-translateY"
    return controller_names().index(name)


def _mapping_matrices() -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) weights, each (52, 174): arkit = clip(P @ relu(x) + N @ relu(-x), 0, 1)."""
    pos = np.zeros((NUM_BLENDSHAPES, NUM_CONTROLS), np.float32)
    neg = np.zeros((NUM_BLENDSHAPES, NUM_CONTROLS), np.float32)
    for row, shape in enumerate(ARKIT_NAMES[:NUM_BLENDSHAPES]):
        for control, side, weight in ARKIT_FROM_BOARD[shape]:
            (pos if side == "+" else neg)[row, _control_index(control)] += weight
    return pos, neg


_POS, _NEG = _mapping_matrices()


def board_to_arkit(values: np.ndarray, head_eyes: np.ndarray | None = None) -> np.ndarray:
    """(174,) board controls (and the frame's head_eyes, medtalk_core.head_eyes.COLUMNS in
    degrees) -> (61,) Live Link Face values: 52 blendshapes, then the nine rotation curves
    (medtalk_core.rotation_curves: the gaze controls, head rotation and saccades). The
    generator's extra blinks are not added: the face's idle motion blinks already (both together
    would double the rate)."""
    x = np.asarray(values, dtype=np.float32)
    out = np.zeros(NUM_VALUES, np.float32)
    out[:NUM_BLENDSHAPES] = np.clip(_POS @ np.maximum(x, 0) + _NEG @ np.maximum(-x, 0), 0.0, 1.0)
    out[NUM_BLENDSHAPES:] = rotation_curves(x[None], None if head_eyes is None else head_eyes[None])[0]
    return out


def frame_time(capture_time: float) -> tuple[int, float]:
    """time.time() -> (60 fps frame number since local midnight, sub-frame in [0, 1))."""
    moment = datetime.datetime.fromtimestamp(capture_time)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    frames = (moment - midnight).total_seconds() * FPS
    whole = int(frames)
    return whole, frames - whole


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def encode_packet(values61: np.ndarray, subject: str, device_id: str, frame_number: int,
                  sub_frame: float, fps: int = FPS) -> bytes:
    """One Live Link Face v6 datagram (layout in the module docstring)."""
    values = np.asarray(values61, dtype=">f4")
    if values.shape != (NUM_VALUES,):
        raise ValueError(f"Live Link Face needs {NUM_VALUES} values, got {values.shape}")
    header = struct.pack(">B", PACKET_VERSION) + _string(device_id) + _string(subject)
    time_part = struct.pack(">ifii", int(frame_number), float(sub_frame), int(fps), 1)
    return header + time_part + struct.pack(">B", NUM_VALUES) + values.tobytes()


@dataclass(frozen=True)
class LiveLinkFaceConfig:
    """Live Link Face (ARKit) packets, for a stock MetaHuman with no plugin."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 11111
    subject: str = "MEDTalk"  # subject name shown in Unreal's Live Link window
    device_id: str | None = None  # tells senders apart in Unreal; None = a new UUID each run


class LiveLinkFaceTransport(UdpSender):
    """Sends each RigFrame as one Live Link Face packet. No I/O until the first frame."""

    def __init__(self, host: str = LiveLinkFaceConfig.host, port: int = LiveLinkFaceConfig.port,
                 subject: str = LiveLinkFaceConfig.subject, device_id: str | None = None) -> None:
        super().__init__(host, port, "Live Link Face")
        device_id = device_id or f"medtalk-{uuid.uuid4()}"  # one per instance, see the module docstring
        if not subject or len(subject.encode("utf-8")) > 255 or len(device_id.encode("utf-8")) > 255:
            raise ConfigError("Live Link Face subject and device id must be 1..255 bytes")
        self.subject, self.device_id = subject, device_id
        self._held = HeadEyesHold()

    def _opened(self) -> None:
        logger.info("Live Link Face -> %s:%d subject %s device %s", self.host, self.port, self.subject,
                    self.device_id)

    def send_frame(self, frame: RigFrame) -> None:
        if not self.is_open:
            self.open()
        number, sub = frame_time(frame.capture_time)
        self._send_datagram(encode_packet(board_to_arkit(frame.values, self._held.of(frame)), self.subject,
                                          self.device_id, number, sub))
        self.frames_sent += 1
