"""Soak tests of the live daemon.

`--mix faults` (default): a looping file stream for `--minutes` with garbage control traffic,
the four hostile datagrams of issue 12, two 3 s `kill -STOP` stalls and NaN/inf bursts in the
audio. Prints RSS over time, late frames, the longest gap between frames at the receiver, the
gaps the daemon bridged and its exit status.

`--mix hostile`: speech streamed in real time over a WebSocket (`--source ws://`, as a TTS
would), with a token asked, while attackers on the same machine try every door: control
bursts without and with the token, garbage datagrams, idle WebSocket and TCP connections past
the cap, a client hogging the stream slot, web pages' origins, co-prime sample rates, deep JSON,
unfinished 250 KiB messages, and photo "bombs" (a 140-byte PNG declaring 100000 x 100000, one
declaring 12000 x 12000) and paths outside the allowed folders. Prints RSS, frames per second
and the longest gap at the receiver, late frames, status answers, refusals and tracebacks.

    python benchmarks/soak.py --minutes 10 [--mix faults|hostile] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_control_hostile import ISSUE_DATAGRAMS  # noqa: E402
from udp_receivers import OscCollector, wait_for  # noqa: E402

from livelink_bridge.commands.send import request_status  # noqa: E402
from livelink_bridge.sources import example_path  # noqa: E402
from medtalk_core.audio import SAMPLE_RATE, load_audio  # noqa: E402


def nan_speech(path: Path) -> int:
    """The example speech as float WAV with NaN and inf bursts; returns the bad samples per loop."""
    audio = load_audio(example_path()).copy()
    for start in range(SAMPLE_RATE, audio.shape[0] - SAMPLE_RATE, 4 * SAMPLE_RATE):
        audio[start:start + 50] = np.nan
        audio[start + 1000:start + 1010] = np.inf
    sf.write(str(path), audio, SAMPLE_RATE, subtype="FLOAT")
    return int(np.count_nonzero(~np.isfinite(audio)))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def garbage(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    """About 200 datagrams a second: random bytes, mutated OSC, and the issue's four."""
    rng = random.Random(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while not stop.wait(0.005):
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
            if rng.random() < 0.05:
                data = rng.choice(ISSUE_DATAGRAMS)
            s.sendto(data, ("127.0.0.1", port))
            counts["datagrams"] += 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the stream (default 10)")
    p.add_argument("--mix", choices=("faults", "hostile"), default="faults", help="what the daemon endures")
    p.add_argument("--checkpoint", help="model checkpoint (default: the shipped live model)")
    p.add_argument("--stall-s", type=float, default=3.0, help="length of each of the two stalls (faults)")
    args = p.parse_args()
    return hostile(args) if args.mix == "hostile" else faults(args)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faults(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="medtalk_soak_"))
    wav = tmp / "speech_nan.wav"
    bad_per_loop = nan_speech(wav)
    osc = OscCollector()
    port = free_port()
    cmd = [sys.executable, "-m", "livelink_bridge.cli", "run", "--source", f"file:{wav}", "--loop",
           "--osc", f"127.0.0.1:{osc.port}", "--control", f"127.0.0.1:{port}"]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    log = tmp / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    stop, counts = threading.Event(), {"datagrams": 0}
    flood = threading.Thread(target=garbage, args=(port, stop, counts), daemon=True)
    try:
        if not wait_for(lambda: len(osc.frames()) > 60, timeout=120):
            print(log.read_text())
            return 1
        flood.start()
        duration = args.minutes * 60.0
        start = time.monotonic()
        stalls = [duration / 3, 2 * duration / 3]
        rss: list[tuple[float, float]] = []
        status: dict = {}
        while (elapsed := time.monotonic() - start) < duration:
            if stalls and elapsed >= stalls[0]:
                stalls.pop(0)
                proc.send_signal(signal.SIGSTOP)
                time.sleep(args.stall_s)
                proc.send_signal(signal.SIGCONT)
            if not rss or elapsed - rss[-1][0] >= duration / 10:
                rss.append((elapsed, rss_mb(proc.pid)))
            time.sleep(0.5)
        rss.append((time.monotonic() - start, rss_mb(proc.pid)))
        status = request_status("127.0.0.1", port, timeout=5.0)
    finally:
        stop.set()
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        t_term = time.monotonic()
        code = proc.wait(timeout=60)
        exit_s = time.monotonic() - t_term
        osc.close()
    times = np.array([t for t, _ in osc.frames()])
    gaps = np.diff(times) if times.size > 1 else np.zeros(1)
    indices = [a[0] for _, a in osc.frames()]
    print(f"soak: {args.minutes:g} min, {counts['datagrams']} garbage/hostile control datagrams, "
          f"two {args.stall_s:g} s stalls, {bad_per_loop} NaN/inf samples per {load_audio(wav).shape[0] / SAMPLE_RATE:.0f} s loop")
    print("| minute | RSS MB |")
    print("|---|---|")
    for t, mb in rss:
        print(f"| {t / 60:.1f} | {mb:.0f} |")
    print()
    print("| frames received | late (daemon) | skipped indices | bridged gaps | audio skipped s | longest gap at receiver s | "
          "longest gap outside stalls s | bad samples zeroed | indices in order | exit status | SIGTERM to exit s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    outside = np.sort(gaps)[-3] if gaps.size >= 3 else gaps.max()  # the two stalls are the two longest
    print(f"| {times.size} | {status.get('late_frames')} | {status.get('skipped_frames')} | {status.get('gaps')} | "
          f"{status.get('gap_s')} | {gaps.max():.2f} | {outside:.3f} | {status.get('bad_samples')} | "
          f"{indices == sorted(set(indices))} | {code} | {exit_s:.2f} |")
    return 0 if code == 0 else 1


TOKEN = "soak-token"


class Attackers:
    """Threads that each try one door of the daemon in a loop; `counts` says how often."""

    def __init__(self, ws_port: int, control_port: int, folder: Path) -> None:
        self.ws_url = f"ws://127.0.0.1:{ws_port}"
        self.ws_port, self.control_port, self.folder = ws_port, control_port, folder
        self.stop = threading.Event()
        self.counts: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self.idle: list = []  # connections held open, closed at the end
        big = folder / "bomb_12000.png"
        write_png_header(big, 12000, 12000)
        write_png_header(folder / "bomb_100000.png", 100000, 100000)
        self.bombs = [str(big), str(folder / "bomb_100000.png"), "/etc/shadow", "~/.bashrc", "../../etc/hostname"]

    def start(self) -> "Attackers":
        for name, loop in (("control bursts", self._bursts), ("idle connections", self._idle),
                           ("slot hogs and headers", self._hogs), ("unfinished messages", self._unfinished),
                           ("photo bombs", self._photos)):
            t = threading.Thread(target=self._forever, args=(name, loop), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _forever(self, name: str, loop) -> None:
        self.counts[name] = 0
        while not self.stop.is_set():
            try:
                loop()
            except Exception:  # a refusal shows up as an error on the attacker's side: that is the point
                self.stop.wait(0.02)
            self.counts[name] += 1

    def _bursts(self) -> None:
        """500 guidance messages at once, alternately without and with the token."""
        from livelink_bridge.control.messages import Emotion, Intensity, with_token

        token = TOKEN if self.counts["control bursts"] % 2 else None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for k in range(500):
                message = Intensity(round(0.5 + (k % 10) / 10, 2)) if k % 2 else Emotion(("happy", "sad")[k % 4 // 2])
                s.sendto(with_token(message, token), ("127.0.0.1", self.control_port))
        self.stop.wait(2.0)

    def _idle(self) -> None:
        """Up to 40 connections that connect and say nothing (half WebSocket handshakes)."""
        sock = socket.create_connection(("127.0.0.1", self.ws_port), timeout=2)
        if len(self.idle) % 2:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a handshake never finished
        self.idle.append(sock)
        if len(self.idle) > 40:
            self.idle.pop(0).close()
        self.stop.wait(0.1)

    def _hogs(self) -> None:
        """A header and then nothing (takes the slot when free), a page's origin, a co-prime rate."""
        from websockets.sync.client import connect

        header = {"sample_rate": 16000, "channels": 1, "format": "pcm16", "token": TOKEN}
        variant = self.counts["slot hogs and headers"] % 3
        kwargs = {"origin": "http://evil.example"} if variant == 1 else {}
        if variant == 2:
            header["sample_rate"] = 191999
        with connect(self.ws_url, compression=None, open_timeout=3, **kwargs) as ws:
            ws.send(json.dumps(header))
            ws.recv(timeout=15)  # refused at once, or closed as idle
        self.stop.wait(1.0)

    def _unfinished(self) -> None:
        """A WebSocket frame header announcing 250 KiB, then 100 KiB of it, then silence."""
        sock = socket.create_connection(("127.0.0.1", self.ws_port), timeout=3)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock.recv(4096)
        size = 250 * 1024
        sock.sendall(bytes([0x82, 0xFF]) + size.to_bytes(8, "big") + b"\0\0\0\0" + bytes(100 * 1024))
        self.stop.wait(5.0)
        sock.close()

    def _photos(self) -> None:
        from livelink_bridge.control.messages import Image, with_token

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for path in self.bombs:
                s.sendto(with_token(Image(path), TOKEN), ("127.0.0.1", self.control_port))
        self.stop.wait(3.0)

    def close(self) -> None:
        self.stop.set()
        for sock in self.idle:
            sock.close()


def write_png_header(path: Path, width: int, height: int) -> None:
    """A PNG of a few dozen bytes that declares width x height (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(16)))
                     + chunk(b"IEND", b""))


def speaker(url: str, stop: threading.Event, counts: dict[str, int]) -> None:
    """The legitimate client: the example speech in real time, 20 ms messages, over and over on
    one connection, with a deeply nested (buggy) control message now and then."""
    from websockets.sync.client import connect

    audio = (np.clip(load_audio(example_path()), -1, 1) * 32767).astype("<i2")
    step = SAMPLE_RATE // 50
    while not stop.is_set():
        try:
            with connect(url, compression=None, open_timeout=5) as ws:
                ws.send(json.dumps({"sample_rate": SAMPLE_RATE, "channels": 1, "format": "pcm16", "token": TOKEN}))
                counts["speaker connections"] += 1
                start, k = time.monotonic(), 0
                while not stop.is_set():
                    first = (k * step) % (audio.shape[0] - step)
                    time.sleep(max(0.0, start + k * 0.02 - time.monotonic()))
                    ws.send(audio[first:first + step].tobytes())
                    if k % 500 == 250:
                        ws.send("[" * 5000 + "]" * 5000)
                        counts["speaker errors told"] += "nested too deeply" in ws.recv(timeout=5)
                    k += 1
        except Exception:  # refused as busy while a hog holds the slot: try again
            counts["speaker refused"] += 1
            stop.wait(0.5)


def hostile(args: argparse.Namespace) -> int:
    import os

    tmp = Path(tempfile.mkdtemp(prefix="medtalk_soak_hostile_"))
    osc = OscCollector()
    ws_port, control_port = free_port(), free_port(socket.SOCK_DGRAM)
    cmd = [sys.executable, "-m", "livelink_bridge.cli", "run", "--source", f"ws://127.0.0.1:{ws_port}",
           "--osc", f"127.0.0.1:{osc.port}", "--control", f"127.0.0.1:{control_port}", "--image-folder", str(tmp)]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    log = tmp / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "MEDTALK_TOKEN": TOKEN})
    stop, counts = threading.Event(), {"datagrams": 0, "speaker connections": 0, "speaker refused": 0,
                                       "speaker errors told": 0}
    attackers = Attackers(ws_port, control_port, tmp)
    talker = threading.Thread(target=speaker, args=(f"ws://127.0.0.1:{ws_port}", stop, counts), daemon=True)
    flood = threading.Thread(target=garbage, args=(control_port, stop, counts), daemon=True)
    rss: list[tuple[float, float]] = []
    answered = asked = 0
    try:
        if not wait_for(lambda: len(osc.frames()) > 60, timeout=120):
            print(log.read_text())
            return 1
        talker.start()
        wait_for(lambda: counts["speaker connections"] > 0, timeout=10)
        base_frames = len(osc.frames())
        flood.start()
        attackers.start()
        duration = args.minutes * 60.0
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < duration:
            if not rss or elapsed - rss[-1][0] >= duration / 10:
                rss.append((elapsed, rss_mb(proc.pid)))
                asked += 1
                try:
                    request_status("127.0.0.1", control_port, timeout=2.0, token=TOKEN)
                    answered += 1
                except Exception:
                    pass
            time.sleep(0.5)
        rss.append((time.monotonic() - start, rss_mb(proc.pid)))
        status = request_status("127.0.0.1", control_port, timeout=5.0, token=TOKEN)
        frames = osc.frames()[base_frames:]
    finally:
        stop.set()
        attackers.close()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        osc.close()
    times = np.array([t for t, _ in frames])
    gaps = np.diff(times)
    text = log.read_text()
    refusals = sum(1 for line in text.splitlines() if "refused" in line or "closed:" in line or "rejected" in line)
    print(f"hostile soak: {args.minutes:g} min; attacker loops: "
          + ", ".join(f"{name} {n}" for name, n in attackers.counts.items())
          + f"; garbage datagrams {counts['datagrams']}; speaker connections {counts['speaker connections']}, "
          f"refused {counts['speaker refused']}, deep JSON answered {counts['speaker errors told']}")
    print("| minute | RSS MB |")
    print("|---|---|")
    for t, mb in rss:
        print(f"| {t / 60:.1f} | {mb:.0f} |")
    print()
    print("| frames received | frames/s | longest gap at receiver ms | gaps > 500 ms | late (daemon) | status answered | "
          "log lines (refusals) | log lines in all | tracebacks | exit status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {times.size} | {times.size / (times[-1] - times[0]):.1f} | {1000 * gaps.max():.0f} | "
          f"{int(np.count_nonzero(gaps > 0.5))} | {status.get('late_frames')} | {answered}/{asked} | {refusals} | "
          f"{len(text.splitlines())} | {text.count('Traceback')} | {code} |")
    print(f"RSS growth {rss[-1][1] - rss[0][1]:+.0f} MB; daemon log: {log}")
    return 0 if code == 0 and text.count("Traceback") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
