"""Soak test of the live daemon under faults (issue 12): a looping file stream for `--minutes`
with garbage control traffic, the four hostile datagrams of issue 12, two 3 s `kill -STOP`
stalls and NaN/inf bursts in the audio. Prints RSS over time, late frames, the longest gap
between frames at the receiver, the gaps the daemon bridged and its exit status.

    python benchmarks/soak.py --minutes 10 [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
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
    p.add_argument("--checkpoint", help="model checkpoint (default: the shipped live model)")
    p.add_argument("--stall-s", type=float, default=3.0, help="length of each of the two stalls")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="medtalk_soak_"))
    wav = tmp / "speech_nan.wav"
    bad_per_loop = nan_speech(wav)
    osc = OscCollector()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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


if __name__ == "__main__":
    sys.exit(main())
