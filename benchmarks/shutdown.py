"""Shutdown always ends: `medtalk run` (shipped live model, transcriber on) is started N times; in
each run the transcriber child is killed at a random moment of the stream, then the daemon gets
SIGTERM at another random moment (or, with --eof, plays a short file to its end). Reported: runs
that did not end within --limit seconds (hangs), the slowest exit, and exit codes.

    python3 benchmarks/shutdown.py [--runs 50] [--limit 10] [--eof] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _children(pid: int) -> dict[str, int]:
    """The daemon's worker processes by the names they give themselves (mt-transcribe, mt-guidance)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out[(stat.parent / "comm").read_text().strip()] = int(stat.parent.name)
        except (OSError, ValueError, IndexError):
            continue
    return out


def one_run(rng: random.Random, work: Path, eof: bool, limit: float) -> tuple[float | None, int | None, str]:
    """(seconds from SIGTERM or end of file to exit, or None for a hang; exit code; what was done)."""
    cfg = work / "run.yaml"
    cfg.write_text("model:\n  transcribe: true\ncontrol:\n  enabled: false\n")
    source = ["--source", "example"] if eof else ["--source", "example", "--loop"]
    log = (work / "run.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "livelink_bridge.cli", "run", "--config", str(cfg), *source,
                             "--osc", "127.0.0.1:9"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        deadline = time.time() + 60
        while "mt-transcribe" not in _children(proc.pid) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 4.0))
        killed = _children(proc.pid).get("mt-transcribe")
        if killed is not None:
            os.kill(killed, signal.SIGKILL)
        what = f"transcriber killed {'(gone already)' if killed is None else ''}"
        if eof:
            start = time.time()
            end_by = start + 30 + limit  # the example is 12 s long
            while proc.poll() is None and time.time() < end_by:
                time.sleep(0.05)
            took = time.time() - start if proc.poll() is not None else None
            return took, proc.poll(), what + ", played to the end"
        time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(signal.SIGTERM)
        start = time.time()
        try:
            proc.wait(limit)
            return time.time() - start, proc.returncode, what + ", SIGTERM"
        except subprocess.TimeoutExpired:
            return None, None, what + ", SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="how many daemons to start and end")
    ap.add_argument("--limit", type=float, default=10.0, help="seconds after SIGTERM before a run counts as hung")
    ap.add_argument("--eof", action="store_true", help="let a non-looping file end instead of sending SIGTERM")
    ap.add_argument("--seed", type=int, default=0, help="seeds the random moments")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="shutdown_"))
    times, codes, hangs = [], [], 0
    for i in range(args.runs):
        took, code, what = one_run(rng, work, args.eof, args.limit)
        if took is None:
            hangs += 1
            print(f"run {i + 1}: HUNG ({what}); log kept at {work / f'hung_{i + 1}.log'}")
            (work / "run.log").rename(work / f"hung_{i + 1}.log")
        else:
            times.append(took)
            codes.append(code)
    t = np.asarray(times)
    mode = "end of file" if args.eof else "SIGTERM"
    print("| runs | ended by | hangs | exit codes | exit time p50 / max (s) |")
    print("|---|---|---|---|---|")
    print(f"| {args.runs} | {mode} | {hangs} | {sorted(set(codes))} | "
          f"{np.median(t):.2f} / {t.max():.2f} |" if t.size else f"| {args.runs} | {mode} | {hangs} | - | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
