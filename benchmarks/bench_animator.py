"""Inference speed of the built-in backbones, the MEDTalk profiles and the Animator.

    python3 benchmarks/bench_animator.py [--seconds 4] [--repeats 5] [--threads 1] [--device cpu|cuda] [--checkpoint DIR]

Prints one table: median and best milliseconds per call and the real-time factor of the median
(audio seconds per second of compute). Random weights (no checkpoint given) time the same as
trained ones. On a shared machine, the best time is the one to trust: with more torch threads
than idle cores, spinning threads make the median many times slower.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from medtalk_core.audio import SAMPLE_RATE, load_audio, num_frames
from medtalk_core.backbones import BackboneConfig, build_backbones
from medtalk_core.checkpoint import save
from medtalk_core.inference import Animator
from medtalk_core.model import MEDTalk, load_model_config

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "emoface_sample" / "angry_gd04_001_021.wav"


def median_ms(fn: Callable[[], object], repeats: int, sync: bool) -> tuple[float, float]:
    """(median, best) milliseconds of `repeats` calls after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def clip(seconds: float) -> np.ndarray:
    if SAMPLE.is_file():
        audio = load_audio(SAMPLE)
        return np.resize(audio, int(seconds * SAMPLE_RATE)).astype(np.float32)
    rng = np.random.default_rng(0)
    return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the test clip")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row (median reported)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder for the Animator rows (default: random tiny)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    audio = clip(args.seconds)
    T = num_frames(len(audio))
    dev = torch.device(args.device)
    sync = dev.type == "cuda"
    rows: list[tuple[str, tuple[float, float]]] = []

    bb = build_backbones(BackboneConfig())
    rows.append(("backbone logmel (80)", median_ms(lambda: bb.audio_content.features(audio), args.repeats, False)))
    rows.append(("backbone prosody (24)", median_ms(lambda: bb.audio_emotion.features(audio), args.repeats, False)))
    rows.append(("backbone pocketsphinx ASR", median_ms(lambda: bb.transcriber.transcribe(audio), args.repeats, False)))
    rows.append(("backbone hashed text (12 words)",
                 median_ms(lambda: bb.text.features("i never thought you would come back home to me today"),
                           args.repeats, False)))

    for profile, encoder in (("tiny", "mlp"), ("tiny", "temporal"), ("paper", "mlp")):
        cfg = dataclasses.replace(load_model_config(profile), encoder=encoder)
        model = MEDTalk(cfg).to(dev).eval()
        c = torch.randn(1, T, cfg.content_feat_dim, device=dev)
        e = torch.randn(1, T, cfg.emotion_feat_dim, device=dev)
        t = torch.randn(1, 12, cfg.text_feat_dim, device=dev)
        g = torch.randn(1, cfg.hidden_dim, device=dev)
        params = sum(p.numel() for p in model.parameters()) / 1e6

        def forward(model=model, c=c, e=e, t=t, g=g) -> None:
            with torch.inference_mode():
                model(c, e, t, None, g)

        rows.append((f"model {profile}/{encoder} ({params:.2f} M params)", median_ms(forward, args.repeats, sync)))

    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or save(tmp, MEDTalk(load_model_config("tiny")), BackboneConfig())
        animator = Animator.from_checkpoint(path, device=dev)
        rows.append(("animate, transcript given", median_ms(lambda: animator.animate(audio, "happy", transcript="hello"),
                                                             args.repeats, sync)))
        rows.append(("animate, audio-only head", median_ms(lambda: animator.animate(audio, "happy", transcript=""),
                                                            args.repeats, sync)))
        rows.append(("animate, with pocketsphinx", median_ms(lambda: animator.animate(audio, "happy"), args.repeats, sync)))
        batch = [audio] * 8
        med, best = median_ms(lambda: animator.animate_batch(batch, ["sad"] * 8, [""] * 8), args.repeats, sync)
        rows.append(("animate_batch x8, audio-only (per clip)", (med / 8, best / 8)))

    print(f"clip {args.seconds:.1f} s ({T} frames), device {dev}, torch threads {torch.get_num_threads()}")
    print(f"{'what':44s} {'median ms':>10s} {'best ms':>9s} {'x real time':>12s}")
    for name, (med, best) in rows:
        print(f"{name:44s} {med:10.2f} {best:9.2f} {args.seconds * 1000 / med:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
