"""The live face under load: `medtalk run` (a real process, as a user starts it) streams real
speech in real time for N minutes while the guidance changes every 5 s (label, description,
photo in turn, the first of each included), optionally with busy processes beside it (--hog K)
and bursts of control requests (--burst: 1,000 descriptions in 1 s every minute).

    python3 benchmarks/live_under_load.py [--minutes 10] [--hog K] [--hog-stop-s 90] [--burst]
        [--panel-tabs N [--screenshot PNG]] [--audio WAV_OR_FOLDER] [--device cuda] [--config YAML]
        [--table FILE --label NAME]

With --panel-tabs the daemon serves its browser panel (`--panel`) and N tabs of headless
Chromium (Debian's, through selenium) keep it open, their background throttling off, so every
tab takes every frame the panel sends; --screenshot saves the first tab at the end.

Reported, over the measured window (after start-up, the panel's browser included): late frames
(the daemon's count: frames not final at their deadline), continued frames
(late frames with no model prediction to stand in), the longest held pose at the receiver (the
same 174 values frame after frame), the longest gap between frames at a plain UDP receiver,
guidance-to-face latency p50/p95 per kind (from the request to the first frame whose upper face
has moved a tenth of the way from the pose before the change to the pose after it), the playout
delay over time, and the RSS of the daemon and its children. With --hog the busy processes stop
--hog-stop-s before the end, and the delay a minute after that is reported.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
from md_table import append_rows  # noqa: E402
from udp_receivers import RawCollector  # noqa: E402  (a test helper: a plain UDP socket on 127.0.0.1)

from livelink_bridge.commands.send import request_status  # noqa: E402
from livelink_bridge.control.messages import ControlMessage, Emotion, Image, Text  # noqa: E402
from livelink_bridge.control.wire import OscDecodeError, decode_datagram  # noqa: E402
from medtalk_core.audio import load_audio, write_audio  # noqa: E402
from medtalk_core.rig import EMOTIONS, s_up  # noqa: E402

FACES = REPO / "tests" / "fixtures" / "faces"
REAL_SPEECH = REPO.parent / "shared" / "data" / "real_speech_sample"
CHANGE_EVERY_S = 5.0
BURST_EVERY_S = 60.0
BURST_SIZE = 1000
DESCRIPTIONS = ["a tired smile", "furrowed brows and a frown", "wide eyes, raised brows", "a big grin",
                "a sad, downturned mouth", "squinting, angry eyes"]
MOVED = 0.1  # a frame has "moved toward" the new guidance at this fraction of the way


def received_frames(receiver: RawCollector) -> tuple[np.ndarray, np.ndarray]:
    """(receive times (N,), values (N, 174)) of the frame messages a receiver got."""
    times, values = [], []
    for t, data in list(receiver.packets):
        try:
            (message,) = decode_datagram(data)
        except (OscDecodeError, ValueError):
            continue
        if message.address.endswith("/frame"):
            times.append(t)
            values.append(message.args[-174:])
    return np.asarray(times), np.asarray(values, np.float32)


def _send(port: int, message: ControlMessage) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), ("127.0.0.1", port))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _speech(path: Path | None, folder: Path) -> Path:
    """One wav of real speech: the file given, or every wav of a folder one after another."""
    if path is not None and path.is_file():
        return path
    source = path if path is not None else REAL_SPEECH
    wavs = sorted(source.glob("*.wav")) if source.is_dir() else []
    if not wavs:
        raise SystemExit(f"no speech found at {source}: pass --audio WAV_OR_FOLDER")
    out = folder / "speech.wav"
    write_audio(out, np.concatenate([load_audio(w) for w in wavs]))
    return out


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _hog() -> None:
    while True:
        pass


def _changes() -> itertools.cycle:
    """(kind, message) in turn: label, description, photo."""
    labels = [e for e in EMOTIONS if e != "neutral"]
    photos = sorted(FACES.glob("*.jpg"))
    turns = []
    for i in range(max(len(labels), len(DESCRIPTIONS), len(photos))):
        label = labels[i % len(labels)]
        text = DESCRIPTIONS[i % len(DESCRIPTIONS)]
        photo = photos[i % len(photos)]
        turns += [("label", Emotion(label)), ("description", Text(text)), ("photo", Image(str(photo)))]
    return itertools.cycle(turns)


def guidance_latency(times: np.ndarray, values: np.ndarray, changes: list[tuple[str, float]]) -> dict[str, list]:
    """Per kind: seconds from each request to the first of 3 frames in a row whose upper face has
    moved MOVED of the way from the pose before it to the pose after it."""
    up = np.asarray(s_up())
    face = values[:, up]
    out: dict[str, list] = {}
    ends = [t for _, t in changes[1:]] + [changes[-1][1] + CHANGE_EVERY_S if changes else 0.0]
    for (kind, t0), t_next in zip(changes, ends):
        before = face[(times >= t0 - 0.5) & (times < t0)]
        after = face[(times >= t0 + 2.0) & (times < min(t_next, t0 + 3.5))]
        if len(before) < 10 or len(after) < 10:
            continue
        b, a = before.mean(axis=0), after.mean(axis=0)
        d = a - b
        if float(np.abs(d).max()) < 0.02:  # no visible change of the upper face: nothing to time
            out.setdefault(kind, [])
            continue
        idx = np.flatnonzero((times >= t0) & (times < t0 + 3.5))
        progress = (face[idx] - b) @ d / float(d @ d)
        moved = progress >= MOVED
        run = np.convolve(moved.astype(int), np.ones(3, int), mode="valid") == 3
        if run.any():
            out.setdefault(kind, []).append(float(times[idx[int(np.argmax(run))]] - t0))
    return out


def held_pose_ms(values: np.ndarray) -> float:
    """Longest run of identical consecutive frames at the receiver, in ms of 60 fps frames."""
    same = np.all(values[1:] == values[:-1], axis=1)
    longest = run = 0
    for s in same:
        run = run + 1 if s else 0
        longest = max(longest, run)
    return 1000.0 * longest / 60.0


def _panel_tabs(log: Path, tabs: int):
    """Headless Chromium with `tabs` tabs on the panel the daemon printed, each one live."""
    import re

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    url = re.search(r"panel: (http://\S+)", log.read_text())
    if url is None:
        raise SystemExit(f"the daemon printed no panel URL: see {log}")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,620",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    for n in range(tabs):
        if n:
            browser.switch_to.new_window("tab")
        browser.get(url.group(1))
        deadline = time.time() + 10
        while browser.find_element(By.ID, "connection").text != "live":
            if time.time() > deadline:
                raise SystemExit("a panel tab did not connect")
            time.sleep(0.1)
    return browser


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to stream")
    ap.add_argument("--hog", type=int, default=0, help="busy processes at normal priority beside the daemon")
    ap.add_argument("--hog-stop-s", type=float, default=90.0, help="the hogs stop this long before the end")
    ap.add_argument("--burst", action="store_true", help="1,000 description requests in 1 s every minute")
    ap.add_argument("--audio", type=Path, default=None, help="speech wav, or a folder of wavs played in turn "
                                                            "(default: ../shared/data/real_speech_sample)")
    ap.add_argument("--device", default=None, help="the model's device (cuda, cpu)")
    ap.add_argument("--config", type=Path, default=None, help="daemon YAML (default: the built-in defaults)")
    ap.add_argument("--panel-tabs", type=int, default=0, help="browser tabs with the panel open (0: no panel)")
    ap.add_argument("--screenshot", type=Path, default=None, help="with --panel-tabs: save the first tab here")
    ap.add_argument("--table", type=Path, default=None, help="append the result rows to this markdown file")
    ap.add_argument("--label", default=None, help="row label in --table (default: the options)")
    args = ap.parse_args()
    label = args.label or (f"hog {args.hog}" if args.hog else "burst" if args.burst else "no hog")
    if args.panel_tabs and args.label is None:
        label += f", panel x{args.panel_tabs}"

    work = Path(tempfile.mkdtemp(prefix="live_under_load_"))
    speech = _speech(args.audio, work)
    cfg = args.config or work / "run.yaml"
    if args.config is None:
        cfg.write_text("model:\n  transcribe: true\nstatus:\n  interval_s: 10\n")
    receiver, port = RawCollector(), _free_port()
    cmd = [sys.executable, "-m", "livelink_bridge.cli", "run", "--config", str(cfg), "--source", f"file:{speech}",
           "--loop", "--osc", f"127.0.0.1:{receiver.port}", "--curve-set", "board", "--control", f"127.0.0.1:{port}"]
    if args.device:
        cmd += ["--device", args.device]
    if args.panel_tabs:
        cmd += ["--panel", f"127.0.0.1:{_free_port()}"]
    log = (work / "run.log").open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    hogs: list[subprocess.Popen] = []
    changes: list[tuple[str, float]] = []
    delays: list[tuple[float, float]] = []
    rss: list[float] = []
    burst_checks: list[bool] = []
    browser = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.5)
            try:
                if request_status("127.0.0.1", port, 1.0).get("frames_sent", 0) > 60:
                    break
            except Exception:  # noqa: BLE001 - still starting
                continue
        else:
            raise SystemExit(f"the daemon did not start: see {work / 'run.log'}")
        if args.panel_tabs:
            browser = _panel_tabs(work / "run.log", args.panel_tabs)
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hog)]
        at_start = request_status("127.0.0.1", port, 5.0)  # the counts below are the window's own
        start = time.time()
        end = start + 60 * args.minutes
        hog_stop = end - args.hog_stop_s if args.hog else None
        turns = _changes()
        next_change, next_burst, next_poll = start, start + BURST_EVERY_S / 2, start
        while time.time() < end:
            now = time.time()
            if hog_stop is not None and now >= hog_stop and hogs:
                for h in hogs:
                    h.kill()
                hogs = []
            if now >= next_change:
                kind, message = next(turns)
                changes.append((kind, time.time()))
                _send(port, message)
                next_change += CHANGE_EVERY_S
            if args.burst and now >= next_burst:
                for i in range(BURST_SIZE):
                    _send(port, Text(DESCRIPTIONS[i % len(DESCRIPTIONS)]))
                    time.sleep(max(0.0, next_burst + (i + 1) / BURST_SIZE - time.time()))
                final = "a faint smile"
                _send(port, Text(final))
                time.sleep(2.0)
                try:
                    burst_checks.append(request_status("127.0.0.1", port, 2.0).get("guidance") == f"text: {final}")
                except Exception:  # noqa: BLE001 - an unanswered status counts as a failed check
                    burst_checks.append(False)
                next_burst += BURST_EVERY_S
                next_change = max(next_change, time.time())
            if now >= next_poll:
                try:
                    status = request_status("127.0.0.1", port, 1.0)
                    delays.append((now - start, float(status.get("playout_delay_ms") or 0.0)))
                except Exception:  # noqa: BLE001 - a missed poll is a missing point, not a failure
                    pass
                rss.append(_rss_mb(proc.pid))
                next_poll += 1.0
            time.sleep(0.005)
        final_status = request_status("127.0.0.1", port, 5.0)
        if browser is not None and args.screenshot:
            browser.switch_to.window(browser.window_handles[0])
            browser.save_screenshot(str(args.screenshot))
    finally:
        if browser is not None:
            browser.quit()
        for h in hogs:
            h.kill()
        proc.terminate()
        proc.wait(30)
        log.close()
        receiver.close()

    times, values = received_frames(receiver)
    keep = times >= start
    times, values = times[keep], values[keep]
    gaps = np.diff(times) if times.size > 1 else np.zeros(1)
    latency = guidance_latency(times, values, [(k, t) for k, t in changes])
    d = np.asarray(delays)
    after_hog = None
    if args.hog and d.size:
        t_stop = end - args.hog_stop_s - start
        near = d[np.abs(d[:, 0] - (t_stop + 60)) < 2]
        after_hog = float(near[:, 1].mean()) if near.size else None

    def pct(kind: str, q: float) -> str:
        v = latency.get(kind, [])
        return f"{1000 * np.percentile(v, q):.0f}" if v else "-"

    sent = final_status["frames_sent"] - at_start["frames_sent"]
    late = final_status["late_frames"] - at_start["late_frames"]
    continued = final_status.get("continued_frames", 0) - at_start.get("continued_frames", 0)
    row = [label, f"{args.minutes:g}", sent, late, f"{100 * late / max(1, sent):.2f}%", continued,
           f"{held_pose_ms(values):.0f}", f"{1000 * gaps.max():.0f}",
           f"{pct('label', 50)}/{pct('label', 95)}", f"{pct('description', 50)}/{pct('description', 95)}",
           f"{pct('photo', 50)}/{pct('photo', 95)}",
           f"{d[:, 1].min():.0f}-{d[:, 1].max():.0f}" if d.size else "-",
           "-" if after_hog is None else f"{after_hog:.0f}",
           f"{min(rss):.0f}-{max(rss):.0f}" if rss else "-",
           "-" if not burst_checks else f"{sum(burst_checks)}/{len(burst_checks)}"]
    header = ["run", "minutes", "frames", "late", "late %", "continued", "longest held pose ms",
              "longest gap ms", "label ms p50/p95", "description ms p50/p95", "photo ms p50/p95",
              "playout delay ms (min-max)", "delay 60 s after hog", "RSS MB (daemon + children)",
              "burst: last request applied"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(str(c) for c in row) + " |")
    print(f"guidance changes: {len(changes)}; timed: " + ", ".join(f"{k} {len(v)}" for k, v in latency.items()))
    print("playout delay over time (s: ms): " + ", ".join(f"{t:.0f}: {v:.0f}" for t, v in d[:: max(1, len(d) // 20)]))
    print(f"log: {work / 'run.log'}")
    if args.table:
        append_rows(args.table, "Live under load", header, [row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
