"""Who may drive the face, and what one client may cost: real WebSocket, TCP and UDP clients on
127.0.0.1 against the network source and the control server (issue "hostile clients, round
two"). Each case ends in one log line or one error reply, and the listener goes on serving."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from livelink_bridge.access import TOKEN_ENV, Access, AccessConfig, is_loopback
from livelink_bridge.commands import send as send_cmd
from livelink_bridge.control.messages import ACK, DecodeRules, Emotion, Image, Status, with_token
from livelink_bridge.control.server import ControlConfig, ControlServer
from livelink_bridge.control.state import ControlInbox, GuidanceState
from livelink_bridge.daemon_config import DaemonConfig, validate
from livelink_bridge.sources.listeners import network_source
from livelink_bridge.sources.network import NetworkConfig, NetworkSource
from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.errors import ConfigError
from udp_receivers import wait_for

rep = dataclasses.replace
TOKEN = "correct horse battery staple"
HEADER = {"sample_rate": 16000, "channels": 1, "format": "pcm16"}
FACES = Path(__file__).resolve().parent / "fixtures" / "faces"
QUICK = NetworkConfig(max_connections=3, header_timeout_s=0.5, idle_timeout_s=0.5)


@contextlib.contextmanager
def _listening(scheme: str, limits: NetworkConfig = QUICK, access: Access | None = None,
               control: ControlInbox | None = None) -> Iterator[NetworkSource]:
    source = network_source(f"{scheme}://127.0.0.1:0", limits=limits, access=access, control=control)
    source.start()
    try:
        yield source
    finally:
        source.close()


def _ws(source: NetworkSource, **kwargs):
    host, port = source.address
    return connect(f"ws://{host}:{port}", compression=None, open_timeout=5, **kwargs)


def _tcp(source: NetworkSource) -> socket.socket:
    sock = socket.create_connection(source.address, timeout=5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def _close_reason(ws) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
    return info.value.rcvd.code, info.value.rcvd.reason


# --- the access model -------------------------------------------------------------------------
def test_loopback_needs_no_token_beyond_it_one_is_required():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("stage-pc")
    validate(DaemonConfig())  # the defaults listen on loopback only
    exposed = DaemonConfig(control=ControlConfig(host="0.0.0.0"))
    with pytest.raises(ConfigError, match=f"the control port .* needs a token: set access.token .* {TOKEN_ENV}"):
        validate(rep(exposed, access=AccessConfig(token=None)))
    validate(rep(exposed, access=AccessConfig(token=TOKEN)))
    stream = rep(DaemonConfig(), source=rep(DaemonConfig().source, kind="network", listen="ws://0.0.0.0:8765"))
    with pytest.raises(ConfigError, match="the network source"):
        validate(stream)
    with pytest.raises(ConfigError, match="allowed_networks"):
        validate(rep(DaemonConfig(), access=AccessConfig(allowed_networks=("10.0.0.300/8",))))


def test_the_token_comes_from_the_config_or_the_environment_and_compares_exactly():
    assert Access(AccessConfig(), environ={}).token is None
    assert Access(AccessConfig(), environ={TOKEN_ENV: "from-env"}).token == "from-env"
    access = Access(AccessConfig(token=TOKEN), environ={TOKEN_ENV: "ignored"})
    assert access.token_ok(TOKEN) and not access.token_ok(TOKEN + " ") and not access.token_ok(None)
    assert not access.token_ok(["a list"]) and not access.token_ok(TOKEN[:-1])
    assert Access(AccessConfig(), environ={}).token_ok(None)  # none asked: anything goes


def test_allowed_networks_admit_listed_clients_and_this_machine():
    access = Access(AccessConfig(allowed_networks=("192.168.1.0/24", "fd00::/8")))
    assert access.admits("192.168.1.77") and access.admits("fd00::5") and access.admits("127.0.0.1")
    assert not access.admits("192.168.2.1") and not access.admits("8.8.8.8") and not access.admits("not-an-ip")
    assert Access(AccessConfig()).admits("8.8.8.8")  # no list: whoever reaches the bound port


# --- WebSocket: origins, token, timeouts, caps ----------------------------------------------------
def test_a_web_page_is_refused_unless_its_origin_is_allowed(caplog):
    with _listening("ws", access=Access(AccessConfig(allowed_origins=("http://localhost:8080",)))) as source:
        with caplog.at_level(logging.WARNING):
            with pytest.raises(InvalidStatus) as refused:
                _ws(source, origin="http://evil.example")
        assert refused.value.response.status_code == 403
        assert "origin http://evil.example is not in access.allowed_origins" in caplog.text
        assert source.streams == 0
        with _ws(source, origin="http://localhost:8080") as ws:  # the allowed page
            ws.send(json.dumps(HEADER))
            assert wait_for(lambda: source.streams == 1)
        with _ws(source) as ws:  # a program sends no Origin
            ws.send(json.dumps(HEADER))
            assert wait_for(lambda: source.streams == 2)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("scheme", ["ws", "tcp"])
def test_a_stream_without_the_token_is_refused(scheme):
    with _listening(scheme, access=Access(AccessConfig(token=TOKEN))) as source:
        for header in (HEADER, {**HEADER, "token": "guess"}):
            if scheme == "ws":
                with _ws(source) as ws:
                    ws.send(json.dumps(header))
                    code, reason = _close_reason(ws)
                assert code == 1007 and reason.startswith("not authorised")
            else:
                with _tcp(source) as sock:
                    sock.sendall(json.dumps(header).encode() + b"\n")
                    assert _read_all(sock).startswith(b"error: not authorised")
        assert source.streams == 0 and source.refused == 2
        if scheme == "ws":
            with _ws(source) as ws:
                ws.send(json.dumps({**HEADER, "token": TOKEN}))
                ws.send(np.zeros(1600, "<i2").tobytes())
                assert wait_for(lambda: source.streams == 1)
        else:
            with _tcp(source) as sock:
                sock.sendall(json.dumps({**HEADER, "token": TOKEN}).encode() + b"\n" + bytes(3200))
                assert wait_for(lambda: source.streams == 1)


def test_co_prime_sample_rates_are_refused_before_any_filter_is_built():
    with _listening("ws") as source:
        with _ws(source) as ws:
            ws.send(json.dumps({**HEADER, "sample_rate": 191999}))
            code, reason = _close_reason(ws)
        assert code == 1007 and reason.startswith("sample_rate must be one of 8000, 11025")


@pytest.mark.parametrize("scheme", ["ws", "tcp"])
def test_no_header_in_time_and_an_idle_stream_give_the_slot_back(scheme, caplog):
    with _listening(scheme) as source:
        with caplog.at_level(logging.WARNING):
            if scheme == "ws":
                with _ws(source) as silent:
                    assert _close_reason(silent)[0] == 1008  # no header within 0.5 s
                with _ws(source) as hog:
                    hog.send(json.dumps(HEADER))  # ... then nothing: the slot comes back after 0.5 s
                    assert wait_for(lambda: source.streams == 1)
                    assert _close_reason(hog) == (1008, "idle")
                with _ws(source) as next_client:
                    next_client.send(json.dumps(HEADER))
                    assert wait_for(lambda: source.streams == 2)
            else:
                with _tcp(source) as silent:
                    assert _read_all(silent) == b"error: no header in time\n"
                with _tcp(source) as hog:
                    hog.sendall(json.dumps(HEADER).encode() + b"\n")
                    assert wait_for(lambda: source.streams == 1)
                    assert _read_all(hog) == b""  # closed after 0.5 s of nothing
                with _tcp(source) as next_client:
                    next_client.sendall(json.dumps(HEADER).encode() + b"\n")
                    assert wait_for(lambda: source.streams == 2)
        assert source.refused == 0
        assert "no header within 0.5 s" in caplog.text and "nothing for 0.5 s (the slot is free)" in caplog.text


@pytest.mark.parametrize("scheme", ["ws", "tcp"])
def test_connections_past_the_cap_are_closed_at_once_and_threads_stay_bounded(scheme, caplog):
    limits = rep(QUICK, header_timeout_s=30.0)  # idle clients that would hold their threads for long
    with _listening(scheme, limits) as source, contextlib.ExitStack() as idle:
        for _ in range(3):  # connected, no header yet
            idle.enter_context(_tcp(source) if scheme == "tcp" else _ws(source))
        assert wait_for(lambda: source._listener.admission.open == 3)
        threads_with_three = threading.active_count()
        with caplog.at_level(logging.WARNING):
            for _ in range(40):
                if scheme == "ws":
                    with pytest.raises((InvalidHandshake, ConnectionClosed, OSError)):  # closed before the answer
                        _ws(source).__enter__()
                else:
                    with _tcp(source) as extra:
                        assert _read_all(extra) == b""  # closed before anything is read
        # a refused connection's thread ends at once: no more threads than with the three
        assert wait_for(lambda: threading.active_count() <= threads_with_three)
        assert source._listener.admission.open == 3 and source._listener.admission.refused == 40
        assert "connections open (source.network.max_connections)" in caplog.text
        assert caplog.text.count("refused:") <= 12  # quiet: a few lines a second, then a count
        idle.close()  # the slots come back as the idle clients leave
        assert wait_for(lambda: source._listener.admission.open == 0)
        with _tcp(source) if scheme == "tcp" else _ws(source) as client:
            header = json.dumps(HEADER)
            client.sendall(header.encode() + b"\n") if scheme == "tcp" else client.send(header)
            assert wait_for(lambda: source.streams == 1)


def test_a_thousand_connect_close_cycles_leave_no_traceback(caplog):
    with _listening("ws", rep(QUICK, max_connections=64)) as source:
        with caplog.at_level(logging.DEBUG):
            for n in range(300):
                sock = _tcp(source)  # a WebSocket port opened and dropped, as a port scan does
                if n % 2:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                sock.close()
            for _ in range(50):
                with _ws(source):
                    pass
        with _ws(source) as ws:
            ws.send(json.dumps(HEADER))
            assert wait_for(lambda: source.streams == 1)
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


def test_deeply_nested_json_is_one_error_and_the_stream_goes_on(stream_animator):
    state = GuidanceState(stream_animator)
    inbox = ControlInbox(DecodeRules())
    inbox.connect(state)
    with _listening("ws", control=inbox) as source:
        with _ws(source) as ws:
            ws.send(json.dumps(HEADER))
            for depth in (1000, 100_000):
                ws.send("[" * depth + "]" * depth)
                assert json.loads(ws.recv(timeout=5)) == {"error": "control message is nested too deeply"}
            ws.send(json.dumps({"control": "/medtalk/emotion", "args": ["happy"]}))
            ws.send(np.zeros(1600, "<i2").tobytes())
            assert wait_for(lambda: state._pending)


def test_non_finite_floats_from_a_client_are_counted():
    with _listening("ws") as source:
        with _ws(source) as ws:
            ws.send(json.dumps({**HEADER, "format": "float32", "channels": 2}))
            ws.send(np.array([[0.1, np.nan], [np.inf, -np.inf], [0.2, 0.3]], "<f4").tobytes())
            assert wait_for(lambda: source.bad_samples == 3)


# --- the control port: token, status, image folders ------------------------------------------------
class _Control:
    """A control server on a free port, and a UDP client that waits for its answer."""

    def __init__(self, animator, access: Access, folders: AllowedFolders | None = None) -> None:
        self.state = GuidanceState(animator)
        status = {"source": "ws://127.0.0.1:8765", "fps": 60.0}
        self.server = ControlServer(self.state, ControlConfig(port=0), status=lambda: dict(status), access=access,
                                    image_folders=folders).start()

    def ask(self, datagram: bytes):
        return send_cmd.exchange("127.0.0.1", self.server.port, datagram, timeout=5.0)

    def close(self) -> None:
        self.server.close()


def test_control_without_the_token_changes_nothing_and_status_hides_files(stream_animator):
    control = _Control(stream_animator, Access(AccessConfig(token=TOKEN)))
    try:
        control.state.set_text("a secret description")
        control.state.apply_pending()
        ack = control.ask(Emotion("happy", 10.0).encode())
        assert ack.address == ACK and ack.args[1] == 0 and ack.args[2].startswith("not authorised")
        wrong = control.ask(with_token(Emotion("happy"), "guess"))
        assert wrong.args[1] == 0
        assert not control.state._pending  # nothing was posted
        health = json.loads(control.ask(Status().encode()).args[0])
        assert "fps" in health and "source" not in health and "guidance" not in health
        full = json.loads(control.ask(with_token(Status(), TOKEN)).args[0])
        assert full["source"] == "ws://127.0.0.1:8765" and "guidance" in full
        ok = control.ask(with_token(Emotion("happy", 0.8), TOKEN))
        assert ok.args[:2] == ("/medtalk/emotion", 1)
        assert control.state._pending
    finally:
        control.close()


def test_medtalk_send_carries_the_token(stream_animator, monkeypatch, capsys):
    control = _Control(stream_animator, Access(AccessConfig(token=TOKEN)))
    try:
        port = str(control.server.port)
        from livelink_bridge.cli import main

        assert main(["send", "--to", f"127.0.0.1:{port}", "emotion", "sad"]) == 2
        assert "not authorised" in capsys.readouterr().err
        monkeypatch.setenv(TOKEN_ENV, TOKEN)  # the flag's default
        assert main(["send", "--to", f"127.0.0.1:{port}", "emotion", "sad"]) == 0
        assert main(["send", "--to", f"127.0.0.1:{port}", "--token", TOKEN, "status"]) == 0
        assert "source: ws://127.0.0.1:8765" in capsys.readouterr().out
    finally:
        control.close()


def test_image_guidance_is_read_only_inside_the_allowed_folders(stream_animator, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    face = next(FACES.glob("*.jpg"))
    secret = outside / "face.jpg"
    secret.write_bytes(face.read_bytes())
    control = _Control(stream_animator, Access(AccessConfig()), AllowedFolders.of([FACES]))
    try:
        reasons = {}
        for path in ("/etc/hostname", "/etc/shadow", "/proc/self/environ", "~/.bashrc", "../../etc/hostname",
                     str(secret), str(outside / "missing.png"), str(FACES / ".." / ".." / "conftest.py")):
            ack = control.ask(Image(path).encode())
            assert ack.args[1] == 0
            reasons[path] = ack.args[2]
        assert all(reason == f"image path outside the allowed folders: {path}" for path, reason in reasons.items())
        assert control.ask(Image(str(face)).encode()).args[1] == 1
        missing_inside = control.ask(Image(str(FACES / "nobody.png")).encode())
        assert missing_inside.args[2].startswith("image file not found")
    finally:
        control.close()


def test_a_datagram_from_outside_the_allowed_networks_is_not_answered(stream_animator):
    control = _Control(stream_animator, Access(AccessConfig(allowed_networks=("10.0.0.0/8",))))
    try:
        control.server._datagram(Emotion("happy").encode(), ("192.168.7.7", 40000))
        assert control.server.refused == 1 and not control.state._pending
        assert control.ask(Emotion("happy").encode()).args[1] == 1  # this machine is always admitted
    finally:
        control.close()


def test_over_the_rate_limit_a_token_holder_still_gets_status_and_the_last_change(stream_animator):
    state = GuidanceState(stream_animator)
    server = ControlServer(state, ControlConfig(port=0, max_messages_per_s=2.0, burst=2),
                           access=Access(AccessConfig(token=TOKEN))).start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
            for k in range(200):  # the bucket is empty after two
                flood.sendto(with_token(Emotion("happy", 0.01 * (k + 1)), TOKEN), ("127.0.0.1", server.port))
        reply = send_cmd.exchange("127.0.0.1", server.port, with_token(Status(), TOKEN), timeout=5.0)
        assert "source" in json.loads(reply.args[0]) or "guidance" in json.loads(reply.args[0])
        assert wait_for(lambda: server.accepted >= 3 and not server._latest, timeout=10)
        state.apply_pending()
        assert state.snapshot().strength == pytest.approx(2.0)  # the burst's last request applied
    finally:
        server.close()
