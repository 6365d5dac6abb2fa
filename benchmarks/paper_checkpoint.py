"""A randomly initialised paper-profile checkpoint whose backbones are random models of the paper's
sizes (benchmarks/random_backbones.py), for timing the paper profile where its weights are not at hand.

    python benchmarks/paper_checkpoint.py --out /tmp/paper [--size full|tiny] [--whisper]

The MEDTalk model has the release's dims (configs/model/paper.yaml); with --size tiny the feature
widths shrink to the tiny backbones' (a dry run). The transcriber slot is faster-whisper (Whisper
base's size) with --whisper, else none: the daemon transcribes finished speech segments in its own
process, off the per-hop path that the latency benchmark times. Prints the checkpoint folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_backbones  # noqa: E402

from medtalk_core import checkpoint  # noqa: E402
from medtalk_core.backbones import BackboneConfig, BackboneSpec  # noqa: E402
from medtalk_core.model import MEDTalk, load_model_config  # noqa: E402

TINY_DIMS = dict(content_feat_dim=32, emotion_feat_dim=32, text_feat_dim=32, clip_dim=16)  # the tiny backbones' widths


def build(out: Path, size: str = "full", with_whisper: bool = False) -> Path:
    """Write the backbone folders under out/backbones and the checkpoint under out/checkpoint."""
    root = out / "backbones"
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    content, _ = random_backbones.wav2vec2(root, size)
    emotion, _ = random_backbones.emotion2vec(root, size)
    text, _ = random_backbones.bert(root, size)
    guidance, _ = random_backbones.clip(root, size)
    transcriber = random_backbones.whisper(root, size)[0] if with_whisper else BackboneSpec("none")
    cfg = load_model_config("paper")
    if size == "tiny":
        cfg = dataclasses.replace(cfg, **TINY_DIMS)
    backbones = BackboneConfig(audio_content=content, audio_emotion=emotion, transcriber=transcriber, text=text,
                               guidance=guidance)
    return checkpoint.save(out / "checkpoint", MEDTalk(cfg), backbones, stage="init", step=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write (backbones/ and checkpoint/ inside)")
    parser.add_argument("--size", choices=random_backbones.SIZES, default="full", help="backbone sizes")
    parser.add_argument("--whisper", action="store_true", help="a random faster-whisper transcriber (needs ctranslate2)")
    args = parser.parse_args()
    print(build(Path(args.out), args.size, args.whisper))


if __name__ == "__main__":
    main()
