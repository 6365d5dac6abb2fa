"""OscFrameTransport against a real python-osc UDP server on 127.0.0.1."""

from __future__ import annotations

import queue
import struct
import threading

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import ThreadingOSCUDPServer

from livelink_bridge.frames import RigFrame
from livelink_bridge.transports import Transport
from livelink_bridge.transports.osc_frames import (
    MAX_NAMES_PACKET,
    OscFrameTransport,
    names_crc32,
)
from medtalk_core import rig
from medtalk_core.curve_sets import board_curve_names
from medtalk_core.errors import ConfigError
from medtalk_core.expressions import board_to_expressions, expression_names

TIMEOUT_S = 5.0


class _RecordingDispatcher(Dispatcher):
    """Records every datagram's size and every decoded message, in arrival order."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: "queue.Queue[int]" = queue.Queue()
        self.messages: "queue.Queue[tuple[str, list]]" = queue.Queue()
        self.set_default_handler(lambda address, *args: self.messages.put((address, list(args))))

    def call_handlers_for_packet(self, data, client_address):  # python-osc's hook per datagram
        self.sizes.put(len(data))
        return super().call_handlers_for_packet(data, client_address)


@pytest.fixture
def server():
    dispatcher = _RecordingDispatcher()
    srv = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv, dispatcher
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _take(dispatcher: _RecordingDispatcher, n: int) -> list[tuple[str, list]]:
    return [dispatcher.messages.get(timeout=TIMEOUT_S) for _ in range(n)]


def _frames(n: int, seed: int = 0) -> list[RigFrame]:
    rng = np.random.default_rng(seed)
    low, high = rig.valid_ranges()
    values = rng.uniform(low, high, size=(n, rig.NUM_CONTROLS)).astype(np.float32)
    return [RigFrame(index=i, capture_time=1_700_000_000.0 + i / 60 + 1e-7, values=values[i]) for i in range(n)]


def _assemble(messages: list[tuple[str, list]]) -> list[str]:
    """A receiver's names assembly, from the documented chunk header."""
    version, _, count, _, total, crc = messages[0][1][:6]
    assert version == 1
    names: list[str | None] = [None] * total
    assert len(messages) == count
    for index, (_, args) in enumerate(sorted(messages, key=lambda m: m[1][1])):
        assert args[1] == index and args[2] == count and args[4] == total and args[5] == crc
        first = args[3]
        names[first:first + len(args) - 6] = args[6:]
    assert None not in names
    assert names_crc32(tuple(names)) == crc
    return names


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("curve_set, face_board", [("board", "classic"), ("expressions", "classic"),
                                                   ("expressions", "mh4")])
def test_names_then_frames_float32_exact(server, curve_set, face_board):
    srv, dispatcher = server
    port = srv.server_address[1]
    frames = _frames(5)
    with OscFrameTransport("127.0.0.1", port, subject="Ada", curve_set=curve_set, face_board=face_board) as tx:
        assert isinstance(tx, Transport)
        n_packets = len(tx.names_packets())
        assert n_packets >= 2  # long lists really are chunked
        for frame in frames:
            tx.send_frame(frame)
        received = _take(dispatcher, n_packets + len(frames))
    sizes = [dispatcher.sizes.get(timeout=TIMEOUT_S) for _ in range(n_packets)]
    assert all(size < MAX_NAMES_PACKET for size in sizes)

    names_msgs, frame_msgs = received[:n_packets], received[n_packets:]
    assert all(address == "/medtalk/Ada/names" for address, _ in names_msgs)
    expected_names = list(board_curve_names() if curve_set == "board" else expression_names(face_board))
    assert _assemble(names_msgs) == expected_names
    assert len(set(expected_names)) == len(expected_names)

    for frame, (address, args) in zip(frames, frame_msgs):
        assert address == "/medtalk/Ada/frame"
        assert args[0] == frame.index
        assert args[1] == frame.capture_time  # float64 survives exactly, 0.1 microsecond included
        expected = frame.values if curve_set == "board" else board_to_expressions(frame.values, face_board)
        got = np.array(args[2:], dtype=np.float32)
        assert got.shape == (len(expected_names),)
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_frame_datagram_layout_is_int32_float64_float32():
    tx = OscFrameTransport("127.0.0.1", 9000, subject="S", curve_set="board")
    frame = _frames(1)[0]
    dgram = tx.encode_frame(frame)
    tags = ",id" + "f" * rig.NUM_CONTROLS
    tag_bytes = (len(tags) // 4 + 1) * 4
    head = len(b"/medtalk/S/frame") // 4 * 4 + 4
    assert dgram[head:head + len(tags)].decode() == tags
    body = dgram[head + tag_bytes:]
    index, when = struct.unpack(">id", body[:12])
    assert (index, when) == (0, frame.capture_time)
    values = np.frombuffer(body[12:], dtype=">f4")
    assert np.array_equal(values.astype(np.float32), frame.values)


@pytest.mark.parametrize("curve_set", ["board", "expressions"])
def test_frame_datagram_is_byte_identical_to_python_osc(curve_set):
    """Our packed encoder against python-osc's builder, argument by argument (the reference)."""
    tx = OscFrameTransport("127.0.0.1", 9000, subject="Ada_2", curve_set=curve_set)
    for frame in _frames(3) + [RigFrame(index=(1 << 31) + 5, capture_time=1.5e9 + 0.123,
                                        values=np.linspace(-1, 1, rig.NUM_CONTROLS, dtype=np.float32))]:
        builder = OscMessageBuilder("/medtalk/Ada_2/frame")
        builder.add_arg(frame.index % (1 << 31), OscMessageBuilder.ARG_TYPE_INT)
        builder.add_arg(frame.capture_time, OscMessageBuilder.ARG_TYPE_DOUBLE)
        curves = frame.values if curve_set == "board" else board_to_expressions(frame.values, tx.face_board)
        for value in np.asarray(curves, np.float32).tolist():
            builder.add_arg(value, OscMessageBuilder.ARG_TYPE_FLOAT)
        assert tx.encode_frame(frame) == builder.build().dgram


def test_names_resent_every_interval(server):
    srv, dispatcher = server
    clock = FakeClock()
    frames = _frames(4)
    with OscFrameTransport("127.0.0.1", srv.server_address[1], curve_set="board", clock=clock) as tx:
        n_packets = len(tx.names_packets())
        tx.send_frame(frames[0])  # opens: names, then the frame
        clock.now += 0.5
        tx.send_frame(frames[1])  # within the second: frame only
        clock.now += 0.6
        tx.send_frame(frames[2])  # a second after the last names: names again, then the frame
        tx.send_frame(frames[3])
        received = _take(dispatcher, 2 * n_packets + 4)
    kinds = [address.rsplit("/", 1)[1] for address, _ in received]
    assert kinds == ["names"] * n_packets + ["frame", "frame"] + ["names"] * n_packets + ["frame", "frame"]


def test_no_io_before_open_and_idempotent_close():
    tx = OscFrameTransport("no-such-host.invalid", 9000)  # constructor must not resolve or bind
    assert tx._sock is None
    tx.close()
    tx.close()
    with pytest.raises(ConfigError, match="cannot resolve"):
        tx.open()


@pytest.mark.parametrize("kwargs, match", [
    ({"subject": "a/b"}, "subject"),
    ({"subject": ""}, "subject"),
    ({"port": 0}, "port"),
    ({"curve_set": "arkit"}, "curve set"),
])
def test_bad_settings_are_user_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OscFrameTransport(**kwargs)


def test_board_names_unique_and_expressions_in_range():
    names = board_curve_names()
    assert len(names) == rig.NUM_CONTROLS == len(set(names))
    assert names[27] == "CTRL_C_tongue_tip-translateX_2"
    low, high = rig.valid_ranges()
    extremes = np.stack([low, high, np.zeros_like(low)])  # (3, 174)
    curves = board_to_expressions(extremes)
    assert curves.shape == (3, len(expression_names()))
    assert curves.min() >= 0.0 and curves.max() <= 1.0
    assert not curves[2].any()  # the neutral board gives all-zero curves


def test_rotations_follow_the_curves_with_live_link_faces_names_and_unit(server):
    from livelink_bridge.transports.livelink_face import board_to_arkit
    from medtalk_core.rotation_curves import ROTATION_NAMES

    srv, dispatcher = server
    frames = _frames(3)
    moved = RigFrame(frames[1].index, frames[1].capture_time, frames[1].values,
                     head_eyes=np.array([9.0, 4.5, -1.8, 3.6, 1.8, 0.0], np.float32))
    with OscFrameTransport("127.0.0.1", srv.server_address[1], subject="Ada", curve_set="board", rotations=True) as tx:
        n_packets = len(tx.names_packets())
        for frame in (frames[0], moved, frames[2]):  # the last one is a stand-in: no head of its own
            tx.send_frame(frame)
        received = _take(dispatcher, n_packets + 3)
    assert _assemble(received[:n_packets]) == list(board_curve_names()) + list(ROTATION_NAMES)
    rotations = [np.array(args[2:], np.float32)[rig.NUM_CONTROLS:] for _, args in received[n_packets:]]
    assert np.allclose(rotations[0], board_to_arkit(frames[0].values)[-9:])
    assert np.allclose(rotations[1][:3], [9.0 / 180, -4.5 / 180, -1.8 / 180])
    assert np.allclose(rotations[2][:3], rotations[1][:3])  # the stand-in holds the head where it was
