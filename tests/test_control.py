"""Control: GuidanceState, the OSC control server over real UDP (good and bad messages,
garbage, floods, status replies), hotkeys, and the `medtalk send` client."""

from __future__ import annotations

import argparse
import json
import contextlib
import socket
import threading
import time

import pytest
import torch
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from livelink_bridge.commands import send as send_cmd
from livelink_bridge.control.messages import DecodeRules
from livelink_bridge.control.wire import decode_datagram
from livelink_bridge.control.server import ControlConfig, STATUS_REPLY, ControlServer, decode
from livelink_bridge.control.state import GuidanceRequest, GuidanceState
from livelink_bridge.control.hotkeys import Hotkeys
from medtalk_core.errors import MedtalkError
from medtalk_core.guidance import strength_of
from udp_receivers import wait_for


@contextlib.contextmanager
def applying(state: GuidanceState):
    """What the daemon loop does: build the features of posted requests, on a thread of its own."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.005):
            state.apply_pending()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join()


@pytest.fixture
def server(animator):
    state = GuidanceState(animator, "neutral")
    srv = ControlServer(state, ControlConfig(port=0, max_messages_per_s=200, burst=400),
                        status=lambda: {"fps": 60.0}).start()
    with applying(state):
        yield srv
    srv.close()


def _msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def _send(srv, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, (srv.host, srv.port))


def _status(srv) -> dict:
    return send_cmd.request_status(srv.host, srv.port, timeout=3.0)


def test_emotion_intensity_mute_and_text_change_the_state(server, animator):
    state = server.state
    _send(server, _msg("/medtalk/emotion", "happy", 0.5))
    assert wait_for(lambda: state.snapshot().description == "happy")
    snap = state.snapshot()
    assert snap.strength == 0.5
    assert torch.allclose(snap.feature, animator.guidance("happy", strength=0.5), atol=1e-6)
    _send(server, _msg("/medtalk/intensity", 2.0))
    assert wait_for(lambda: state.snapshot().intensity == 2.0)
    assert float(strength_of(state.snapshot().feature)) == pytest.approx(1.0, abs=1e-5)  # 0.5 x 2
    _send(server, _msg("/medtalk/mute", 1))
    assert wait_for(lambda: state.snapshot().muted)
    _send(server, _msg("/medtalk/emotion", 5))
    assert wait_for(lambda: state.snapshot().description == "sad")
    _send(server, _msg("/medtalk/guidance/text", "a furious, shouting face"))
    assert wait_for(lambda: state.snapshot().description.startswith("text: "))
    reply = _status(server)
    assert reply["guidance"] == "text: a furious, shouting face" and reply["muted"] is True
    assert reply["fps"] == 60.0 and reply["intensity"] == 2.0


@pytest.mark.parametrize("address,args", [
    ("/medtalk/emotion", ("bored",)),  # unknown emotion
    ("/medtalk/emotion", (9,)),  # id out of range
    ("/medtalk/emotion", (1.5,)),  # wrong type
    ("/medtalk/emotion", ()),  # too few
    ("/medtalk/emotion", ("happy", 1.0, 2.0)),  # too many
    ("/medtalk/emotion", ("happy", "loud")),  # strength not a number
    ("/medtalk/intensity", ("high",)),
    ("/medtalk/intensity", (7.0,)),  # out of range
    ("/medtalk/mute", (3,)),
    ("/medtalk/guidance/text", ("x" * 3000,)),  # over 2 KB
    ("/medtalk/guidance/text", (42,)),
    ("/medtalk/guidance/image", ("/no/such/face.png",)),
    ("/medtalk/nonsense", (1,)),  # unknown address
])
def test_bad_messages_are_rejected_and_change_nothing(server, address, args):
    before = server.state.snapshot()
    _send(server, _msg(address, *args))
    assert wait_for(lambda: server.rejected >= 1)
    assert server.state.snapshot() == before
    assert _status(server)["guidance"] == "neutral"  # the server still answers


def test_non_image_file_is_rejected(server, tmp_path):
    fake = tmp_path / "face.png"
    fake.write_text("not a picture")
    before = server.state.snapshot()
    _send(server, _msg("/medtalk/guidance/image", str(fake)))
    assert wait_for(lambda: server.rejected >= 1)
    assert server.state.snapshot() == before


def test_garbage_and_floods_do_not_stop_the_server(animator):
    state = GuidanceState(animator, "neutral")
    srv = ControlServer(state, ControlConfig(port=0, max_messages_per_s=20, burst=20)).start()
    try:
        rng = __import__("random").Random(0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(300):
                junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
                s.sendto(junk if i % 2 else b"/medtalk/emotion\x00\x00\x00\x00,s\x00" + junk, (srv.host, srv.port))
        counts = []

        def settled() -> bool:  # every datagram the socket kept has been handled
            counts.append(srv.dropped + srv.rejected)
            return len(counts) > 10 and counts[-1] == counts[-10] > 0

        assert wait_for(settled, timeout=10)
        assert srv.dropped > 100, "the flood hit the rate limit"
        assert srv.rejected > 0, "malformed datagrams that got through were rejected"
        state.apply_pending()  # whatever was posted, as the daemon loop would
        assert state.snapshot().version == 0
        time.sleep(1.1)  # the bucket refills; the server is still there to answer
        assert _status(srv)["guidance"] == "neutral"
    finally:
        srv.close()


def test_guidance_state_setters_validate(animator):
    state = GuidanceState(animator, "angry", strength=0.8, intensity=1.5)
    snap = state.snapshot()
    assert snap.description == "angry" and float(strength_of(snap.feature)) == pytest.approx(1.2, abs=1e-5)
    with pytest.raises(MedtalkError):
        state.set_emotion("meh")
    with pytest.raises(MedtalkError):
        state.set_intensity(-1)
    assert state.snapshot() == snap
    state.nudge_intensity(1.0)
    state.apply_pending()
    assert state.snapshot().intensity == 2.0  # capped


def test_hotkeys_feed_the_same_state(animator):
    state = GuidanceState(animator, "neutral")
    quits = []
    hotkeys = Hotkeys(state, on_quit=lambda: quits.append(1))

    def press(*keys: str) -> None:
        for key in keys:
            hotkeys.handle(key)
        state.apply_pending()  # the daemon loop's turn

    press("4")
    assert state.snapshot().description == "happy"
    press("+")
    assert state.snapshot().intensity == pytest.approx(1.1)
    press("-", "-")  # both nudges count, though neither was applied when the second came
    assert state.snapshot().intensity == pytest.approx(0.9)
    press("m")
    assert state.snapshot().muted
    press("m")
    assert not state.snapshot().muted
    press("q")
    assert quits == [1]
    press("x")  # unbound keys do nothing
    assert state.snapshot().description == "happy"


def test_decoding_is_separate_from_dispatch():
    """decode() is pure (bar the image check): a message becomes a request, or a clear error."""
    assert decode("/medtalk/emotion", ("hap", 0.5)) == GuidanceRequest("emotion", 3, 0.5)
    assert decode("/medtalk/mute", (1,)) == GuidanceRequest("mute", True)
    assert decode("/medtalk/guidance/text", ("  a tired smile ",)) == GuidanceRequest("text", "a tired smile")
    for address, args, reason in (("/medtalk/emotion", (), "takes 1 to 2 arguments"),
                                  ("/medtalk/intensity", (3.0,), "intensity"),
                                  ("/medtalk/guidance/text", ("x" * 100,), "longer than 64 bytes"),
                                  ("/medtalk/guidance/image", ("/no/face.png",), "not found"),
                                  ("/medtalk/volume", (1,), "unknown address")):
        with pytest.raises(MedtalkError, match=reason):
            decode(address, args, DecodeRules(max_string_bytes=64))


def test_features_are_built_by_apply_pending_not_by_the_poster(animator):
    calls = []

    class Counting:
        def guidance(self, spec, strength=1.0):
            calls.append(threading.current_thread().name)
            return animator.guidance(spec, strength)

    state = GuidanceState(Counting(), "neutral")
    calls.clear()
    poster = threading.Thread(target=lambda: (state.set_emotion("sad"), state.set_text("a big grin")),
                              name="poster")
    poster.start()
    poster.join()
    assert calls == [] and state.snapshot().version == 0  # posted, nothing built yet
    assert state.apply_pending() == 2
    assert calls == [threading.current_thread().name] * 2
    assert state.snapshot().description == "text: a big grin" and state.snapshot().version == 2


def test_send_builds_the_documented_messages(tmp_path):
    def parse(argv):
        p = argparse.ArgumentParser()
        send_cmd.add_arguments(p)
        return OscMessage(send_cmd.build(p.parse_args(argv)))

    m = parse(["emotion", "happy", "0.7"])
    assert m.address == "/medtalk/emotion" and m.params[0] == "happy" and m.params[1] == pytest.approx(0.7)
    assert parse(["emotion", "3"]).params == [3]
    assert parse(["text", "a tired smile"]).params == ["a tired smile"]
    img = tmp_path / "f.png"
    assert parse(["image", str(img)]).params == [str(img.resolve())]
    assert parse(["mute", "1"]).params == [1]
    assert parse(["intensity", "0.5"]).params == [0.5]
    assert parse(["status"]).address == "/medtalk/status"


def test_send_status_without_a_daemon_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but silent: no reply ever comes
        with pytest.raises(MedtalkError, match="no daemon answered"):
            send_cmd.request_status("127.0.0.1", port, timeout=0.3)


def test_status_reply_is_json_to_the_sender(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(_msg("/medtalk/status"), (server.host, server.port))
        data, sender = s.recvfrom(65536)
    msg = OscMessage(data)
    assert msg.address == STATUS_REPLY and sender[1] == server.port
    assert json.loads(msg.params[0])["guidance"] == "neutral"


def test_protocol_doc_lists_exactly_the_control_messages():
    """docs/PROTOCOL.md section 2's table names every address of the message table, and no other."""
    import re
    from pathlib import Path

    from livelink_bridge.control.messages import MESSAGES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "PROTOCOL.md").read_text()
    section = doc.split("## 2. Control", 1)[1].split("\n## ", 1)[0]
    table = re.findall(r"^\| `(/medtalk/[^`]+)` \|", section, flags=re.M)
    assert table == [m.ADDRESS for m in MESSAGES]


def test_gaze_target_and_head_eyes_switch_decode_and_apply(animator):
    from livelink_bridge.control.messages import Gaze, HeadEyesSwitch

    assert decode("/medtalk/gaze", (10.0, -5)) == GuidanceRequest("gaze", (10.0, -5.0))
    assert decode("/medtalk/head_eyes", (0,)) == GuidanceRequest("head_eyes", False)
    for args, reason in (((40.0, 0.0), "yaw must be a number in -35..35"), ((0.0, "up"), "pitch"), ((1.0,), "takes 2")):
        with pytest.raises(MedtalkError, match=reason):
            decode("/medtalk/gaze", args)
    with pytest.raises(MedtalkError, match="head_eyes takes 0 or 1"):
        decode("/medtalk/head_eyes", (2,))
    state = GuidanceState(animator)
    for message in (Gaze(12.0, 4.0), HeadEyesSwitch(False)):
        (wire,) = decode_datagram(message.encode())
        state.post(decode(wire.address, wire.args))
    state.apply_pending()
    snap = state.snapshot().as_dict()
    assert snap["gaze"] == [12.0, 4.0] and snap["head_eyes"] is False
