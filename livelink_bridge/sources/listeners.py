"""The sockets of the network audio source: a WebSocket server (`websockets`, threaded API) and
a plain-TCP one, each handing a client's stream to `NetworkSource.open_stream()`.

WebSocket (docs/PROTOCOL.md section 5): a JSON text header, then binary audio messages; later
text messages are JSON control messages. TCP: the same JSON header on one line, then raw PCM
bytes until the client closes. Each connection runs on its own thread (the servers' own); a
connection reads its socket only when the source has room, so the kernel's flow control paces a
client that sends faster than real time.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from medtalk_core.errors import MedtalkError

from livelink_bridge.control.server import ControlConfig, TokenBucket
from livelink_bridge.control.state import ControlInbox

from livelink_bridge.sources.network import MAX_HEADER_BYTES, NetworkSource, StreamRefused

logger = logging.getLogger(__name__)

SCHEMES = ("ws", "tcp")
MAX_MESSAGE_BYTES = 256 * 1024  # one WebSocket message (1.4 s of 48 kHz stereo float32)
MAX_QUEUED_MESSAGES = 8  # WebSocket messages read ahead of the source; beyond, the socket is not read
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


class WebSocketListener:
    """`start()` binds and serves on a thread; `close()` closes every connection and joins."""

    def __init__(self, source: NetworkSource, host: str, port: int, max_control_per_s: float) -> None:
        self.source = source
        self.host, self.port = host, port
        self.max_control_per_s = max_control_per_s
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.socket.getsockname()[:2]

    def start(self) -> "WebSocketListener":
        from websockets.sync.server import serve

        try:
            self._server = serve(self._handle, self.host, self.port, compression=None, max_size=MAX_MESSAGE_BYTES,
                                 max_queue=MAX_QUEUED_MESSAGES)
        except OSError as exc:
            raise MedtalkError(f"cannot listen on ws://{self.host}:{self.port}: {exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="medtalk-ws", daemon=True)
        self._thread.start()
        logger.info("audio stream source listening on ws://%s:%d", *self.address)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # open streams are closed with 1001 (going away)
            self._thread.join()
            self._server = None

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        peer = "%s:%d" % connection.remote_address[:2]
        try:
            session = self.source.open_stream(connection.recv(), peer)
        except StreamRefused as exc:
            busy = str(exc).startswith("busy")
            connection.close(CloseCode.TRY_AGAIN_LATER if busy else CloseCode.INVALID_DATA, _close_reason(exc))
            return
        except ConnectionClosed:
            return
        # Control messages are cheap to post (guidance is built elsewhere, latest wins), but a
        # client sending them as fast as it can would keep this thread busy, and a busy thread
        # slows every model run through the GIL: past the limit the socket is left unread.
        pace = TokenBucket(self.max_control_per_s, max(1, int(self.max_control_per_s / 10)))
        try:
            for message in connection:
                if isinstance(message, str):
                    while not pace.take() and not self.source.closing:
                        time.sleep(1.0 / pace.rate)
                    try:
                        session.control(message)
                    except MedtalkError as exc:  # told to the client; the stream goes on
                        connection.send(json.dumps({"error": str(exc)}))
                elif not session.feed(message):
                    break
        except ConnectionClosed:
            pass  # a client that leaves mid-utterance: what arrived plays out, then the face idles
        finally:
            session.close()


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # block_on_close (the default): server_close() joins every connection

    def __init__(self, address: tuple[str, int], source: NetworkSource) -> None:
        self.source = source
        super().__init__(address, _TcpHandler)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        source: NetworkSource = self.server.source
        sock: socket.socket = self.request
        sock.settimeout(_TCP_POLL_S)  # so that a silent client does not hold up shutdown
        peer = "%s:%d" % self.client_address[:2]
        header, rest = self._header(sock, source)
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
                data = self._recv(sock, source)
                if not data:
                    return
        finally:
            session.close()

    @staticmethod
    def _recv(sock: socket.socket, source: NetworkSource) -> bytes:
        """The next bytes; b"" when the client closed, reset, or the source is closing."""
        while not source.closing:
            try:
                return sock.recv(_TCP_READ)
            except socket.timeout:
                continue
            except OSError:
                return b""  # reset by the client: as a disconnect
        return b""

    def _header(self, sock: socket.socket, source: NetworkSource) -> tuple[bytes | None, bytes]:
        """(the header line, the bytes after it); None when the client left or sent no line."""
        buf = b""
        while b"\n" not in buf:
            if len(buf) > MAX_HEADER_BYTES:
                sock.sendall(f"error: no header line within {MAX_HEADER_BYTES} bytes\n".encode("utf-8"))
                return None, b""
            data = self._recv(sock, source)
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
        self._server: _TcpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def start(self) -> "TcpListener":
        try:
            self._server = _TcpServer((self.host, self.port), self.source)
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
                   max_control_per_s: float = ControlConfig.max_reads_per_s) -> NetworkSource:
    """The source for `--source ws://HOST:PORT` or `tcp://HOST:PORT` (listening once started);
    a WebSocket's control messages go to `control`, read at most `max_control_per_s` a second."""
    scheme, host, port = parse_listen_url(url)
    if scheme == "ws":
        factory = lambda src: WebSocketListener(src, host, port, max_control_per_s)  # noqa: E731
    else:
        factory = lambda src: TcpListener(src, host, port)  # noqa: E731
    return NetworkSource(url, factory, chunk_ms=chunk_ms, buffer_s=buffer_s, control=control)
