"""`medtalk import-release`: convert the authors' released `.pth` weights into our checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtalk_core.commands.model_flags import add_backbone_flag, flag_overrides

NAME = "import-release"
HELP = "convert the MEDTalk release's weights (cross_recon/audio_cont/audio_semantic/clip_emotion .pth) to a checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="in_dir", required=True, metavar="DIR",
                        help="folder holding the release's .pth files (its weights/ folder)")
    parser.add_argument("--out", required=True, metavar="CKPT", help="checkpoint folder to write (model.safetensors + config.json)")
    parser.add_argument("--backbones", metavar="YAML",
                        help="daemon/bake config whose backbones section (local model folders, devices) is written "
                             "into the checkpoint over the release's encoders; --backbone flags win over it")
    add_backbone_flag(parser)
    parser.add_argument("--allow-missing", action="store_true",
                        help="write the checkpoint even when some modules are in none of the files (left untrained)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing checkpoint in --out")


def run(args: argparse.Namespace) -> int:
    from medtalk_core.checkpoint import CONFIG_NAME
    from medtalk_core.errors import MedtalkError
    from medtalk_core.release_import import import_release

    from medtalk_core.model_choice import read_model_choice

    out = Path(args.out)
    if (out / CONFIG_NAME).is_file() and not args.force:
        raise MedtalkError(f"{out} already holds a checkpoint; pass --force to overwrite it")
    backbones = flag_overrides(args, read_model_choice(args.backbones).backbones if args.backbones else None)
    report = import_release(args.in_dir, out, allow_missing=args.allow_missing, backbones=backbones)
    print(f"read {', '.join(report.files)}")
    for module, source in sorted(report.sources.items()):
        print(f"  {module:<22} <- {source}")
    for backbone, count in sorted(report.skipped_backbone_tensors.items()):
        print(f"  skipped {count} tensors of the frozen {backbone} (loaded by our backbone instead)")
    for line in report.differing_copies:
        print(f"  note: {line}")
    if report.missing:
        print(f"  left untrained ({len(report.missing)}): {', '.join(report.missing)}")
    print(f"wrote {out} (model profile paper; backbones: the release's, see configs/paper.yaml, "
          "with --backbones / --backbone over them)")
    return 0
