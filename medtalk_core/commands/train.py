"""`medtalk train`: run the paper's training stages from a recipe."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from pathlib import Path

NAME = "train"
HELP = "train MEDTalk's stages (cross_recon, acm, fim, guidance) from a recipe YAML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="training recipe, e.g. configs/train/synthetic.yaml")
    parser.add_argument("--stage", default="all", choices=["cross_recon", "acm", "fim", "guidance", "all"],
                        help="stage to run (default all, in the paper's order; each builds on the previous one's output)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted stage in --out and skip stages already finished there")
    parser.add_argument("--out", default=None,
                        help="output folder (default runs/<recipe>-<time>); existing stage outputs are never overwritten")
    parser.add_argument("--data", default=None, nargs="+", metavar="DIR",
                        help="dataset folder(s), overriding the recipe's data.root (and data.extra_roots: every "
                             "folder after the first trains with it)")
    parser.add_argument("--init", default=None,
                        help="checkpoint folder to start from when --out holds no earlier stage")
    parser.add_argument("--encoder", default=None, choices=["mlp", "temporal"],
                        help="override the model profile's motion/audio encoder type")
    parser.add_argument("--future-frames", type=int, default=None, metavar="K",
                        help="bound the audio paths' lookahead to K frames (a live stream with that much "
                             "lookahead then equals offline); default: the profile's (centred)")
    parser.add_argument("--cache", default=None,
                        help="folder for cached backbone features (default OUT/feature_cache); share it between runs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args: argparse.Namespace) -> int:
    from medtalk_core.errors import MedtalkError
    from medtalk_core.train import load_recipe, train

    recipe = load_recipe(args.config)
    if args.data is not None:
        recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, root=args.data[0],
                                                                      extra_roots=tuple(args.data[1:])))
    if args.encoder is not None:
        recipe = dataclasses.replace(recipe, encoder=args.encoder)
    if args.future_frames is not None:
        recipe = dataclasses.replace(recipe, future_frames=args.future_frames)
    if args.out is None:
        if args.resume:
            raise MedtalkError("--resume needs --out: the folder of the run to continue")
        args.out = str(Path("runs") / f"{Path(args.config).stem}-{datetime.now():%Y%m%d-%H%M%S}")
    results = train(recipe, args.out, stage=args.stage, resume=args.resume, init=args.init,
                    cache_dir=args.cache, show_progress=not args.no_progress)
    for r in results:
        val = "-" if r.final_val_loss is None else f"{r.final_val_loss:.5f}"
        print(f"{r.stage:12s} {r.seconds:8.1f} s  train loss {r.final_train_loss:.5f}  val loss {val}  -> {r.checkpoint}")
    if results:
        print(f"final checkpoint: {results[-1].checkpoint}")
    return 0
