"""`medtalk synth`: write the synthetic seven-emotion dataset, or plot one of its clips."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtalk_core.data.align import DEFAULT_MIN_SCORE
from medtalk_core.data.corpora import LAYOUTS
from medtalk_core.errors import MedtalkError

NAME = "synth"
HELP = ("generate a synthetic EmoFace-layout dataset with espeak-ng, pseudo-rigs from a real speech --corpus, "
        "or --plot one clip to a PNG")


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
    parser.add_argument("--corpus", type=Path, default=None,
                        help="instead of espeak-ng: a folder of real speech with transcripts; each utterance is "
                             "force-aligned and given a pseudo-rig (neutral, split by speaker)")
    parser.add_argument("--layout", choices=LAYOUTS, default="folder",
                        help="--corpus layout: librispeech (<spk>/<chapter>/*.flac + *.trans.txt), folder (audio "
                             "with same-named .txt/.lab), an4 (etc/*.transcription + wav/**/*.sph)")
    parser.add_argument("--limit", type=int, default=None, help="--corpus: at most this many utterances per speaker")
    parser.add_argument("--prefix", default="", help="--corpus: text put before every clip name (e.g. 'ls_')")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE,
                        help="--corpus: skip utterances whose alignment scores below this per frame")
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

    if args.corpus is not None:
        return _run_corpus(args)
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


def _run_corpus(args: argparse.Namespace) -> int:
    if args.sentences is not None or args.text_file is not None or args.voices != 1:
        raise MedtalkError("--corpus reads real speech; it cannot be combined with --sentences, --text-file or --voices")
    from medtalk_core.data.pseudo_rig import CorpusOptions, generate_from_corpus

    options = CorpusOptions(layout=args.layout, seed=args.seed, workers=args.workers, limit=args.limit,
                            min_score=args.min_score, prefix=args.prefix)
    summary = generate_from_corpus(args.corpus, args.out, options)
    splits = ", ".join(f"{k} {v}" for k, v in summary.split_speakers.items())
    print(f"kept {summary.kept} of {summary.utterances} utterances ({summary.seconds_kept / 60:.1f} min of audio) "
          f"in {summary.wall_seconds:.1f} s; {len(summary.skipped)} skipped (reasons in {summary.out_dir / 'report.csv'})")
    print(f"  manifest   {summary.out_dir / 'manifest.csv'}  (speakers per split: {splits})")
    return 0
