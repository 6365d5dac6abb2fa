"""`medtalk send`: an OSC client for a running `medtalk run` (emotion, text, image, intensity,
mute, status)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

from medtalk_core.errors import MedtalkError

from livelink_bridge.access import TOKEN_ENV
from livelink_bridge.control.messages import (ACK, STATUS, STATUS_REPLY, ControlMessage, Emotion, Gaze,
                                              HeadEyesSwitch, Image, Intensity, Mute, Status, Text, with_token)
from livelink_bridge.control.wire import Message, OscDecodeError, decode_datagram

NAME = "send"
HELP = "send a control message to a running `medtalk run` (emotion, text, image, intensity, mute, status)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", default="127.0.0.1:9001", metavar="HOST:PORT", help="the daemon's control address")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV), metavar="TOKEN",
                        help=f"the daemon's token, when it asks for one (default: ${TOKEN_ENV})")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds to wait for the daemon's acknowledgement (or status reply); none: exit 1")
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    p = sub.add_parser(Emotion.NAME, help="switch emotion: LABEL [STRENGTH]")
    p.add_argument("label", help="angry, disgust, fear, happy, neutral, sad, surprised or 0-6")
    p.add_argument("strength", nargs="?", type=float, help="emotion strength (default 1.0)")
    p = sub.add_parser(Text.NAME, help="guide by a description, e.g. \"a tired, reluctant smile\"")
    p.add_argument("description", help="the expression in words")
    p = sub.add_parser(Image.NAME, help="guide by a reference face picture (a path the daemon can read)")
    p.add_argument("path", help="image file")
    p = sub.add_parser(Intensity.NAME, help="emotion intensity scale, 0..2")
    p.add_argument("scale", type=float, help="0 = neutral, 1 = as predicted, 2 = double")
    p = sub.add_parser(Mute.NAME, help="mute (1) or unmute (0) the input")
    p.add_argument("flag", type=int, choices=(0, 1), help="1 = mute, 0 = unmute")
    p = sub.add_parser(Gaze.NAME, help="where the eyes rest between saccades: YAW PITCH degrees (0 0 = the camera)")
    p.add_argument("yaw", type=float, help="degrees, positive toward the character's left")
    p.add_argument("pitch", type=float, help="degrees, positive up")
    p = sub.add_parser(HeadEyesSwitch.NAME, help="head motion and saccades on (1) or off (0)")
    p.add_argument("on", type=int, choices=(0, 1), help="1 = on, 0 = a still head")
    sub.add_parser(Status.NAME, help="print the daemon's current state (waits for the reply)")


def build(args: argparse.Namespace) -> bytes:
    """The OSC datagram for the chosen message (behind the token, when one is given)."""
    return with_token(_message(args), args.token)


def _message(args: argparse.Namespace) -> ControlMessage:
    what = args.what
    if what == Emotion.NAME:
        message = Emotion(args.label, args.strength)
    elif what == Text.NAME:
        message = Text(args.description)
    elif what == Image.NAME:
        message = Image(str(Path(args.path).expanduser().resolve()))
    elif what == Intensity.NAME:
        message = Intensity(args.scale)
    elif what == Mute.NAME:
        message = Mute(bool(args.flag))
    elif what == Gaze.NAME:
        message = Gaze(args.yaw, args.pitch)
    elif what == HeadEyesSwitch.NAME:
        message = HeadEyesSwitch(bool(args.on))
    else:
        message = Status()
    return message


def exchange(host: str, port: int, datagram: bytes, timeout: float) -> Message:
    """Send one message and wait for the daemon's answer to it (an ack or the status reply).

    No answer within `timeout` is a failure: UDP says nothing when nobody listens, so "sent"
    means nothing until the daemon has acknowledged it."""
    request = decode_datagram(datagram)[-1]  # the request (a token's bundle leads with /medtalk/auth)
    want = STATUS_REPLY if request.address == STATUS else ACK
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(datagram, (host, port))
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                data, _ = sock.recvfrom(65536)
                try:
                    (reply,) = decode_datagram(data)
                except (OscDecodeError, ValueError):
                    continue  # not an answer we understand: keep waiting
                if reply.address == want and (want == STATUS_REPLY or reply.args[:1] == (request.address,)):
                    return reply
        except (socket.timeout, ConnectionRefusedError):  # refused: the kernel saw no socket on the port
            pass
        except OSError as exc:
            raise MedtalkError(f"cannot send to {host}:{port}: {exc}") from None
    raise NoAnswer(f"no daemon answered at {host}:{port} within {timeout:g} s "
                   "(is `medtalk run` running with its control server on?)")


class NoAnswer(MedtalkError):
    """Nothing acknowledged the message: exit status 1, not a user mistake's 2."""


def request_status(host: str, port: int, timeout: float, token: str | None = None) -> dict:
    """Send /medtalk/status and wait for the reply (the daemon answers the sender's address)."""
    reply = exchange(host, port, with_token(Status(), token), timeout)
    if len(reply.args) != 1 or not isinstance(reply.args[0], str):
        raise MedtalkError(f"the status reply from {host}:{port} is malformed")
    return json.loads(reply.args[0])


def run(args: argparse.Namespace) -> int:
    from livelink_bridge.commands.run import parse_address

    host, port = parse_address(args.to, "--to")
    if not args.timeout > 0:
        raise MedtalkError(f"--timeout must be > 0 seconds, got {args.timeout}")
    try:
        if args.what == Status.NAME:
            state = request_status(host, port, args.timeout, args.token)
            for key in sorted(state):
                print(f"{key}: {state[key]}")
            return 0
        ack = exchange(host, port, build(args), args.timeout)
    except NoAnswer as exc:
        print(f"medtalk send: {exc}", file=sys.stderr)
        return 1
    ok, reason = (tuple(ack.args[1:3]) + (0, ""))[:2]
    if ok != 1:
        raise MedtalkError(f"the daemon at {host}:{port} rejected {args.what}: {reason}")
    print(f"{args.what} accepted by {host}:{port}")
    return 0
