"""Live latency of `medtalk run`: stream a file in real time (looping) through the model for a
while and report capture-to-send latency (p50/p95/p99), achieved fps, late frames, model time
per hop and CPU use, the end-to-end capture-to-receive latency at a UDP receiver, and when each
frame became final (capture-to-final: its maximum is the lowest playout delay the run would have
held with 0 late frames). With `--source mic` the file is played instead into a PulseAudio
virtual microphone (a private server with a null sink, tests/pulse_server.py; needs pulseaudio,
pulseaudio-utils and libasound2-plugins) and the daemon captures it through PortAudio as it would
a real one; the report then also says which capture clock the microphone's times follow, the
input latency its stream reports, and how long after capture each chunk was read.
Each profile's playout delay is the lowest 5 ms step at which a 10-minute run here had 0 late
frames (docs/LIVE.md, "Latency"); the table of late frames per delay is how it was found.

    python3 benchmarks/latency.py [--duration 120] [--checkpoint DIR | --tiny] [--audio WAV] [--config YAML]
        [--source file|mic] [--mic-rate 44100] [--device cuda] [--fp16] [--hops 33.3:33.3,66.7:66.7]
        [--transcript TEXT] [--table FILE --label NAME]

Frames go over real UDP (OSC) to 127.0.0.1; latency is measured when each frame is handed to the
last transport, and again when a plain UDP socket on its own thread receives the datagram (its
arrival time, taken before any parsing, against the capture time the frame carries). With several --hops
(hop_ms:lookahead_ms pairs) the model loads once and each pair streams for --duration; the
playout delay grows with the hop and the lookahead beyond the defaults' (same safety margin)
unless --playout-delay-ms is given. --fp16 loads the pretrained backbones in half precision (GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from pythonosc.osc_message import OscMessage  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pulse_server import VMIC_DEVICE, PulseServer  # noqa: E402  (a test helper: private PulseAudio)
from udp_receivers import RawCollector  # noqa: E402  (a test helper: a plain UDP socket on 127.0.0.1)

from device_options import backbone_overrides, device_name  # noqa: E402
from md_table import append_rows  # noqa: E402

from livelink_bridge.daemon import Daemon  # noqa: E402
from livelink_bridge.daemon_config import load_daemon_config  # noqa: E402
from livelink_bridge.frames import RigFrame  # noqa: E402
from livelink_bridge.sources import AudioChunk, example_path  # noqa: E402
from medtalk_core.audio import SAMPLE_RATE, load_audio, write_audio  # noqa: E402


class LatencyProbe:
    """A transport that records capture-to-send latency of every frame."""

    def __init__(self) -> None:
        self.latency: list[float] = []
        self.sent: list[float] = []  # when each frame was sent

    def open(self) -> "LatencyProbe":
        return self

    def send_frame(self, frame: RigFrame) -> None:
        now = time.time()
        self.latency.append(now - frame.capture_time)
        self.sent.append(now)

    def after(self, seconds: float) -> list[float]:
        """Latencies of the frames sent `seconds` after the first (an adaptive delay has settled)."""
        return [lat for t, lat in zip(self.sent, self.latency) if t - self.sent[0] >= seconds]

    def close(self) -> None:
        """Nothing to release."""


def frame_latencies(rx: RawCollector) -> list[float]:
    """Arrival - capture time of every frame datagram the receiver got (names lists skipped); the
    receiver stamps each datagram on arrival, before any parsing."""
    out = []
    for t, data in rx.packets:
        msg = OscMessage(data)
        if msg.address.endswith("/frame"):
            out.append(t - msg.params[1])
    return out


SETTLE_S = 60.0  # the adaptive playout delay's start-up peak (the first frames wait for the input) is gone


class ReadyProbe:
    """Wraps the clock's push: when each final frame reached the clock, after its capture. A frame
    is late exactly when this exceeds the playout delay, so its maximum over a run is the lowest
    delay that run would have held with 0 late frames (the sender's own jitter aside)."""

    def __init__(self, clock) -> None:
        self.ready: list[float] = []  # capture -> final, per frame
        self.stamps: list[float] = []  # when each frame became final (wall clock)
        self._push = clock.push
        clock.push = self.push

    def push(self, frames: list[RigFrame], now: float | None = None) -> None:
        stamp = time.time()
        for frame in frames:
            self.ready.append(stamp - frame.capture_time)
            self.stamps.append(stamp)
        self._push(frames) if now is None else self._push(frames, now)

    def bursts(self, delay_s: float) -> int:
        """Separate episodes (over 0.5 s apart) of frames that became final after the delay."""
        late = [t for t, r in zip(self.stamps, self.ready) if r > delay_s]
        return sum(1 for a, b in zip([-1e9] + late, late) if b - a > 0.5)


class ReadProbe:
    """Wraps the audio source's read: how long after its capture time each chunk's last sample
    was read (a file's chunk is read when its time comes; a microphone's after its driver
    delivered the block and it waited in the queue). The playout delay has to cover this."""

    def __init__(self, source) -> None:
        self.after: list[float] = []
        self._read = source.read
        source.read = self.read

    def read(self, timeout: float) -> list[AudioChunk]:
        chunks = self._read(timeout)
        now = time.time()
        self.after += [now - c.capture_time - c.samples.shape[0] / SAMPLE_RATE for c in chunks]
        return chunks


class VirtualMic:
    """A private PulseAudio whose null sink `vmic` plays `audio`, repeated for `seconds`: the
    daemon records its monitor through PortAudio (ALSA's pulse plugin), as a real microphone."""

    def __init__(self, audio: Path, rate: int, seconds: float) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="medtalk_vmic_"))
        self.server = PulseServer(self.root, realtime=True)  # as a desktop's PulseAudio runs (rtkit)
        self.audio, self.rate, self.seconds = audio, rate, seconds
        self.player = None
        self.module = None

    def __enter__(self) -> "VirtualMic":
        self.server.start()
        os.environ.update(self.server.env)  # before PortAudio starts: it reads the ALSA config once
        self.module = self.server.add_microphone("vmic", self.rate)
        speech = load_audio(self.audio)  # (n,) 16 kHz; one file played without a gap: no idle monitor
        looped = self.root / "speech.wav"
        write_audio(looped, np.tile(speech, int(np.ceil(self.seconds * SAMPLE_RATE / speech.shape[0]))))
        self.player = self.server.play("vmic", looped)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.player is not None:
            self.player.terminate()
            self.player.wait()
        self.server.unplug(self.module)
        self.server.close()


class TimedAnimator:
    """Wraps an Animator and times each animate() call (one per hop). `transcript`, when set,
    stands in for the words of every hop (the text encoder then runs on every hop: the worst case)."""

    def __init__(self, inner, transcript: str | None = None) -> None:
        self.inner = inner
        self.transcript = transcript
        self.times: list[float] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def animate(self, *args, **kwargs):
        if self.transcript:
            kwargs["transcript"] = self.transcript
        t = time.perf_counter()
        out = self.inner.animate(*args, **kwargs)
        self.times.append(time.perf_counter() - t)
        return out


def tiny_checkpoint(folder: Path) -> Path:
    import torch

    from medtalk_core.backbones import BackboneConfig
    from medtalk_core.checkpoint import save
    from medtalk_core.model import MEDTalk, load_model_config

    torch.manual_seed(0)
    return save(folder, MEDTalk(load_model_config("tiny")), BackboneConfig(), stage="init", step=0)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the transcriber's process is
    counted once it has ended, i.e. after the daemon closed)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000.0


def late_at(ready: list[float], delay_ms: float) -> int:
    """Frames that would have been late with this playout delay: the delay changes when frames
    leave, never when they are ready, so one run answers for every delay."""
    return int(np.sum(np.asarray(ready) * 1000.0 > delay_ms))


def what_if_delays(ready: list[float], delay_ms: float, step_ms: float = 5.0) -> list[float]:
    """Delays from the p50 capture-to-final, every `step_ms` (at most 16 of them), then the first
    with no late frame, and the run's own."""
    first = step_ms * np.ceil(pct(ready, 50) / step_ms)
    last = step_ms * np.ceil(1000.0 * max(ready) / step_ms)
    out = list(np.arange(first, min(last, first + 15 * step_ms) + step_ms / 2, step_ms)) + [last]
    return sorted(set(out) | {delay_ms})


def parse_hops(text: str) -> list[tuple[float, float]]:
    pairs = []
    for item in text.split(","):
        hop, _, lookahead = item.partition(":")
        pairs.append((float(hop), float(lookahead or hop)))
    return pairs


def stream_once(cfg, animator: "TimedAnimator", duration: float) -> dict:
    """Stream for `duration` seconds through a fresh daemon on the loaded animator -> measures."""
    from livelink_bridge.daemon import build_transports

    rx = RawCollector()
    rep = dataclasses.replace
    cfg = rep(cfg, transports=rep(cfg.transports, osc=rep(cfg.transports.osc, enabled=True, port=rx.port)))
    probe = LatencyProbe()
    daemon = Daemon(cfg, animator=animator, transports=build_transports(cfg) + [probe])
    with daemon:
        ready = ReadyProbe(daemon.clock)
        source = getattr(daemon.source, "inner", daemon.source)  # the live source inside GaplessSource
        reads = ReadProbe(source)
        animator.times.clear()
        usage0, wall0, load0 = _cpu(), time.time(), os.getloadavg()[0]
        timer = threading.Timer(duration, daemon.stop)
        timer.start()
        daemon.run()
        wall = time.time() - wall0
        load1 = os.getloadavg()[0]
        late, held, dropped = daemon.clock.late_frames, daemon.clock.held_frames, daemon.clock.dropped_frames
        final_delay = daemon.clock.delay_s
        timer.cancel()
        mic = {"clock": source.clock_name, "input_latency": source.input_latency_s, "reopens": source.reopens,
               "overflows": source.overflows} if hasattr(source, "reopens") else None  # a microphone
    usage1 = _cpu()  # after close(): the transcriber's child process has been joined
    time.sleep(0.2)
    received = frame_latencies(rx)
    rx.close()
    return {"wall": wall, "sent": len(probe.latency), "late": late, "held": held, "dropped": dropped,
            "lat": probe.latency, "received": received, "times": list(animator.times), "cpu": usage1 - usage0,
            "load": (load0, load1), "ready": ready.ready, "bursts": ready.bursts(cfg.clock.playout_delay_ms / 1000),
            "read": reads.after, "mic": mic, "final_delay": final_delay, "settled": probe.after(SETTLE_S)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of streaming (per --hops pair)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped live model)")
    parser.add_argument("--tiny", action="store_true", help="use a random tiny-profile checkpoint")
    parser.add_argument("--audio", help="audio file (default: the packaged English example), looped")
    parser.add_argument("--source", choices=("file", "mic"), default="file",
                        help="file: streamed from the file; mic: played into a PulseAudio virtual microphone")
    parser.add_argument("--mic-rate", type=int, default=44100, help="--source mic: the virtual microphone's rate")
    parser.add_argument("--config", help="daemon YAML (default: the built-in defaults)")
    parser.add_argument("--device", help="torch device for the model and pretrained backbones (default: CUDA if present)")
    parser.add_argument("--fp16", action="store_true", help="pretrained backbones in float16 (GPU only)")
    parser.add_argument("--hops", help="hop_ms:lookahead_ms pairs, comma-separated (default: the config's)")
    parser.add_argument("--playout-delay-ms", type=float, help="fixed playout delay (default: scaled, see above)")
    parser.add_argument("--transcript", help="words every hop sees, as if transcribed (text encoder on every hop)")
    parser.add_argument("--table", help="append one markdown row per --hops pair to this file")
    parser.add_argument("--label", default="", help="model name in the --table rows")
    args = parser.parse_args()

    rep = dataclasses.replace
    cfg = load_daemon_config(args.config)
    checkpoint = args.checkpoint or cfg.model.checkpoint  # the config's model unless one is named
    if args.tiny:
        checkpoint = str(tiny_checkpoint(Path(tempfile.mkdtemp(prefix="medtalk_tiny_"))))
    audio = Path(args.audio or example_path())
    if args.source == "mic":
        source = rep(cfg.source, kind="mic", input_device=VMIC_DEVICE)
    else:
        source = rep(cfg.source, kind="file", path=str(audio), realtime=True, loop=True)
    cfg = rep(cfg, source=source,
              control=rep(cfg.control, enabled=False, hotkeys=False),
              model=rep(cfg.model, checkpoint=checkpoint, device=args.device or cfg.model.device),
              backbones=backbone_overrides(checkpoint, args.device, args.fp16))
    from livelink_bridge.daemon import load_animator

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(cfg.model.threads)  # before loading, as the daemon does: no idle pool threads
    threadpool_limits(limits=cfg.model.threads)
    animator = TimedAnimator(load_animator(cfg), args.transcript)
    pairs = parse_hops(args.hops) if args.hops else [(cfg.engine.hop_ms, cfg.engine.lookahead_ms)]
    device = device_name(animator.device)
    with contextlib.ExitStack() as stack:
        if args.source == "mic":
            stack.enter_context(VirtualMic(audio, args.mic_rate, len(pairs) * (args.duration + 60)))
        for hop, lookahead in pairs:
            report(args, cfg, animator, device, checkpoint, hop, lookahead)


def report(args, cfg, animator: "TimedAnimator", device: str, checkpoint: str | None, hop: float,
           lookahead: float) -> None:
    """Stream one hop/lookahead pair and print (and append to --table) what it measured."""
    rep = dataclasses.replace
    e0, delay0 = cfg.engine, cfg.clock.playout_delay_ms
    delay = args.playout_delay_ms or delay0 + (hop - e0.hop_ms) + (lookahead - e0.lookahead_ms)
    run_cfg = rep(cfg, engine=rep(cfg.engine, hop_ms=hop, lookahead_ms=lookahead),
                  clock=rep(cfg.clock, playout_delay_ms=delay))
    r = stream_once(run_cfg, animator, args.duration)
    e = run_cfg.engine
    print(f"model: {checkpoint or 'live model'}; {device}; fp16 backbones {args.fp16}; window {e.window_s} s, "
          f"hop {e.hop_ms} ms, lookahead {e.lookahead_ms} ms, playout delay {delay:.1f} ms, "
          f"chunk {cfg.source.chunk_ms} ms, torch threads {cfg.model.threads}, {os.cpu_count()} CPUs; "
          f"source {args.source}{f' (virtual microphone, {args.mic_rate} Hz)' if args.source == 'mic' else ''}")
    print(f"{'measure':<34}{'value':>12}")
    rows = [
        ("streamed (s)", f"{r['wall']:.1f}"),
        ("frames sent", f"{r['sent']}"),
        ("achieved fps", f"{r['sent'] / r['wall']:.2f}"),
        ("late frames (not final at deadline)", f"{r['late']}"),
        ("  of which held (no stand-in)", f"{r['held']}"),
        ("final frames dropped (came late)", f"{r['dropped']}"),
        ("  in separate episodes (>0.5 s apart)", f"{r['bursts']}"),
        ("capture->final p50 (ms)", f"{pct(r['ready'], 50):.1f}"),
        ("capture->final p99 / p99.9 (ms)", f"{pct(r['ready'], 99):.1f} / {pct(r['ready'], 99.9):.1f}"),
        ("capture->final max (ms)", f"{1000 * max(r['ready']):.1f}"),
        ("capture->send p50 (ms)", f"{pct(r['lat'], 50):.1f}"),
        ("capture->send p95 (ms)", f"{pct(r['lat'], 95):.1f}"),
        ("capture->send p99 (ms)", f"{pct(r['lat'], 99):.1f}"),
        (f"  after the first {SETTLE_S:.0f} s p50 / p95", f"{pct(r['settled'], 50):.1f} / {pct(r['settled'], 95):.1f}"
         if r["settled"] else "-"),
        ("frames received (UDP 127.0.0.1)", f"{len(r['received'])}"),
        ("capture->receive p50 (ms)", f"{pct(r['received'], 50):.1f}" if r["received"] else "-"),
        ("capture->receive p95 (ms)", f"{pct(r['received'], 95):.1f}" if r["received"] else "-"),
        ("capture->receive p99 (ms)", f"{pct(r['received'], 99):.1f}" if r["received"] else "-"),
        ("model runs", f"{len(r['times'])}"),
        ("model ms per run p50 / p95", f"{pct(r['times'], 50):.1f} / {pct(r['times'], 95):.1f}"),
        ("CPU use (% of one core)", f"{100 * r['cpu'] / r['wall']:.0f}"),
        ("machine load avg start / end", f"{r['load'][0]:.1f} / {r['load'][1]:.1f}"),
        ("nice", f"{os.nice(0)}"),
        ("playout delay at the end (ms)", f"{1000 * r['final_delay']:.1f}"),
        ("capture->read p50 / p95 (ms)", f"{pct(r['read'], 50):.1f} / {pct(r['read'], 95):.1f}"),
        ("capture->read max (ms)", f"{1000 * max(r['read']):.1f}"),
    ]
    if r["mic"]:
        rows += [("mic: capture clock", r["mic"]["clock"]),
                 ("mic: input latency reported (ms)", f"{1000 * r['mic']['input_latency']:.1f}"),
                 ("mic: reopens / overflows", f"{r['mic']['reopens']} / {r['mic']['overflows']}")]
    for name, value in rows:
        print(f"{name:<34}{value:>12}")
    print(f"{'playout delay (ms)':<34}{'late frames':>12}  (had the run used it: late = capture->final > delay)")
    for what_if in what_if_delays(r["ready"], delay):
        print(f"{what_if:<34.0f}{late_at(r['ready'], what_if):>12}")
    if args.table:
        append_rows(args.table, "Live latency (benchmarks/latency.py)",
                    ("model", "device", "backbones", "hop / lookahead / delay ms", "streamed s", "fps",
                     "p50 ms", "p95 ms", "model ms p50 / p95 per hop", "late frames"),
                    [(args.label or checkpoint or "live model", device, "fp16" if args.fp16 else "fp32",
                      f"{hop:g} / {lookahead:g} / {delay:.0f}", f"{r['wall']:.0f}", f"{r['sent'] / r['wall']:.1f}",
                      f"{pct(r['lat'], 50):.0f}", f"{pct(r['lat'], 95):.0f}",
                      f"{pct(r['times'], 50):.1f} / {pct(r['times'], 95):.1f}", r["late"])])


if __name__ == "__main__":
    main()
