"""Who may drive the face: the access rules every listener applies (docs/PROTOCOL.md, "Access").

Loopback by default. A shared secret (the token) can be required of every client: control
datagrams carry it in `/medtalk/auth`, audio streams in their header. Any listener bound beyond
loopback must have one, or the daemon refuses to start. WebSocket connections that come from a
web page (they carry an `Origin` header) are refused unless the origin is allowed, so a page
open in a browser cannot drive the face. An optional allow-list names the client networks.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.errors import ConfigError

TOKEN_ENV = "MEDTALK_TOKEN"  # the token, when the config names none (keeps it out of files and `ps`)


@dataclass(frozen=True)
class AccessConfig:
    token: str | None = None  # the shared secret clients must send; None = $MEDTALK_TOKEN, else none asked
    allowed_origins: tuple[str, ...] = ()  # web pages (e.g. "http://localhost:8080") whose WebSockets are let in
    allowed_networks: tuple[str, ...] = ()  # client networks, e.g. "192.168.1.0/24"; empty = any that reaches the port
    image_folders: tuple[str, ...] = ()  # folders image guidance may read, besides the current directory


def image_folders(cfg: AccessConfig) -> AllowedFolders:
    """Where a client's image guidance may be read: the current directory and the configured folders."""
    return AllowedFolders.of((".", *cfg.image_folders))


def is_loopback(host: str) -> bool:
    """True when a listener bound to `host` can be reached from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


class Access:
    """The rules of one daemon: `token` (None = none asked), `admits(host)`, `token_ok(given)`."""

    def __init__(self, cfg: AccessConfig, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.token = cfg.token or env.get(TOKEN_ENV) or None
        self.origins = tuple(cfg.allowed_origins)
        try:
            self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in cfg.allowed_networks)
        except ValueError as exc:
            raise ConfigError(f"access.allowed_networks: {exc}") from None

    def admits(self, host: str) -> bool:
        """Whether a client at `host` (an IP address) may talk to us at all."""
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or any(address in network for network in self.networks)

    def token_ok(self, given: Any) -> bool:
        """Whether `given` is the token (in constant time); anything goes when none is asked."""
        if self.token is None:
            return True
        return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def check_exposure(self, what: str, host: str) -> None:
        """ConfigError when `what` would listen beyond loopback with no token asked."""
        if self.token is None and not is_loopback(host):
            raise ConfigError(f"{what} listens on {host}, beyond this machine, so it needs a token: set access.token "
                              f"in the config or the {TOKEN_ENV} environment variable (clients then send it: "
                              "`medtalk send --token`, the stream header's \"token\")")
