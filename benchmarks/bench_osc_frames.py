"""Cost of the OSC frame transport per 60 fps frame: encoding, and encoding + sendto on UDP
loopback, for both curve sets. Prints a table; run: python3 benchmarks/bench_osc_frames.py"""

from __future__ import annotations

import socket
import time

import numpy as np

from livelink_bridge.frames import RigFrame
from livelink_bridge.transports.osc_frames import OscFrameTransport
from medtalk_core import rig
from medtalk_core.curve_sets import CURVE_SETS

N = 2000


def main() -> None:
    rng = np.random.default_rng(0)
    low, high = rig.valid_ranges()
    frames = [RigFrame(i, 1e9 + i / 60, rng.uniform(low, high).astype(np.float32)) for i in range(N)]
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    port = sink.getsockname()[1]
    print(f"{'curve set':<12} {'curves':>6} {'bytes/frame':>11} {'encode us':>10} {'send us':>8} {'names pkts':>10}")
    for curve_set in CURVE_SETS:
        with OscFrameTransport("127.0.0.1", port, curve_set=curve_set) as tx:
            tx.open()
            size = len(tx.encode_frame(frames[0]))
            start = time.perf_counter()
            for frame in frames:
                tx.encode_frame(frame)
            encode_us = (time.perf_counter() - start) / N * 1e6
            start = time.perf_counter()
            for frame in frames:
                tx.send_frame(frame)
            send_us = (time.perf_counter() - start) / N * 1e6
            print(f"{curve_set:<12} {len(tx.names):>6} {size:>11} {encode_us:>10.1f} {send_us:>8.1f} "
                  f"{len(tx.names_packets()):>10}")
    sink.close()


if __name__ == "__main__":
    main()
