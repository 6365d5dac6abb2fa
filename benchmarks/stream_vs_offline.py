"""How close is the live stream to offline animate() on the same file?

Streams a file through the StreamingEngine (chunks of 10 ms, as fast as possible) for several
lookahead settings and prints max and mean absolute difference against `Animator.animate()`
on the whole file, on the lip controllers (S_lip) and on all 174. Idle motion is off for the
comparison (it adds blinks and breathing that offline animate() does not have) and then on.

    python3 benchmarks/stream_vs_offline.py [--checkpoint DIR] [--audio WAV] [--emotion happy]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from livelink_bridge.engine import EngineConfig
from livelink_bridge.idle import IdleConfig
from livelink_bridge.engine import StreamingEngine, stream_array
from livelink_bridge.sources import example_path
from medtalk_core.audio import load_audio
from medtalk_core.inference import Animator
from medtalk_core.rig import s_lip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped default model)")
    parser.add_argument("--audio", help="audio file (default: the packaged English example)")
    parser.add_argument("--emotion", default="happy")
    parser.add_argument("--lookahead-ms", type=float, nargs="*", default=[16.7, 33.3, 50.0, 100.0, 250.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(limits=1)  # idle BLAS threads spin and would skew the per-run times
    animator = Animator.from_checkpoint(args.checkpoint, "cpu")
    audio = load_audio(args.audio or example_path())
    guidance = animator.guidance(args.emotion)
    lip = list(s_lip())
    offline = animator.animate(audio, guidance, transcript="", smooth=True)  # (T, 174)
    print(f"model: {args.checkpoint or 'default'}; audio {audio.shape[0] / 16000:.2f} s, {offline.shape[0]} frames; "
          f"emotion {args.emotion}; offline lip values: mean |x| {np.abs(offline[:, lip]).mean():.4f}, "
          f"std over time {offline[:, lip].std(axis=0).mean():.4f} (the scale of the differences below)")
    print(f"{'lookahead ms':>12} {'hop ms':>7} {'idle':>5} {'lip max':>9} {'lip mean':>9} {'all max':>9} "
          f"{'all mean':>9} {'runs':>5} {'ms/run':>7}")
    for look in args.lookahead_ms:
        for idle in (False, True):
            cfg = EngineConfig(lookahead_ms=look, crossfade_ms=look, idle=dataclasses.replace(IdleConfig(), enabled=idle))
            engine = StreamingEngine(animator, cfg, guidance=guidance)
            t = time.perf_counter()
            streamed = stream_array(engine, audio)
            per_run = (time.perf_counter() - t) / max(1, engine.runs) * 1000
            assert streamed.shape == offline.shape, (streamed.shape, offline.shape)
            diff = np.abs(streamed - offline)
            print(f"{look:12.1f} {cfg.hop_ms:7.1f} {str(idle):>5} {diff[:, lip].max():9.4f} {diff[:, lip].mean():9.5f} "
                  f"{diff.max():9.4f} {diff.mean():9.5f} {engine.runs:5d} {per_run:7.1f}")


if __name__ == "__main__":
    main()
