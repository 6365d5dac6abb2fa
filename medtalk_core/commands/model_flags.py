"""The flags that choose a model and where its backbones live, shared by run, bake, preview, eval
and import-release: `--backbone SLOT=PATH` (repeatable), `--mode`, and for the offline commands
`--config` (a daemon/bake YAML: its `model` and `backbones` sections)."""

from __future__ import annotations

import argparse
from typing import Any

# Slot names and modes are checked where they are defined (backbones.overrides, inference_mode),
# imported only when a command runs: building the parser must not import torch.


def add_backbone_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", action="append", default=[], metavar="SLOT=PATH",
                        help="model of a backbone slot (audio_content, audio_emotion, transcriber, text, guidance): "
                             "a local folder or hub id, over the checkpoint's; SLOT.name=, SLOT.device=, "
                             "SLOT.dtype=float16 set the rest (repeatable)")


def add_model_flags(parser: argparse.ArgumentParser, config: bool = True) -> None:
    """--backbone, --mode and (offline commands) --config."""
    add_backbone_flag(parser)
    parser.add_argument("--mode", default=None, metavar="project|release",
                        help="inference mode: project (default) or release (the MEDTalk release's demo choices, "
                             "docs/RELEASE.md)")
    if config:
        parser.add_argument("--config", metavar="YAML",
                            help="daemon/bake config (e.g. configs/paper.yaml): its model and backbones sections; "
                                 "flags win over it")


def flag_overrides(args: argparse.Namespace, section: Any = None) -> Any:
    """A YAML `backbones:` section (BackboneOverrides) with the --backbone flags over it; local
    paths checked now, before any model loads."""
    from medtalk_core.backbones.overrides import BackboneOverrides, check_paths, parse_flags

    merged = (section or BackboneOverrides()).merged(parse_flags(args.backbone))
    check_paths(merged)
    return merged


def config_choice(args: argparse.Namespace) -> Any:
    """--config's model and backbones sections (a ModelChoice), or the defaults."""
    from medtalk_core.model_choice import ModelChoice, read_model_choice

    return read_model_choice(args.config) if args.config else ModelChoice()


def model_choice(args: argparse.Namespace) -> Any:
    """--config's model and backbones sections with --checkpoint, --device, --mode and --backbone
    over them (a ModelChoice, checked)."""
    from dataclasses import replace

    from medtalk_core.model_choice import ModelChoice

    base = config_choice(args)
    flags = {key: getattr(args, key, None) for key in ("checkpoint", "device", "mode")}
    model = replace(base.model, **{key: value for key, value in flags.items() if value is not None})
    return ModelChoice(model, flag_overrides(args, base.backbones)).checked()
