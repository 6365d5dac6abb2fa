"""Live accuracy against ground truth: lip error (MLE) of the stream and of offline animate().

The stream can only use `lookahead_ms` of future audio; a model with centred convolutions was
trained seeing much more, so its stream drifts from its offline output. A model trained with
`future_frames` (bounded lookahead) loses some offline accuracy but streams as it was trained.
This prints, per checkpoint and lookahead, MLE over S_lip of offline and streamed output against
the dataset's rig, on clips of one split, so the two kinds can be compared at equal latency.

    python3 benchmarks/stream_accuracy.py --data DIR --checkpoint A [B ...] [--clips 30]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from livelink_bridge.engine import EngineConfig
from livelink_bridge.idle import IdleConfig
from livelink_bridge.engine import StreamingEngine, stream_array
from medtalk_core.data.emoface import EmoFaceDataset
from medtalk_core.inference import Animator
from medtalk_core.rig import s_lip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="EmoFace-layout dataset with ground-truth rigs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--checkpoint", nargs="+", default=[None], help="checkpoint folders (default: shipped)")
    parser.add_argument("--clips", type=int, default=30, help="clips of the split to use (first N)")
    parser.add_argument("--lookahead-ms", type=float, nargs="*", default=[33.3, 66.7, 100.0])
    parser.add_argument("--window-s", type=float, default=EngineConfig.window_s, help="engine window (audio per run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    data = EmoFaceDataset(args.data, split=args.split)
    clips = [data[i] for i in range(min(args.clips, len(data)))]
    lip = list(s_lip())
    no_idle = dataclasses.replace(IdleConfig(), enabled=False)
    print(f"{len(clips)} clips of {args.data} ({args.split}); engine window {args.window_s} s; "
          "MLE = mean |pred - truth| over S_lip")
    print(f"{'checkpoint':<40} {'future':>6} {'offline':>8} " + " ".join(f"{f'live@{ms:.0f}ms':>11}" for ms in args.lookahead_ms))
    for ckpt in args.checkpoint:
        animator = Animator.from_checkpoint(ckpt, "cpu")
        offline_err, live_err = [], {ms: [] for ms in args.lookahead_ms}
        for clip in clips:
            truth = clip.rig[:, lip]
            offline = animator.animate(clip.audio, clip.emotion, transcript="")
            offline_err.append(np.abs(offline[:, lip] - truth).mean())
            for ms in args.lookahead_ms:
                cfg = EngineConfig(window_s=args.window_s, lookahead_ms=ms, crossfade_ms=ms, idle=no_idle)
                streamed = stream_array(StreamingEngine(animator, cfg, guidance=animator.guidance(clip.emotion)), clip.audio)
                live_err[ms].append(np.abs(streamed[:, lip] - truth).mean())
        future = animator.model.cfg.future_frames
        print(f"{str(ckpt or 'default'):<40} {str(future):>6} {np.mean(offline_err):8.5f} "
              + " ".join(f"{np.mean(live_err[ms]):11.5f}" for ms in args.lookahead_ms))


if __name__ == "__main__":
    main()
