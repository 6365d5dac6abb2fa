"""`medtalk run`: the live daemon (microphone or file in, MetaHuman animation out)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable

from medtalk_core.curve_sets import CURVE_SETS
from medtalk_core.errors import MedtalkError
from medtalk_core.expressions import FACE_BOARDS
from medtalk_core.rig import emotion_id

from medtalk_core.commands.model_flags import add_model_flags, flag_overrides

if TYPE_CHECKING:
    from livelink_bridge.daemon_config import DaemonConfig

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
    parser.add_argument("--panel", nargs="?", const="127.0.0.1:8766", metavar="HOST:PORT",
                        help="serve the control panel in the browser (default address 127.0.0.1:8766); its URL, "
                             "with the page's token, is printed at start")
    parser.add_argument("--head-eyes", action=argparse.BooleanOptionalAction, default=None,
                        help="head rotation and eye saccades driven by the speech, on Live Link Face packets "
                             "(default on; --no-head-eyes sends them as before)")
    parser.add_argument("--image-folder", action="append", metavar="DIR",
                        help="a folder image guidance may be read from, besides the current directory (repeatable; "
                             "replaces access.image_folders); a client's photo elsewhere is refused")
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


Fields = dict[str, Any]  # dotted config path -> value


def _source_fields(text: str) -> Fields:
    if text in ("mic", "example"):
        return {"source.kind": text, "source.path": None}
    if text.startswith("file:") and len(text) > 5:
        return {"source.kind": "file", "source.path": text[5:]}
    if text.startswith(("ws://", "tcp://")):
        from livelink_bridge.sources.listeners import parse_listen_url

        parse_listen_url(text)
        return {"source.kind": "network", "source.path": None, "source.listen": text}
    raise MedtalkError(f"--source takes mic, example, file:PATH, ws://HOST:PORT or tcp://HOST:PORT, got {text!r}")


def _endpoint_fields(flag: str, section: str) -> Callable[[str], Fields]:
    """HOST:PORT turns the part on there; `off` turns it off."""
    def fields(text: str) -> Fields:
        if text == "off":
            return {f"{section}.enabled": False}
        host, port = parse_address(text, flag)
        return {f"{section}.enabled": True, f"{section}.host": host, f"{section}.port": port}
    return fields


def _emotion_fields(label: str) -> Fields:
    emotion_id(label)  # one clear error for an unknown label, before any model loads
    return {"control.emotion": label}


# Each flag (its argparse dest) and the config fields it sets; a flag left out (None) sets nothing.
FLAG_FIELDS: dict[str, Callable[[Any], Fields]] = {
    "source": _source_fields,
    "input_device": lambda name: {"source.input_device": name},
    "realtime": lambda realtime: {"source.realtime": realtime},
    "loop": lambda loop: {"source.loop": loop},
    "monitor": lambda device: {"monitor.enabled": True, "monitor.device": device or None},
    "osc": _endpoint_fields("--osc", "transports.osc"),
    "curve_set": lambda name: {"transports.osc.curve_set": name},
    "face_board": lambda name: {"transports.osc.face_board": name},
    "livelink_face": _endpoint_fields("--livelink-face", "transports.livelink_face"),
    "subject": lambda name: {"transports.osc.subject": name, "transports.livelink_face.subject": name},
    "device_id": lambda name: {"transports.livelink_face.device_id": name},
    "panel": lambda address: dict(zip(("panel.enabled", "panel.host", "panel.port"),
                                      (True, *parse_address(address, "--panel")))),
    "head_eyes": lambda on: {"head_eyes.enabled": on},
    "image_folder": lambda folders: {"access.image_folders": tuple(folders)},
    "record": lambda folder: {"transports.recorder.enabled": True, "transports.recorder.directory": folder},
    "control": _endpoint_fields("--control", "control"),
    "emotion": _emotion_fields,
    "checkpoint": lambda path: {"model.checkpoint": path},
    "mode": lambda mode: {"model.mode": mode},
}


def _with_field(cfg: Any, path: str, value: Any) -> Any:
    head, _, rest = path.partition(".")
    return dataclasses.replace(cfg, **{head: _with_field(getattr(cfg, head), rest, value) if rest else value})


def apply_flags(cfg: DaemonConfig, args: argparse.Namespace) -> DaemonConfig:
    """Config + command-line flags -> config; conflicting flags raise MedtalkError (the config's own
    ranges are checked by `validate`)."""
    for dest, fields in FLAG_FIELDS.items():
        value = getattr(args, dest)
        if value is not None:
            for path, field_value in fields(value).items():
                cfg = _with_field(cfg, path, field_value)
    _check_flag_conflicts(cfg, args)
    return dataclasses.replace(cfg, backbones=flag_overrides(args, cfg.backbones))


def _check_flag_conflicts(cfg: DaemonConfig, args: argparse.Namespace) -> None:
    """Flags that make no sense with the source they end up with, named as the user typed them."""
    kind = cfg.source.kind
    fast = args.realtime is False
    if kind == "mic":
        if fast:
            raise MedtalkError("--fast needs a file source: a microphone is real time by nature")
        if args.loop:
            raise MedtalkError("--loop needs a file source")
        if args.monitor is not None:
            raise MedtalkError("--monitor plays a file or network source; a microphone is heard directly")
    elif args.input_device is not None:
        raise MedtalkError("--input-device only applies to --source mic")
    if kind == "network" and (fast or args.loop):
        raise MedtalkError("--fast and --loop need a file source: a network stream comes in real time")
    if cfg.source.loop and not cfg.source.realtime:
        raise MedtalkError("--loop with --fast would never end; use --realtime with --loop")
    if args.monitor is not None and kind != "network" and not cfg.source.realtime:
        raise MedtalkError("--monitor needs real-time pacing, not --fast")


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
