"""`medtalk run`: the live daemon (microphone or file in, MetaHuman animation out)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from typing import Any

from medtalk_core.curve_sets import CURVE_SETS
from medtalk_core.errors import MedtalkError
from medtalk_core.expressions import FACE_BOARDS
from medtalk_core.rig import emotion_id

from livelink_bridge.commands._model_flags import add_model_flags, flag_overrides

NAME = "run"
HELP = "stream live: microphone or audio file in, MetaHuman face animation out (OSC / Live Link Face)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", help="daemon config (default: built-in defaults, "
                        "the same as configs/default.yaml)")
    parser.add_argument("--source", metavar="mic|file:PATH|example|ws://HOST:PORT|tcp://HOST:PORT",
                        help="audio input: the microphone, an audio file, the packaged English example, or speech "
                             "streamed in by another program (the daemon listens; docs/PROTOCOL.md section 5)")
    parser.add_argument("--input-device", metavar="NAME|INDEX", help="microphone by name or index (see `medtalk devices`)")
    parser.add_argument("--emotion", metavar="LABEL", help="emotion at start (angry, disgust, fear, happy, neutral, sad, surprised or 0-6)")
    parser.add_argument("--osc", metavar="HOST:PORT|off", help="OSC frames to our Unreal plugin (default 127.0.0.1:9000)")
    parser.add_argument("--curve-set", choices=CURVE_SETS,
                        help="OSC curves: the 174 board controls or the derived CTRL_expressions_* curves")
    parser.add_argument("--face-board", choices=FACE_BOARDS,
                        help="board whose wiring derives the expressions curves: classic (default) or mh4, "
                        "the newer MetaHuman board")
    parser.add_argument("--livelink-face", metavar="HOST:PORT", help="also send Live Link Face (ARKit) packets, e.g. 127.0.0.1:11111")
    parser.add_argument("--subject", metavar="NAME",
                        help="Live Link subject name on both routes (default MEDTalk); one per daemon when several "
                             "daemons drive several characters through one Unreal source")
    parser.add_argument("--device-id", metavar="ID",
                        help="Live Link Face device id (default: a new UUID each run)")
    parser.add_argument("--control", metavar="HOST:PORT|off", help="OSC control server address (default 127.0.0.1:9001)")
    parser.add_argument("--record", metavar="DIR", help="record every sent frame to DIR (CSV + the release's txt)")
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="checkpoint folder or shipped:NAME: default, live, live_1frame (default: shipped:live)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--realtime", dest="realtime", action="store_true", default=None,
                      help="pace a file source in real time (the default)")
    pace.add_argument("--fast", dest="realtime", action="store_false",
                      help="stream a file source as fast as possible (no output clock)")
    parser.add_argument("--loop", action="store_true", default=None, help="start a file source over at its end")
    parser.add_argument("--monitor", nargs="?", const="", metavar="DEVICE",
                        help="play a file or network source on an output device (default: the system's), each "
                             "sample heard when its frame is sent (`python -m sounddevice` lists devices)")
    add_model_flags(parser, config=False)


def parse_address(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise MedtalkError(f"{flag} takes HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    return host, int(port)


def apply_flags(cfg: Any, args: argparse.Namespace) -> Any:
    """Config + command-line flags -> config; conflicting flags raise MedtalkError."""
    rep = dataclasses.replace
    src = cfg.source
    if args.source is not None:
        if args.source == "mic":
            src = rep(src, kind="mic", path=None)
        elif args.source == "example":
            src = rep(src, kind="example", path=None)
        elif args.source.startswith("file:") and len(args.source) > 5:
            src = rep(src, kind="file", path=args.source[5:])
        elif args.source.startswith(("ws://", "tcp://")):
            from livelink_bridge.sources.listeners import parse_listen_url

            parse_listen_url(args.source)
            src = rep(src, kind="network", path=None, listen=args.source)
        else:
            raise MedtalkError(f"--source takes mic, example, file:PATH, ws://HOST:PORT or tcp://HOST:PORT, "
                               f"got {args.source!r}")
    if args.input_device is not None:
        src = rep(src, input_device=args.input_device)
    if args.realtime is not None:
        src = rep(src, realtime=args.realtime)
    if args.loop:
        src = rep(src, loop=True)
    if src.kind == "mic":
        if args.realtime is False:
            raise MedtalkError("--fast needs a file source: a microphone is real time by nature")
        if args.loop:
            raise MedtalkError("--loop needs a file source")
    elif args.input_device is not None:
        raise MedtalkError("--input-device only applies to --source mic")
    if src.kind == "network" and (args.realtime is False or args.loop):
        raise MedtalkError("--fast and --loop need a file source: a network stream comes in real time")
    if src.loop and not src.realtime:
        raise MedtalkError("--loop with --fast would never end; use --realtime with --loop")
    monitor = cfg.monitor
    if args.monitor is not None:
        if src.kind == "mic":
            raise MedtalkError("--monitor plays a file or network source; a microphone is heard directly")
        if src.kind != "network" and not src.realtime:
            raise MedtalkError("--monitor needs real-time pacing, not --fast")
        monitor = rep(monitor, enabled=True, device=args.monitor or None)

    t = cfg.transports
    if args.osc is not None:
        if args.osc == "off":
            t = rep(t, osc=rep(t.osc, enabled=False))
        else:
            host, port = parse_address(args.osc, "--osc")
            t = rep(t, osc=rep(t.osc, enabled=True, host=host, port=port))
    if args.curve_set is not None:
        t = rep(t, osc=rep(t.osc, curve_set=args.curve_set))
    if args.face_board is not None:
        t = rep(t, osc=rep(t.osc, face_board=args.face_board))
    if args.livelink_face is not None:
        host, port = parse_address(args.livelink_face, "--livelink-face")
        t = rep(t, livelink_face=rep(t.livelink_face, enabled=True, host=host, port=port))
    if args.subject is not None:
        t = rep(t, osc=rep(t.osc, subject=args.subject), livelink_face=rep(t.livelink_face, subject=args.subject))
    if args.device_id is not None:
        t = rep(t, livelink_face=rep(t.livelink_face, device_id=args.device_id))
    if args.record is not None:
        t = rep(t, recorder=rep(t.recorder, enabled=True, directory=args.record))

    c = cfg.control
    if args.control is not None:
        if args.control == "off":
            c = rep(c, enabled=False)
        else:
            host, port = parse_address(args.control, "--control")
            c = rep(c, enabled=True, host=host, port=port)
    if args.emotion is not None:
        emotion_id(args.emotion)  # one clear error for an unknown label, before any model loads
        c = rep(c, emotion=args.emotion)
    model = cfg.model if args.checkpoint is None else rep(cfg.model, checkpoint=args.checkpoint)
    if args.mode is not None:
        model = rep(model, mode=args.mode)
    return rep(cfg, source=src, transports=t, control=c, model=model, monitor=monitor,
               backbones=flag_overrides(args, cfg.backbones))


def run(args: argparse.Namespace) -> int:
    from livelink_bridge.daemon import Daemon
    from livelink_bridge.daemon_config import load_daemon_config, validate

    cfg = validate(apply_flags(load_daemon_config(args.config), args))
    daemon = Daemon(cfg)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:  # clean stop: recorder flushed, sockets closed
        received.append(signum)
        daemon.stop()

    for sig in previous:
        signal.signal(sig, stop)
    try:
        daemon.start()
        code = daemon.run()
    finally:
        daemon.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in received:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process at once after SIGTERM: everything is closed, flushed and joined (recorder,
    sockets, the transcriber child), and the interpreter's own teardown of torch takes seconds
    on a loaded machine, while SIGTERM must end the daemon and its children within 2 s."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
