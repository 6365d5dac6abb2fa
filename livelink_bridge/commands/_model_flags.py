"""The flags that choose a model and where its backbones live, shared by run, bake, preview, eval
and import-release: `--backbone SLOT=PATH` (repeatable), `--mode`, and for the offline commands
`--config` (a daemon/bake YAML: its `model` and `backbones` sections)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ModelChoice:
    checkpoint: str | None  # None = the command's default model
    device: str | None
    mode: str
    backbones: Any  # BackboneOverrides


def model_choice(args: argparse.Namespace) -> ModelChoice:
    """--config's model and backbones sections, with --checkpoint, --device, --mode, --backbone over them."""
    from livelink_bridge.daemon_config import DaemonConfig, load_daemon_config

    from medtalk_core.inference_mode import rules

    cfg = load_daemon_config(args.config) if args.config else DaemonConfig()
    mode = args.mode or cfg.model.mode
    rules(mode)  # an unknown mode: one line, before the model loads
    return ModelChoice(checkpoint=getattr(args, "checkpoint", None) or cfg.model.checkpoint,
                       device=getattr(args, "device", None) or cfg.model.device,
                       mode=mode, backbones=flag_overrides(args, cfg.backbones))


def load_animator(choice: ModelChoice):  # -> medtalk_core.inference.Animator (torch imported lazily)
    from medtalk_core.inference import Animator

    return Animator.from_checkpoint(choice.checkpoint, device=choice.device, overrides=choice.backbones,
                                    mode=choice.mode)
