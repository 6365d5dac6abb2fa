"""The sockets of the network audio source: a WebSocket server (`websockets`, threaded API) and
a plain-TCP one, each handing a client's stream to `NetworkSource.open_stream()`.

WebSocket (docs/PROTOCOL.md section 5): a JSON text header, then binary audio messages; later
text messages are JSON control messages. TCP: the same JSON header on one line, then raw PCM
bytes until the client closes. Each connection runs on its own thread (the servers' own); a
connection reads its socket only when the source has room, so the kernel's flow control paces a
client that sends faster than real time.

Every cost a client can cause is capped (`NetworkConfig`): connections per listener (handshakes
included; one more is closed at once), the time to the stream header, an idle stream's hold on
the slot, message sizes and read-ahead. WebSocket requests that carry an `Origin` (web pages)
are refused unless the origin is allowed, and clients outside `access.allowed_networks` are
closed unheard (livelink_bridge.access).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import sys
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from medtalk_core.errors import MedtalkError

from livelink_bridge.control.server import ControlConfig, TokenBucket
from livelink_bridge.control.state import ControlInbox

from livelink_bridge.access import Access
from livelink_bridge.quiet_log import QuietLog, library_logger
from livelink_bridge.sources.network import MAX_HEADER_BYTES, NetworkConfig, NetworkSource, StreamRefused

logger = logging.getLogger(__name__)

SCHEMES = ("ws", "tcp")
_TCP_READ = 16 * 1024
_TCP_POLL_S = 0.2  # a TCP connection checks this often whether the daemon is stopping


def parse_listen_url(url: str) -> tuple[str, str, int]:
    """'ws://127.0.0.1:8765' -> ('ws', '127.0.0.1', 8765); MedtalkError when it is not one."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise MedtalkError(f"a network source is ws://HOST:PORT or tcp://HOST:PORT, got {url!r}")
    return parts.scheme, parts.hostname, port


def _close_reason(exc: Exception) -> str:
    """A WebSocket close reason is at most 123 bytes."""
    return str(exc).encode("utf-8")[:123].decode("utf-8", "ignore")


class _Admission:
    """Counts one listener's connections and says which may stay: inside the allowed networks,
    and no more than `max_connections` at once."""

    def __init__(self, limits: NetworkConfig, access: Access, scheme: str) -> None:
        self.limits, self.access, self.scheme = limits, access, scheme
        self.open = 0
        self.refused = 0
        self.log = QuietLog(logger, f"{scheme}: refused or closed connections", per_s=2)
        self._lock = threading.Lock()

    def enter(self, host: str) -> bool:
        with self._lock:
            if not self.access.admits(host):
                why = "not in access.allowed_networks"
            elif self.open >= self.limits.max_connections:
                why = f"{self.limits.max_connections} connections open (source.network.max_connections)"
            else:
                self.open += 1
                return True
            self.refused += 1
        self.log.warn("%s connection from %s refused: %s", self.scheme, host, why)
        return False

    def leave(self) -> None:
        with self._lock:
            self.open -= 1


def peer_address(connection: Any) -> str:
    """The client's address, or "a client that left" once its socket is gone."""
    try:
        return "%s:%d" % connection.remote_address[:2]
    except (OSError, TypeError):
        return "a client that left"


class WebSocketListener:
    """`start()` binds and serves on a thread; `close()` closes every connection and joins."""

    def __init__(self, source: NetworkSource, host: str, port: int, max_control_per_s: float) -> None:
        self.source = source
        self.host, self.port = host, port
        self.max_control_per_s = max_control_per_s
        self.limits = source.limits
        self.admission = _Admission(source.limits, source.access, "ws")
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.socket.getsockname()[:2]

    def start(self) -> "WebSocketListener":
        from websockets.sync.server import serve

        # No keepalive pings: a stream paced by leaving its socket unread cannot answer them in
        # time (healthy streams were closed with 1011 under load); idle_timeout_s ends dead ones.
        try:
            self._server = serve(self._handle, self.host, self.port, compression=None, process_request=self._origin,
                                 max_size=self.limits.max_message_bytes, max_queue=self.limits.max_queued_messages,
                                 open_timeout=self.limits.header_timeout_s, ping_interval=None,
                                 logger=library_logger("livelink_bridge.sources.listeners.websockets"))
        except OSError as exc:
            raise MedtalkError(f"cannot listen on ws://{self.host}:{self.port}: {exc}") from None
        self._server.handler = self._admitted(self._server.handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="medtalk-ws", daemon=True)
        self._thread.start()
        logger.info("audio stream source listening on ws://%s:%d", *self.address)
        return self

    def _origin(self, connection: Any, request: Any) -> Any:
        """A request from a web page (it has an `Origin` header) is refused with 403 unless its
        origin is allowed by name; a program sends none."""
        origins = request.headers.get_all("Origin")
        if all(origin in self.source.access.origins for origin in origins):
            return None
        self.admission.log.warn("ws connection from %s refused: origin %s is not in access.allowed_origins",
                       peer_address(connection), origins[0][:100])
        return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")

    def _admitted(self, handler: Any) -> Any:
        """The server's per-socket handler behind the admission check: a refused socket is closed
        before any byte of it is read (its thread ends at once)."""
        server = self._server

        def admit(sock: socket.socket, addr: Any) -> None:
            if not self.admission.enter(addr[0]):
                sock.close()
                with server.lock:
                    server.handler_threads.discard(threading.current_thread())
                return
            try:
                handler(sock, addr)
            finally:
                self.admission.leave()
        return admit

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # open streams are closed with 1001 (going away)
            self._thread.join()
            self._server = None

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        peer = peer_address(connection)
        try:
            session = self.source.open_stream(connection.recv(timeout=self.limits.header_timeout_s), peer)
        except StreamRefused as exc:
            busy = str(exc).startswith("busy")
            connection.close(CloseCode.TRY_AGAIN_LATER if busy else CloseCode.INVALID_DATA, _close_reason(exc))
            return
        except TimeoutError:
            self.admission.log.warn("audio stream from %s closed: no header within %g s", peer,
                                    self.limits.header_timeout_s)
            connection.close(CloseCode.POLICY_VIOLATION, "no header in time")
            return
        except ConnectionClosed:
            return
        # Control messages are cheap to post (guidance is built elsewhere, latest wins), but a
        # client sending them as fast as it can would keep this thread busy, and a busy thread
        # slows every model run through the GIL: past the limit the socket is left unread.
        pace = TokenBucket(self.max_control_per_s, max(1, int(self.max_control_per_s / 10)))
        try:
            while True:
                message = connection.recv(timeout=self.limits.idle_timeout_s)
                if isinstance(message, str):
                    while not pace.take() and not self.source.closing:
                        time.sleep(1.0 / pace.rate)
                    try:
                        session.control(message)
                    except MedtalkError as exc:  # told to the client; the stream goes on
                        connection.send(json.dumps({"error": str(exc)}))
                elif not session.feed(message):
                    break
        except TimeoutError:
            self.admission.log.warn("audio stream from %s closed: nothing for %g s (the slot is free)", peer,
                                    self.limits.idle_timeout_s)
            connection.close(CloseCode.POLICY_VIOLATION, "idle")
        except ConnectionClosed:
            pass  # a client that leaves mid-utterance: what arrived plays out, then the face idles
        finally:
            session.close()


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # block_on_close (the default): server_close() joins every connection

    def __init__(self, address: tuple[str, int], source: NetworkSource, admission: _Admission) -> None:
        self.source = source
        self.admission = admission
        super().__init__(address, _TcpHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Before a thread is started for it: refused sockets are closed by socketserver."""
        return self.admission.enter(client_address[0])

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.admission.leave()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection's unexpected error: one line, not socketserver's traceback on stderr."""
        self.admission.log.warn("tcp connection from %s:%d failed: %s", client_address[0], client_address[1],
                                _clip_exception())


def _clip_exception() -> str:
    exc = sys.exc_info()[1]
    return f"{type(exc).__name__}: {exc}"[:200]


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        source: NetworkSource = self.server.source
        limits = source.limits
        sock: socket.socket = self.request
        sock.settimeout(_TCP_POLL_S)  # so that a silent client does not hold up shutdown
        peer = "%s:%d" % self.client_address[:2]
        header, rest = self._header(sock, source, time.monotonic() + limits.header_timeout_s)
        if header is None:
            return
        try:
            session = source.open_stream(header.decode("utf-8", "replace").strip(), peer)
        except StreamRefused as exc:
            sock.sendall(f"error: {exc}\n".encode("utf-8"))
            return
        try:
            data = rest
            while not data or session.feed(data):  # feed() is False once the daemon is stopping
                data = self._recv(sock, source, time.monotonic() + limits.idle_timeout_s)
                if data is None:
                    self.server.admission.log.warn("audio stream from %s closed: nothing for %g s (the slot is "
                                                   "free)", peer, limits.idle_timeout_s)
                    return
                if not data:
                    return
        finally:
            session.close()

    @staticmethod
    def _recv(sock: socket.socket, source: NetworkSource, deadline: float) -> bytes | None:
        """The next bytes; b"" when the client closed, reset, or the source is closing; None when
        nothing came before `deadline`."""
        while not source.closing:
            if time.monotonic() > deadline:
                return None
            try:
                return sock.recv(_TCP_READ)
            except socket.timeout:
                continue
            except OSError:
                return b""  # reset by the client: as a disconnect
        return b""

    def _header(self, sock: socket.socket, source: NetworkSource, deadline: float) -> tuple[bytes | None, bytes]:
        """(the header line, the bytes after it); None when the client left or sent no line in time."""
        buf = b""
        while b"\n" not in buf:
            if len(buf) > MAX_HEADER_BYTES:
                sock.sendall(f"error: no header line within {MAX_HEADER_BYTES} bytes\n".encode("utf-8"))
                return None, b""
            data = self._recv(sock, source, deadline)
            if data is None:
                self.server.admission.log.warn("tcp connection from %s:%d closed: no header within %g s",
                                               *self.client_address[:2], source.limits.header_timeout_s)
                sock.sendall(b"error: no header in time\n")
                return None, b""
            if not data:
                return None, b""
            buf += data
        line, _, rest = buf.partition(b"\n")
        return line, rest


class TcpListener:
    """Plain TCP: a JSON header line, then raw PCM; an error line and a close for a refusal."""

    def __init__(self, source: NetworkSource, host: str, port: int) -> None:
        self.source = source
        self.host, self.port = host, port
        self.admission = _Admission(source.limits, source.access, "tcp")
        self._server: _TcpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def start(self) -> "TcpListener":
        try:
            self._server = _TcpServer((self.host, self.port), self.source, self.admission)
        except OSError as exc:
            raise MedtalkError(f"cannot listen on tcp://{self.host}:{self.port}: {exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="medtalk-tcp", daemon=True)
        self._thread.start()
        logger.info("audio stream source listening on tcp://%s:%d", *self.address)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None


def network_source(url: str, chunk_ms: float = 5.0, buffer_s: float = 2.0, control: ControlInbox | None = None,
                   max_control_per_s: float = ControlConfig.max_reads_per_s, limits: NetworkConfig = NetworkConfig(),
                   access: Access | None = None) -> NetworkSource:
    """The source for `--source ws://HOST:PORT` or `tcp://HOST:PORT` (listening once started);
    a WebSocket's control messages go to `control`, read at most `max_control_per_s` a second."""
    scheme, host, port = parse_listen_url(url)
    if scheme == "ws":
        factory = lambda src: WebSocketListener(src, host, port, max_control_per_s)  # noqa: E731
    else:
        factory = lambda src: TcpListener(src, host, port)  # noqa: E731
    return NetworkSource(url, factory, chunk_ms=chunk_ms, buffer_s=buffer_s, control=control, limits=limits,
                         access=access)
