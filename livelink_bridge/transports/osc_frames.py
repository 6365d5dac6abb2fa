"""Rig frames over OSC/UDP to our Unreal plugin (wire protocol version 1).

Per frame, one OSC message (never bundled, so one UDP datagram per frame):
    /medtalk/<subject>/frame   i frame_number, d capture_time (float64 seconds), f x N curves
Curve names, at start and again every `names_interval_s`, as one or more datagrams:
    /medtalk/<subject>/names   i version (1), i chunk_index, i chunk_count, i first_index,
                               i total_names, i names_crc32, s name x n
Each names datagram stays below `MAX_NAMES_PACKET` bytes. A receiver keeps chunks whose
(total_names, names_crc32) agree, places chunk k's names at first_index.., and has the full
list once all chunk_count chunks are in; the CRC-32 (of the names joined by '\\n', UTF-8, as
a signed int32) tells it when the list changed. A frame's N must equal total_names.
"""

from __future__ import annotations

import logging
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder

from livelink_bridge.frames import HeadEyesHold, RigFrame
from livelink_bridge.transports.udp import UdpSender
from medtalk_core.curve_sets import CurveSet, check_curve_set, curve_names, to_curves
from medtalk_core.errors import ConfigError
from medtalk_core.expressions import DEFAULT_FACE_BOARD
from medtalk_core.rotation_curves import ROTATION_NAMES

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_NAMES_PACKET = 1400  # bytes; stays under a 1500-byte Ethernet MTU with IP/UDP headers


def names_crc32(names: tuple[str, ...]) -> int:
    """CRC-32 of the names joined by newlines, as a signed int32 (OSC `i`)."""
    crc = zlib.crc32("\n".join(names).encode("utf-8"))
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def _padded_len(text: str) -> int:
    """Bytes an OSC string takes: UTF-8, at least one NUL, padded to a multiple of 4."""
    return (len(text.encode("utf-8")) // 4 + 1) * 4


def _osc_head(address: str, type_tags: str) -> bytes:
    """An OSC message's address and type-tag strings, each NUL-terminated and padded to 4 bytes.
    The frame datagram is this head plus packed arguments: building it with python-osc, one
    argument at a time, took 0.5-6 ms of the sender thread per frame (GIL included), enough to
    send frames up to 6 ms after their deadline."""
    return b"".join(text.encode("ascii").ljust(_padded_len(text), b"\0") for text in (address, "," + type_tags))


def _validate_subject(subject: str) -> str:
    if not subject or not subject.isascii() or any(c in subject for c in "/ #*,?[]{}\t\n"):
        raise ConfigError(
            f"subject {subject!r} must be non-empty ASCII without spaces or OSC special characters (/#*,?[]{{}})"
        )
    return subject


@dataclass(frozen=True)
class OscTransportConfig:
    """OSC frames to our Unreal plugin (docs/PROTOCOL.md, section 1)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9000
    subject: str = "MEDTalk"  # Live Link subject name, part of the OSC address
    curve_set: CurveSet = "expressions"  # "expressions" (CTRL_expressions_* curves a MetaHuman face reads) | "board" (174 controls)
    face_board: str = DEFAULT_FACE_BOARD  # board whose wiring derives the expressions: "classic" | "mh4" (the newer MetaHuman board)
    # Also HeadYaw ... RightEyeRoll (Live Link Face's names and unit) after the curves: head motion
    # and saccades for an Anim Blueprint to apply. Off until that recipe is checked in an editor.
    rotations: bool = False


class OscFrameTransport(UdpSender):
    """Sends RigFrames to the MEDTalk Live Link plugin. No I/O until `open()` / first frame."""

    def __init__(
        self,
        host: str = OscTransportConfig.host,
        port: int = OscTransportConfig.port,
        subject: str = OscTransportConfig.subject,
        curve_set: CurveSet = OscTransportConfig.curve_set,
        face_board: str = OscTransportConfig.face_board,
        rotations: bool = OscTransportConfig.rotations,
        names_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host, port, "OSC frame")
        self.subject = _validate_subject(subject)
        self.curve_set = check_curve_set(curve_set)
        self.face_board = face_board  # whose wiring derives the expressions curves
        self.rotations = rotations
        self.names = curve_names(curve_set, face_board) + (ROTATION_NAMES if rotations else ())
        self._held = HeadEyesHold()
        self.names_interval_s = float(names_interval_s)  # re-send period for late receivers
        self._clock = clock
        self._frame_address = f"/medtalk/{subject}/frame"
        self._names_address = f"/medtalk/{subject}/names"
        self._last_names_at = -float("inf")
        self._names_packets: list[bytes] | None = None
        self._frame_head: tuple[bytes, int] | None = None  # (address + type tags, curves), built once

    def _opened(self) -> None:
        logger.info("OSC frames -> %s:%d subject %s (%s, %d curves)",
                    self.host, self.port, self.subject, self.curve_set, len(self.names))
        self.send_names()

    # --- sending ---
    def names_packets(self) -> list[bytes]:
        """The names datagrams, built once (the list never changes for a transport)."""
        if self._names_packets is None:
            self._names_packets = self._build_names_packets()
        return self._names_packets

    def send_names(self) -> None:
        for packet in self.names_packets():
            self._send_datagram(packet)
        self._last_names_at = self._clock()

    def send_frame(self, frame: RigFrame) -> None:
        if not self.is_open:
            self.open()
        if self._clock() - self._last_names_at >= self.names_interval_s:
            self.send_names()
        self._send_datagram(self.encode_frame(frame))
        self.frames_sent += 1

    def encode_frame(self, frame: RigFrame) -> bytes:
        values = to_curves(frame.values, self.curve_set, self.face_board)  # (N,)
        if self.rotations:  # the head and eyes, exactly as on the Live Link Face route
            values = np.concatenate([values, self._held.rotations(frame)])
        if self._frame_head is None or self._frame_head[1] != len(values):
            self._frame_head = (_osc_head(self._frame_address, "id" + "f" * len(values)), len(values))
        # Frame numbers wrap at 2^31 (about 414 days at 60 fps) to stay a valid int32.
        return (self._frame_head[0] + struct.pack(">id", int(frame.index) % (1 << 31), float(frame.capture_time))
                + np.asarray(values, dtype=">f4").tobytes())

    # --- internals ---
    def _build_names_packets(self) -> list[bytes]:
        # Fixed part: address, 6 int args (4 bytes each), type tags ',' + 'iiiiii' + one 's' per name.
        fixed = _padded_len(self._names_address) + 6 * 4
        chunks: list[list[str]] = [[]]
        for name in self.names:
            chunk = chunks[-1] + [name]
            size = fixed + _padded_len("," + "i" * 6 + "s" * len(chunk)) + sum(map(_padded_len, chunk))
            if size >= MAX_NAMES_PACKET and chunks[-1]:
                chunks.append([name])
            else:
                chunks[-1] = chunk
        crc = names_crc32(self.names)
        packets, first = [], 0
        for index, chunk in enumerate(chunks):
            builder = OscMessageBuilder(self._names_address)
            for value in (PROTOCOL_VERSION, index, len(chunks), first, len(self.names), crc):
                builder.add_arg(value, OscMessageBuilder.ARG_TYPE_INT)
            for name in chunk:
                builder.add_arg(name, OscMessageBuilder.ARG_TYPE_STRING)
            packet = builder.build().dgram
            if len(packet) >= MAX_NAMES_PACKET:
                raise ConfigError(f"curve name {chunk[0]!r} is too long for one OSC names packet")
            packets.append(packet)
            first += len(chunk)
        return packets
