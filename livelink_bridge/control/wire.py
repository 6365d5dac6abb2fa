"""A strict, bounded OSC 1.0 datagram decoder for the control port: bytes -> messages.

The control port takes datagrams from anyone on the network, so this decoder is pure and
bounded (no pattern compiled from the wire, no sleeping on a sender's timetag) and is fuzzed
in the tests:
- every length (string, blob, bundle element) is checked against the datagram before it is
  read; bundle element sizes must be positive multiples of 4 inside their bundle;
- bundles nest at most `MAX_DEPTH` deep and a datagram holds at most `MAX_MESSAGES` messages;
- an address is returned as a plain string, to be matched exactly: OSC address patterns
  (`* ? [ ] { }`) are rejected, never compiled to a regular expression (python-osc's dispatcher
  compiles them, and a crafted pattern backtracks for tens of seconds);
- a bundle's timetag is ignored: its messages run at once (python-osc's server sleeps until the
  timetag, so a bundle stamped an hour ahead silenced the port for an hour);
- a missing or truncated argument, an unknown type tag, trailing bytes, or text that is not
  UTF-8 reject the datagram with a one-line reason (never a log line of its own).

Argument types: i h (int), f d (float), s S (str), T F (bool), N (None), b (bytes);
the rest of OSC's optional types (t c r m I, arrays) are rejected as unsupported.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from medtalk_core.errors import MedtalkError

MAX_DEPTH = 4  # bundles inside bundles; deeper is refused
MAX_MESSAGES = 1024  # messages in one datagram (each also costs a rate-limit token)
BUNDLE_TAG = b"#bundle\0"
PATTERN_CHARS = frozenset("*?[]{}#")  # OSC address pattern syntax ('#' is reserved)

_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8)}
_NO_DATA = {"T": True, "F": False, "N": None}


class OscDecodeError(MedtalkError):
    """A datagram that is not a well-formed OSC message or bundle we accept."""


@dataclass(frozen=True)
class Message:
    address: str  # exact, no pattern characters
    args: tuple[Any, ...]


def decode_datagram(data: bytes) -> list[Message]:
    """One UDP datagram -> its messages, bundles flattened in order; OscDecodeError when malformed."""
    data = bytes(data)
    out: list[Message] = []
    _element(data, 0, len(data), 0, out)
    return out


def _element(data: bytes, start: int, end: int, depth: int, out: list[Message]) -> None:
    if end - start < 4:
        raise OscDecodeError("datagram shorter than 4 bytes")
    if data.startswith(BUNDLE_TAG, start, end):
        _bundle(data, start, end, depth, out)
    elif data[start] == ord("/"):
        if len(out) >= MAX_MESSAGES:
            raise OscDecodeError(f"more than {MAX_MESSAGES} messages in one datagram")
        out.append(_message(data, start, end))
    else:
        raise OscDecodeError("neither an OSC message ('/...') nor a bundle ('#bundle')")


def _bundle(data: bytes, start: int, end: int, depth: int, out: list[Message]) -> None:
    if depth >= MAX_DEPTH:
        raise OscDecodeError(f"bundles nested deeper than {MAX_DEPTH}")
    pos = start + len(BUNDLE_TAG) + 8  # the timetag: ignored, its messages run at once
    if pos > end:
        raise OscDecodeError("bundle shorter than its header")
    while pos < end:
        if pos + 4 > end:
            raise OscDecodeError("bundle element size truncated")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size <= 0 or size % 4 or size > end - pos:
            raise OscDecodeError(f"bundle element size {size} is not a positive multiple of 4 inside the bundle")
        _element(data, pos, pos + size, depth + 1, out)
        pos += size


def _string(data: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    """An OSC-string at `pos`: bytes up to a NUL, padded to 4 -> (text, position after it)."""
    nul = data.find(b"\0", pos, end)
    if nul < 0:
        raise OscDecodeError(f"{what} is not NUL-terminated inside the datagram")
    after = pos + ((nul - pos) // 4 + 1) * 4
    if after > end:
        raise OscDecodeError(f"{what} padding runs past the end of the datagram")
    try:
        return data[pos:nul].decode("utf-8"), after
    except UnicodeDecodeError:
        raise OscDecodeError(f"{what} is not UTF-8") from None


def _message(data: bytes, start: int, end: int) -> Message:
    address, pos = _string(data, start, end, "address")
    bad = PATTERN_CHARS.intersection(address)
    if bad:
        raise OscDecodeError(f"address patterns are not supported ({''.join(sorted(bad))} in {address[:100]!r})")
    if pos >= end or data[pos] != ord(","):
        raise OscDecodeError(f"{address[:100]}: no type tag string")
    tags, pos = _string(data, pos, end, "type tag string")
    args: list[Any] = []
    for n, tag in enumerate(tags[1:], start=1):
        if tag in _FIXED:
            fmt, size = _FIXED[tag]
            if pos + size > end:
                raise OscDecodeError(f"{address[:100]}: argument {n} ({tag}) is missing or truncated")
            args.append(struct.unpack_from(fmt, data, pos)[0])
            pos += size
        elif tag in ("s", "S"):
            text, pos = _string(data, pos, end, f"{address[:100]}: argument {n} ({tag})")
            args.append(text)
        elif tag in _NO_DATA:
            args.append(_NO_DATA[tag])
        elif tag == "b":
            if pos + 4 > end:
                raise OscDecodeError(f"{address[:100]}: argument {n} (b) is missing or truncated")
            (size,) = struct.unpack_from(">i", data, pos)
            after = pos + 4 + -(-max(size, 0) // 4) * 4
            if size < 0 or after > end:
                raise OscDecodeError(f"{address[:100]}: blob size {size} runs past the end of the datagram")
            args.append(data[pos + 4:pos + 4 + size])
            pos = after
        else:
            raise OscDecodeError(f"{address[:100]}: unsupported type tag {tag!r}")
    if pos != end:
        raise OscDecodeError(f"{address[:100]}: {end - pos} bytes after the last argument")
    return Message(address, tuple(args))
