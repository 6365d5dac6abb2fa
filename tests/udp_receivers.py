"""Test helpers: real UDP receivers on 127.0.0.1 that record what the daemon sends."""

from __future__ import annotations

import socket
import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer


class OscCollector:
    """A python-osc server on an ephemeral port; keeps (receive time, address, args) of each message."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str, tuple]] = []
        self._lock = threading.Lock()
        d = Dispatcher()
        d.set_default_handler(self._on)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), d)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def _on(self, address: str, *args) -> None:
        with self._lock:
            self.messages.append((time.time(), address, args))

    def frames(self) -> list[tuple[float, tuple]]:
        with self._lock:
            return [(t, a) for t, addr, a in self.messages if addr.endswith("/frame")]

    def names(self) -> list[tuple]:
        with self._lock:
            return [a for _, addr, a in self.messages if addr.endswith("/names")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class RawCollector:
    """A plain UDP socket on an ephemeral port; keeps (receive time, datagram)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.packets.append((time.time(), data))

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
