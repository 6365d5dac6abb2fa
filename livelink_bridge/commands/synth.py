"""`medtalk synth`: write the synthetic seven-emotion dataset, or plot one of its clips."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtalk_core.errors import MedtalkError

NAME = "synth"
HELP = "generate a synthetic EmoFace-layout dataset with espeak-ng (or --plot one clip to a PNG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path,
                        help="dataset folder to create (or the PNG file with --plot)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="how many sentences to speak (default: all of the source; 338 shipped)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (sentence choice, jitter, blinks, splits)")
    parser.add_argument("--text-file", type=Path, default=None,
                        help="UTF-8 file with one English sentence per line, instead of the shipped list")
    parser.add_argument("--voices", type=int, default=1, help="speaker voices per sentence (1-8)")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty --out folder (same-named files are overwritten)")
    parser.add_argument("--plot", metavar="CLIP", default=None,
                        help="instead of generating: plot a clip (its CTR/WAV path, or DATASET/NAME) to --out as PNG")


def run(args: argparse.Namespace) -> int:
    if args.plot is not None:
        generating = [flag for flag, given in (("--sentences", args.sentences is not None),
                                                ("--text-file", args.text_file is not None),
                                                ("--voices", args.voices != 1)) if given]
        if generating:
            raise MedtalkError(f"--plot draws an existing clip; it cannot be combined with {', '.join(generating)}")
        from medtalk_core.data.plot import plot_clip

        path = plot_clip(args.plot, args.out)
        print(f"wrote {path}")
        return 0

    from medtalk_core.data.synth import SynthOptions, generate

    options = SynthOptions(sentences=args.sentences, seed=args.seed, voices=args.voices, workers=args.workers,
                           text_file=args.text_file)
    summary = generate(args.out, options, force=args.force)
    splits = ", ".join(f"{k} {v}" for k, v in summary.split_sentences.items())
    print(f"wrote {summary.clips} clips ({summary.sentences} sentences x {summary.voices} voice(s) x 7 emotions, "
          f"{summary.seconds_of_audio / 60:.1f} min of audio) in {summary.wall_seconds:.1f} s")
    print(f"  audio      {summary.out_dir / 'WAV'}")
    print(f"  rig        {summary.out_dir / 'CTR'}  (T x 174 at 60 fps)")
    print(f"  transcript {summary.out_dir / 'TXT'}")
    print(f"  manifest   {summary.out_dir / 'manifest.csv'}  (sentences per split: {splits})")
    return 0
