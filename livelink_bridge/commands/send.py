"""`medtalk send`: an OSC client for a running `medtalk run` (emotion, text, image, intensity,
mute, status)."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from medtalk_core.errors import MedtalkError

NAME = "send"
HELP = "send a control message to a running `medtalk run` (emotion, text, image, intensity, mute, status)"

STATUS_REPLY = "/medtalk/status/reply"  # = control.STATUS_REPLY; not imported: control pulls in torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", default="127.0.0.1:9001", metavar="HOST:PORT", help="the daemon's control address")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the status reply")
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    p = sub.add_parser("emotion", help="switch emotion: LABEL [STRENGTH]")
    p.add_argument("label", help="angry, disgust, fear, happy, neutral, sad, surprised or 0-6")
    p.add_argument("strength", nargs="?", type=float, help="emotion strength (default 1.0)")
    p = sub.add_parser("text", help="guide by a description, e.g. \"a tired, reluctant smile\"")
    p.add_argument("description", help="the expression in words")
    p = sub.add_parser("image", help="guide by a reference face picture (a path the daemon can read)")
    p.add_argument("path", help="image file")
    p = sub.add_parser("intensity", help="emotion intensity scale, 0..2")
    p.add_argument("scale", type=float, help="0 = neutral, 1 = as predicted, 2 = double")
    p = sub.add_parser("mute", help="mute (1) or unmute (0) the input")
    p.add_argument("flag", type=int, choices=(0, 1), help="1 = mute, 0 = unmute")
    sub.add_parser("status", help="print the daemon's current state (waits for the reply)")


def build(args: argparse.Namespace) -> bytes:
    """The OSC datagram for the chosen message."""
    what = args.what
    if what == "emotion":
        b = OscMessageBuilder("/medtalk/emotion")
        b.add_arg(int(args.label) if args.label.isdigit() else args.label)
        if args.strength is not None:
            b.add_arg(float(args.strength), OscMessageBuilder.ARG_TYPE_FLOAT)
    elif what == "text":
        b = OscMessageBuilder("/medtalk/guidance/text")
        b.add_arg(args.description, OscMessageBuilder.ARG_TYPE_STRING)
    elif what == "image":
        b = OscMessageBuilder("/medtalk/guidance/image")
        b.add_arg(str(Path(args.path).expanduser().resolve()), OscMessageBuilder.ARG_TYPE_STRING)
    elif what == "intensity":
        b = OscMessageBuilder("/medtalk/intensity")
        b.add_arg(float(args.scale), OscMessageBuilder.ARG_TYPE_FLOAT)
    elif what == "mute":
        b = OscMessageBuilder("/medtalk/mute")
        b.add_arg(int(args.flag), OscMessageBuilder.ARG_TYPE_INT)
    else:
        b = OscMessageBuilder("/medtalk/status")
    return b.build().dgram


def request_status(host: str, port: int, timeout: float) -> dict:
    """Send /medtalk/status and wait for the reply (the daemon answers the sender's address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(OscMessageBuilder("/medtalk/status").build().dgram, (host, port))
        try:
            while True:
                data, _ = sock.recvfrom(65536)
                msg = OscMessage(data)
                if msg.address == STATUS_REPLY and msg.params:
                    return json.loads(msg.params[0])
        except socket.timeout:
            raise MedtalkError(f"no status reply from {host}:{port} within {timeout:g} s "
                               "(is `medtalk run` running with its control server on?)") from None
        except ConnectionRefusedError:
            raise MedtalkError(f"nothing listens on {host}:{port} (is `medtalk run` running?)") from None


def run(args: argparse.Namespace) -> int:
    from .run import parse_address

    host, port = parse_address(args.to, "--to")
    if args.what == "status":
        state = request_status(host, port, args.timeout)
        for key in sorted(state):
            print(f"{key}: {state[key]}")
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(build(args), (host, port))
    print(f"sent {args.what} to {host}:{port}")
    return 0
