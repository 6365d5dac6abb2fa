"""`medtalk bake`: audio files or folders -> animation files (csv / json / txt), batched."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from medtalk_core.audio import MAX_INPUT_S
from medtalk_core.curve_sets import CURVE_SETS
from medtalk_core.errors import MedtalkError
from medtalk_core.expressions import DEFAULT_FACE_BOARD, FACE_BOARDS
from medtalk_core.head_eyes import HeadEyesConfig
from medtalk_core.long_audio import WindowOptions

from medtalk_core.commands.model_flags import add_model_flags, model_choice

NAME = "bake"
HELP = "bake audio files or folders into animation files (csv, json, txt) with head and eye motion"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio files (wav, flac, ogg) or folders searched recursively")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (folder layout is kept)")
    guide = parser.add_mutually_exclusive_group()
    guide.add_argument("--emotion", metavar="LABEL",
                       help="emotion for every file: angry, disgust, fear, happy, neutral, sad, surprised or 0-6")
    guide.add_argument("--text", metavar="DESC", help="text guidance for every file, e.g. 'a tired smile'")
    guide.add_argument("--image", metavar="PATH", help="reference face picture guiding every file")
    guide.add_argument("--guidance-file", metavar="MANIFEST",
                       help="CSV manifest: file, emotion | text | image, strength, transcript (per file)")
    parser.add_argument("--strength", type=float, default=1.0,
                        help="strength of --emotion / --text / --image guidance (default 1.0)")
    parser.add_argument("--format", default="csv", metavar="csv,json,txt",
                        help="comma-separated output formats (default csv)")
    parser.add_argument("--fps", type=float, default=60.0,
                        help="output frame rate; 30 or 24 resample the 60 fps curves (default 60)")
    parser.add_argument("--curves", choices=CURVE_SETS, default="board",
                        help="board: the 174 controls (default); expressions: the CTRL_expressions_* curves "
                             "a stock MetaHuman face reads (for AnimSequence import)")
    parser.add_argument("--face-board", choices=FACE_BOARDS, default=DEFAULT_FACE_BOARD,
                        help="board whose wiring derives --curves expressions: classic (default) or mh4, "
                             "the newer MetaHuman board")
    parser.add_argument("--head-eyes", action=argparse.BooleanOptionalAction, default=True,
                        help="head and eye rotation curves from the speech after the face curves (take format "
                             "version 2; --no-head-eyes writes the face curves alone, version 1; default on)")
    parser.add_argument("--head-scale", type=float, default=HeadEyesConfig.head_scale, metavar="SCALE",
                        help="multiplies every head movement: below 1 a calmer character, above 1 a livelier one "
                             f"(default {HeadEyesConfig.head_scale:g})")
    parser.add_argument("--head-seed", type=int, default=HeadEyesConfig.seed, metavar="N",
                        help="seed of the head and eye motion: the same audio and seed give the same motion "
                             f"(default {HeadEyesConfig.seed})")
    parser.add_argument("--force", action="store_true", help="rewrite outputs that already exist")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="checkpoint folder or shipped:NAME (default: the shipped model)")
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda (default: CUDA when present)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="clips per model call (default 16 on CPU, 32 on CUDA)")
    parser.add_argument("--window", type=float, default=WindowOptions.window_s,
                        help=f"seconds per model window for long files (default {WindowOptions.window_s})")
    parser.add_argument("--overlap", type=float, default=WindowOptions.overlap_s,
                        help=f"seconds of crossfade between windows (default {WindowOptions.overlap_s})")
    parser.add_argument("--transcribe", action=argparse.BooleanOptionalAction, default=False,
                        help="transcribe files that have no script line (<name>.txt or a transcript column) for "
                             "the text intensity head; off by default: the built-in recogniser runs at about 3x "
                             "real time, the audio-only head at over 50x (default: --no-transcribe)")
    parser.add_argument("--max-duration", type=float, default=MAX_INPUT_S, metavar="SECONDS",
                        help=f"a file longer than this (by its header) fails before it is decoded; 0 = no cap "
                             f"(default {MAX_INPUT_S:g})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    from livelink_bridge.offline.bake import BakeOptions, GuidanceChoice, NEUTRAL, bake
    from livelink_bridge.offline.writers import parse_formats

    if not 0 < args.fps <= 240:
        raise MedtalkError(f"--fps must be in (0, 240], got {args.fps}")
    if args.batch_size < 0:
        raise MedtalkError("--batch-size must be >= 0")
    if not (math.isfinite(args.head_scale) and args.head_scale >= 0):
        raise MedtalkError("--head-scale must be a number >= 0")
    if not 0 <= args.overlap < args.window:
        raise MedtalkError("--overlap must be >= 0 and shorter than --window")
    if not (math.isfinite(args.max_duration) and args.max_duration >= 0):
        raise MedtalkError("--max-duration must be a number of seconds >= 0 (0 = no cap)")
    check_out_folder(Path(args.out))
    if args.strength != 1.0 and not (args.emotion or args.text or args.image):
        raise MedtalkError("--strength goes with --emotion, --text or --image")
    default = NEUTRAL
    if args.emotion or args.text or args.image:
        default = GuidanceChoice(emotion=args.emotion, text=args.text,
                                 image=str(Path(args.image).resolve()) if args.image else None,
                                 strength=args.strength)
    options = BakeOptions(formats=parse_formats(args.format), fps=args.fps, force=args.force, curves=args.curves,
                          face_board=args.face_board, batch_size=args.batch_size, transcribe=args.transcribe,
                          window=WindowOptions(window_s=args.window, overlap_s=args.overlap),
                          max_duration_s=args.max_duration,
                          head_eyes=HeadEyesConfig(enabled=args.head_eyes, head_scale=args.head_scale,
                                                   seed=args.head_seed))
    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:  # before the model loads: a typo should not cost the start-up
        raise MedtalkError(f"input not found: {missing[0]}")
    from medtalk_core.model_choice import load_animator

    animator = load_animator(model_choice(args))  # default: the shipped default model
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = bake(animator, args.inputs, args.out, options, default=default, manifest=args.guidance_file,
                      show_progress=not args.no_progress and sys.stdout.isatty())
    finally:
        signal.signal(signal.SIGTERM, previous)

    print(f"baked {len(report.baked)}, skipped {len(report.skipped)} (already there; --force rewrites), "
          f"failed {len(report.failed)}; {report.audio_s:.1f} s of audio in {report.wall_s:.1f} s "
          f"({report.realtime_factor:.0f}x real time)")
    for path, reason in report.failed:
        print(f"  FAILED {path}: {reason}")
    return 1 if report.failed else 0


def check_out_folder(out: Path) -> None:
    """--out names a folder, or one to create: a file there, or in its way, is a usage mistake
    said before the model loads (else every input fails with "[Errno 17] File exists")."""
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise MedtalkError(f"--out must be a folder; {existing} is a file")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a bake as Ctrl-C does: the files being written (`.part`) are removed."""
    raise KeyboardInterrupt
