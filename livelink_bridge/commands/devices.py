"""`medtalk devices`: list audio input devices for `medtalk run --input-device`."""

from __future__ import annotations

import argparse

NAME = "devices"
HELP = "list audio input devices (for `medtalk run --input-device`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: every input device is listed."""


def run(args: argparse.Namespace) -> int:
    from livelink_bridge.sources.mic import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("no audio input devices found (PortAudio sees none); use --source file:PATH or --source example")
        return 0
    print(f"{'index':>5}  {'ch':>2}  {'rate':>7}  name (host API)")
    for d in devices:
        mark = " *default" if d["default"] else ""
        print(f"{d['index']:>5}  {d['channels']:>2}  {d['rate']:>7.0f}  {d['name']} ({d['hostapi']}){mark}")
    return 0
