"""A live daemon on an injected microphone stream, as a process of its own, for the stall tests
(`kill -STOP` stops every thread of it, the fake driver's included, as it would a real one).

python tests/live_mic_child.py CHECKPOINT OSC_PORT CONTROL_PORT
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_sources import FakeDevice  # noqa: E402

from livelink_bridge.daemon import Daemon  # noqa: E402
from livelink_bridge.daemon_config import DaemonConfig  # noqa: E402
from livelink_bridge.sources.mic import MicSource  # noqa: E402

rep = dataclasses.replace


def main(checkpoint: str, osc_port: int, control_port: int) -> int:
    dev = FakeDevice(48000, 1)
    mic = MicSource(stream_factory=dev.open, device_query=dev.query)
    cfg = DaemonConfig()
    cfg = rep(cfg, source=rep(cfg.source, kind="mic"),
              transports=rep(cfg.transports, osc=rep(cfg.transports.osc, port=osc_port, curve_set="board")),
              control=rep(cfg.control, port=control_port, hotkeys=False),
              model=rep(cfg.model, checkpoint=checkpoint, transcribe=False))
    tone = (0.3 * np.sin(np.arange(480) * 2 * np.pi * 200 / 48000)).astype(np.float32)[:, None]
    done = threading.Event()

    def driver() -> None:
        """PortAudio's thread: the 10 ms blocks that real time has filled, while the stream is
        open; after a stop, what overran the driver's 100 ms buffer is lost, as with a real device."""
        t0, fed = time.time(), 0
        while not done.wait(0.01):
            due = int((time.time() - t0) / 0.01)
            fed = max(fed, due - 10)
            while fed < due and dev.streams and dev.streams[-1].active:
                dev.streams[-1].feed(tone)
                fed += 1

    daemon = Daemon(cfg, source=mic)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    feeder = threading.Thread(target=driver, daemon=True)
    try:
        daemon.start()
        feeder.start()
        return daemon.run()
    finally:
        done.set()
        daemon.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
