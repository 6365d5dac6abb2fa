"""Frame transports: small context-managed senders behind one protocol.

Each transport does no I/O in its constructor; it opens lazily on the first `send_frame`
(or an explicit `open()`), and `close()` is idempotent.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from livelink_bridge.frames import RigFrame


@runtime_checkable
class Transport(Protocol):
    """Where rig frames go: our Unreal plugin (OSC), Live Link Face packets, a recorder."""

    def open(self) -> "Transport":
        """Acquire the socket or files; idempotent. Returns the transport."""
        ...

    def send_frame(self, frame: RigFrame) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Transport": ...

    def __exit__(self, *exc: object) -> None: ...
