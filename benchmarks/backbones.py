"""CPU cost of the pretrained backbones: seconds of compute per second of audio (or per item).

Every model is randomly initialised from its architecture's config, saved in its real on-disk
layout and loaded through our adapter, so no download is needed and the timing is of the real
code path (benchmarks/random_backbones.py builds them). "full" sizes are the paper profile's architectures (wav2vec2-base, emotion2vec_base,
Whisper base, BERT-base with the Chinese RoBERTa vocabulary, CLIP ViT-B/32); "tiny" are the test
sizes. Random Whisper weights decode nonsense of arbitrary length, so the transcriber row caps
decoding at --whisper-tokens tokens (about what a few seconds of speech produce).

    python benchmarks/backbones.py --threads 2 --audio-s 4 [--sizes tiny full]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from medtalk_core.backbones.pretrained import (BertSettings, BertText, Emotion2vecEmotion, Emotion2vecSettings,
                                               HfClipGuidance, HfClipSettings, LoadOptions, Wav2Vec2Content,
                                               Wav2Vec2Settings)

import random_backbones  # noqa: E402  (benchmarks/ is the script's folder)
from random_backbones import SENTENCE  # noqa: E402

CPU = LoadOptions(device="cpu")


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: lazy load, allocator, kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def bench_wav2vec2(root: Path, size: str, audio: np.ndarray, repeats: int) -> tuple[str, float]:
    spec, n = random_backbones.wav2vec2(root, size)
    backbone = Wav2Vec2Content(Wav2Vec2Settings(model=spec.path), CPU)
    return millions(n), timed(lambda: backbone.features(audio), repeats)


def bench_emotion2vec(root: Path, size: str, audio: np.ndarray, repeats: int) -> tuple[str, float]:
    spec, n = random_backbones.emotion2vec(root, size)
    backbone = Emotion2vecEmotion(Emotion2vecSettings(model=spec.path), CPU)
    return millions(n), timed(lambda: backbone.features(audio), repeats)


def bench_whisper(root: Path, size: str, audio: np.ndarray, repeats: int, max_tokens: int) -> tuple[str, float]:
    import faster_whisper

    spec, n = random_backbones.whisper(root, size)
    asr = faster_whisper.WhisperModel(spec.path, device="cpu", compute_type="int8",
                                      cpu_threads=torch.get_num_threads(), local_files_only=True)

    def run() -> None:  # the adapter's call, with decoding capped (see module docstring)
        segments, _ = asr.transcribe(audio, beam_size=5, temperature=[0.0], word_timestamps=True,
                                     condition_on_previous_text=False, max_new_tokens=max_tokens)
        list(segments)

    return millions(n), timed(run, repeats)


def bench_bert(root: Path, size: str, repeats: int) -> tuple[str, float]:
    spec, n = random_backbones.bert(root, size)
    backbone = BertText(BertSettings(model=spec.path), CPU)
    return millions(n), timed(lambda: backbone.features(SENTENCE), repeats)


def bench_clip(root: Path, size: str, repeats: int) -> tuple[str, float, float]:
    spec, n = random_backbones.clip(root, size)
    backbone = HfClipGuidance(HfClipSettings(model=spec.path), CPU)
    picture = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    text_s = timed(lambda: backbone.encode_text(["a tired, reluctant smile"]), repeats)
    image_s = timed(lambda: backbone.encode_image([picture]), repeats)
    return millions(n), text_s, image_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch / CTranslate2 CPU threads")
    parser.add_argument("--audio-s", type=float, default=4.0, help="length of the audio clip timed")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    parser.add_argument("--sizes", nargs="+", default=["tiny", "full"], choices=["tiny", "full"])
    parser.add_argument("--whisper-tokens", type=int, default=24, help="decoding cap for the random Whisper")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(args.audio_s * 16000))).astype(np.float32)
    rows: list[tuple[str, str, str, str, str]] = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, bench in (("wav2vec2 (audio content)", bench_wav2vec2),
                                ("emotion2vec (audio emotion)", bench_emotion2vec)):
                n, seconds = bench(root, size, audio, args.repeats)
                rows.append((name, size, n, f"{seconds / args.audio_s * 1000:.1f} ms / s audio",
                             f"{args.audio_s / seconds:.1f}x"))
            n, seconds = bench_whisper(root, size, audio, args.repeats, args.whisper_tokens)
            rows.append(("faster-whisper int8 (transcriber)", size, n,
                         f"{seconds / args.audio_s * 1000:.1f} ms / s audio", f"{args.audio_s / seconds:.1f}x"))
            n, seconds = bench_bert(root, size, args.repeats)
            rows.append(("BERT (transcript, 16 words)", size, n, f"{seconds * 1000:.1f} ms / sentence", "-"))
            n, text_s, image_s = bench_clip(root, size, args.repeats)
            rows.append(("CLIP text (guidance)", size, n, f"{text_s * 1000:.1f} ms / text", "-"))
            rows.append(("CLIP image (guidance)", size, n, f"{image_s * 1000:.1f} ms / image", "-"))
    header = ("backbone", "size", "params", "CPU time", "x real time")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print(f"CPU, {args.threads} threads, {args.audio_s:g} s clip, median of {args.repeats}")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
