"""The UDP socket both network transports send through: no I/O until `open()` (or the first
send), an idempotent `close()`, and a context manager that closes."""

from __future__ import annotations

import logging
import socket

from medtalk_core.errors import ConfigError

logger = logging.getLogger(__name__)


class UdpSender:
    """One UDP destination. Subclasses encode; this opens, sends datagrams and closes."""

    def __init__(self, host: str, port: int, what: str) -> None:
        """`what` names the receiver in errors ("OSC frame", "Live Link Face")."""
        if not 0 < int(port) < 65536:
            raise ConfigError(f"{what} port {port} is outside 1..65535")
        self.host, self.port = host, int(port)
        self._what = what
        self._sock: socket.socket | None = None
        self._address: tuple | None = None
        self.frames_sent = 0

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> "UdpSender":
        if self._sock is None:
            try:
                family, _, _, _, self._address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            except socket.gaierror as exc:
                raise ConfigError(f"cannot resolve {self._what} host {self.host!r}: {exc}") from None
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._opened()
        return self

    def _opened(self) -> None:
        """Called once the socket is open (log it, send a greeting)."""

    def _send_datagram(self, packet: bytes) -> None:
        if self._sock is None:
            raise RuntimeError(f"{type(self).__name__} is closed; call open() first")
        self._sock.sendto(packet, self._address)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "UdpSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
