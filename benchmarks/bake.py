"""Bake throughput: 100 synthetic clips, and peak memory of one 30-minute file.

    python3 benchmarks/bake.py [--clips 100] [--long-minutes 30] [--checkpoint CKPT] [--device cpu]
        [--fp16] [--batch-size N] [--table FILE --label NAME]

Each measurement runs in a fresh process so that its peak RSS (resource.getrusage) and its peak
GPU memory (torch's allocator) are its own. A count of 0 leaves its row out.
Audio is generated (a harmonic voice with gliding pitch and syllable envelope), 1.5-6 s per
clip. The model is the shipped default when it is installed, else a randomly initialised
`tiny`-profile checkpoint of the same size (the table says which). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_options import backbone_overrides, device_name, peak_gpu_mb  # noqa: E402
from md_table import append_rows  # noqa: E402


def speechlike(seconds: float, rate: int, rng: np.random.Generator, t0: float = 0.0) -> np.ndarray:
    t = t0 + np.arange(int(seconds * rate)) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None)
    return (0.2 * voice * syllables + 0.003 * rng.standard_normal(t.shape)).astype(np.float32)


def checkpoint_for(arg: str | None, scratch: Path) -> tuple[str, str]:
    """(checkpoint path, description)."""
    from medtalk_core.inference import DEFAULT_MODEL_DIR
    from medtalk_core import checkpoint as ckpt

    if arg:
        return arg, f"given checkpoint {arg}"
    if (DEFAULT_MODEL_DIR / ckpt.CONFIG_NAME).is_file():
        return str(DEFAULT_MODEL_DIR), "shipped default model"
    import torch
    from medtalk_core.backbones import BackboneConfig
    from medtalk_core.model import MEDTalk, load_model_config

    torch.manual_seed(0)
    path = ckpt.save(scratch / "tiny", MEDTalk(load_model_config("tiny")), BackboneConfig())
    return str(path), "random tiny-profile checkpoint (default model not shipped yet)"


def part_clips(folder: Path, out: Path, checkpoint: str, device: str | None, transcribe: bool, fp16: bool,
               batch_size: int) -> dict:
    from livelink_bridge.offline.bake import BakeOptions, bake
    from medtalk_core.inference import Animator

    animator = Animator.from_checkpoint(checkpoint, device=device, overrides=backbone_overrides(checkpoint, device, fp16))
    animator.animate(np.zeros(16000, np.float32), "neutral", transcript="")  # warm-up
    start = time.perf_counter()
    report = bake(animator, [folder], out, BakeOptions(formats=("csv",), transcribe=transcribe, batch_size=batch_size))
    wall = time.perf_counter() - start
    return {"files": len(report.baked), "failed": len(report.failed), "audio_s": report.audio_s, "wall_s": wall,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "gpu_mb": peak_gpu_mb(),
            "device": device_name(animator.device)}


def make_long_file(path: Path, minutes: float) -> None:
    import soundfile as sf

    rng = np.random.default_rng(1)
    with sf.SoundFile(str(path), "w", 16000, 1, subtype="PCM_16") as handle:
        for k in range(int(minutes * 6)):  # 10 s blocks: the generator never holds the whole file
            handle.write(speechlike(10.0, 16000, rng, t0=10.0 * k))


def run_part(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark part {args[:2]} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--transcribed-clips", type=int, default=10, help="clips for the row with transcription")
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped default model)")
    parser.add_argument("--device", help="torch device (default: CUDA if present)")
    parser.add_argument("--fp16", action="store_true", help="pretrained backbones in float16 (GPU only)")
    parser.add_argument("--batch-size", type=int, default=0, help="clips per model call (0: the baker's default)")
    parser.add_argument("--table", help="append the rows to this markdown file")
    parser.add_argument("--label", default="", help="model name in the --table rows")
    parser.add_argument("--part", choices=("clips", "long"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--transcribe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(part_clips(Path(args.folder), Path(args.out), args.checkpoint, args.device, args.transcribe,
                                    args.fp16, args.batch_size)))
        return

    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="medtalk_bake_bench_") as tmp:
        scratch = Path(tmp)
        checkpoint, model = checkpoint_for(args.checkpoint, scratch)
        rng = np.random.default_rng(0)
        for name, count in (("clips", args.clips), ("clips_asr", args.transcribed_clips)):
            (scratch / name).mkdir()
            for i in range(count):
                sf.write(scratch / name / f"line_{i:03d}.wav", speechlike(rng.uniform(1.5, 6.0), 22050, rng), 22050)
        if args.long_minutes > 0:
            (scratch / "long").mkdir()
            make_long_file(scratch / "long" / "long.wav", args.long_minutes)

        common = (["--checkpoint", checkpoint, "--batch-size", str(args.batch_size)] + (["--fp16"] if args.fp16 else [])
                  + (["--device", args.device] if args.device else []))
        cases = [(args.clips, f"{args.clips} clips, audio-only intensity", "clips", []),
                 (args.transcribed_clips, f"{args.transcribed_clips} clips, pocketsphinx transcription", "clips_asr",
                  ["--transcribe"]),
                 (args.long_minutes, f"one {args.long_minutes:g}-minute file, audio-only", "long", [])]
        rows = [(name, run_part(["--part", "clips", "--folder", str(scratch / folder), "--out", str(scratch / f"o_{folder}"),
                                 *extra, *common]))
                for count, name, folder, extra in cases if count > 0]
    import platform

    import torch

    device = rows[0][1]["device"] if rows else (args.device or "")
    print(f"model: {model}; device: {device}; fp16 backbones {args.fp16}; "
          f"torch threads {torch.get_num_threads()}; {platform.processor() or platform.machine()}")
    print(f"{'case':<42} {'files':>5} {'audio s':>8} {'wall s':>7} {'x real time':>11} {'files/s':>8} "
          f"{'peak RSS MB':>11} {'peak GPU MB':>11}")
    for name, r in rows:
        gpu = f"{r['gpu_mb']:.0f}" if r["gpu_mb"] is not None else "-"
        print(f"{name:<42} {r['files']:>5} {r['audio_s']:>8.1f} {r['wall_s']:>7.2f} "
              f"{r['audio_s'] / r['wall_s']:>11.1f} {r['files'] / r['wall_s']:>8.2f} {r['peak_mb']:>11.0f} {gpu:>11}")
    if args.table:
        append_rows(args.table, "Bake throughput (benchmarks/bake.py)",
                    ("model", "device", "backbones", "case", "files", "audio s", "wall s", "x real time", "files/s",
                     "peak RSS MB", "peak GPU MB"),
                    [(args.label or model, r["device"], "fp16" if args.fp16 else "fp32", name, r["files"],
                      f"{r['audio_s']:.0f}", f"{r['wall_s']:.1f}", f"{r['audio_s'] / r['wall_s']:.1f}",
                      f"{r['files'] / r['wall_s']:.2f}", f"{r['peak_mb']:.0f}",
                      f"{r['gpu_mb']:.0f}" if r["gpu_mb"] is not None else "-") for name, r in rows])

if __name__ == "__main__":
    main()
