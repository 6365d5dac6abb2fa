"""The `medtalk` entry point: subcommands discovered from `medtalk_core.commands` (model
development) and `livelink_bridge.commands` (live and offline animation).

User mistakes (MedtalkError) print one line and exit 2; Ctrl-C exits 130; nothing else is caught,
so a real bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from types import ModuleType

from medtalk_core import __version__
from medtalk_core.errors import MedtalkError

from medtalk_core import commands as model_commands

from livelink_bridge import commands as animation_commands


def _command_modules() -> list[ModuleType]:
    found = []
    for package in (model_commands, animation_commands):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            if hasattr(module, "NAME"):  # the rest are the commands' helpers
                found.append(module)
    return sorted(found, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medtalk",
        description="Speech to MetaHuman face animation with controllable emotion (MEDTalk).",
    )
    parser.add_argument("--version", action="version", version=f"medtalk-bridge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except MedtalkError as exc:
        print(f"medtalk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medtalk {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
