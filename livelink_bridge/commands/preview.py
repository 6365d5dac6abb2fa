"""`medtalk preview`: a 2-D face beside the waveform and intensity, as mp4, gif or png."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from medtalk_core.audio import MAX_INPUT_S
from medtalk_core.errors import MedtalkError

from medtalk_core.commands.model_flags import add_model_flags, model_choice

NAME = "preview"
HELP = "render a baked take or an audio file as a face preview (mp4 with audio, gif or png)"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT",
                        help="a baked take (.csv, .json, .txt at 60 fps) or audio (.wav, .flac, .ogg) to animate first")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="FILE.mp4 (needs ffmpeg, else a GIF is written), FILE.gif or FILE.png (contact sheet)")
    parser.add_argument("--audio", metavar="WAV", help="audio of a baked take: drawn as waveform and muxed into mp4")
    guide = parser.add_mutually_exclusive_group()
    guide.add_argument("--emotion", default=None, metavar="LABEL",
                       help="emotion for an audio input (default neutral)")
    guide.add_argument("--text", metavar="DESC",
                       help="audio input: guide by a description, e.g. 'slightly raised eyebrows and a half smile'")
    guide.add_argument("--image", metavar="PATH", help="audio input: guide by a reference face picture")
    parser.add_argument("--strength", type=float, default=1.0, help="guidance strength for an audio input")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="checkpoint folder or shipped:NAME for an audio input (default: shipped model)")
    parser.add_argument("--no-transcribe", action="store_true",
                        help="audio input: intensity from the audio-only head (faster)")
    parser.add_argument("--head-eyes", action=argparse.BooleanOptionalAction, default=True,
                        help="audio input: turn the head and move the eyes with the speech, as a bake does "
                             "(default on)")
    parser.add_argument("--size", type=int, default=256, help="face size in pixels (default 256)")
    parser.add_argument("--fps", type=float, default=0.0, help="video frame rate (default 30 mp4, 20 gif)")
    parser.add_argument("--device", help="torch device for an audio input, e.g. cpu or cuda (default: CUDA when present)")
    parser.add_argument("--max-duration", type=float, default=MAX_INPUT_S, metavar="SECONDS",
                        help=f"refuse audio (INPUT or --audio) longer than this, by its header; 0 = no cap "
                             f"(default {MAX_INPUT_S:g})")
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    from medtalk_core.audio import AUDIO_SUFFIXES, load_audio
    from medtalk_core.long_audio import AudioFileReader, animate_file

    from livelink_bridge.offline.preview import PreviewOptions, Take, render
    from livelink_bridge.offline.writers import TAKE_SUFFIXES, read_rig_file

    source = Path(args.input)
    suffix = source.suffix.lower()
    if not 32 <= args.size <= 2048:
        raise MedtalkError("--size must be between 32 and 2048")
    if args.fps < 0:
        raise MedtalkError("--fps must be positive")
    if not (math.isfinite(args.max_duration) and args.max_duration >= 0):
        raise MedtalkError("--max-duration must be a number of seconds >= 0 (0 = no cap)")
    if suffix in AUDIO_SUFFIXES:
        if args.audio:
            raise MedtalkError("--audio goes with a baked take; an audio INPUT is its own audio")
        from medtalk_core.guidance import GuidanceSpec
        from medtalk_core.model_choice import load_animator

        animator = load_animator(model_choice(args))  # the shipped default model unless chosen
        reader = AudioFileReader(source, resampler=animator.resampler, max_s=args.max_duration)
        spec = GuidanceSpec(text=args.text) if args.text else (
            GuidanceSpec(image=str(Path(args.image).resolve())) if args.image else GuidanceSpec(label=args.emotion or "neutral"))
        guidance = animator.guidance(spec, strength=args.strength)
        blocks = list(animate_file(animator, reader, guidance, transcript="" if args.no_transcribe else None,
                                   path=animator.guidance_path(spec)))
        import numpy as np

        from medtalk_core.head_eyes import HeadEyesConfig, frame_energy_db
        from medtalk_core.rotation_curves import rotation_curves
        from livelink_bridge.offline.bake import head_eyes_of

        frames, samples = np.concatenate(blocks), reader.read(0, reader.num_samples)
        rotations = rotation_curves(frames, head_eyes_of(frame_energy_db(samples), HeadEyesConfig(), args.emotion)) \
            if args.head_eyes else None
        take = Take(frames, 60.0, samples, source, rotations)
    elif suffix in TAKE_SUFFIXES:
        if args.emotion or args.text or args.image:
            raise MedtalkError("--emotion, --text and --image go with an audio INPUT; a baked take has its guidance")
        frames, fps, rotations = read_rig_file(source)
        audio_path = Path(args.audio) if args.audio else None
        take = Take(frames, fps, load_audio(audio_path, max_s=args.max_duration) if audio_path else None, audio_path,
                    rotations)
    else:
        raise MedtalkError(f"cannot preview {source.name}: use {', '.join(TAKE_SUFFIXES + AUDIO_SUFFIXES)}")
    written = render(take, args.out, PreviewOptions(size=args.size, fps=args.fps))
    print(f"wrote {written} ({take.frames.shape[0]} frames, {take.duration_s:.1f} s)")
    return 0
