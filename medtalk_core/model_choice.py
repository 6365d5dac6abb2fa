"""Which model animates, and the one loader of it.

`ModelSettings` is the `model:` section of every config (daemon, bake, preview, eval); the
checkpoint's backbones are changed by the top-level `backbones:` section (`BackboneOverrides`).
Both are torch-free, so command-line parsing and config checks never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medtalk_core.backbones.overrides import BackboneOverrides, check_paths
from medtalk_core.config import from_mapping, load_yaml
from medtalk_core.errors import ConfigError
from medtalk_core.inference_mode import DEFAULT_MODE, rules

if TYPE_CHECKING:
    from medtalk_core.inference import Animator


@dataclass(frozen=True)
class ModelSettings:
    """A checkpoint, where it runs and how."""

    checkpoint: str | None = None  # a checkpoint folder or shipped:NAME; None = the command's default model
    device: str | None = None  # "cpu", "cuda", ...; None = CUDA if available else CPU
    transcribe: bool = True  # live: transcribe finished speech segments for the FIM text branch
    mode: str = DEFAULT_MODE  # "project" (ours) | "release" (the MEDTalk release's demo choices, docs/RELEASE.md)
    threads: int = 1  # live: torch and BLAS CPU threads; one is fastest for small per-hop runs on a
    #                   shared CPU (idle pool threads spin-wait against the daemon's own threads)


@dataclass(frozen=True)
class ModelChoice:
    """A model config with the backbone overrides that go with it."""

    model: ModelSettings = field(default_factory=ModelSettings)
    backbones: BackboneOverrides = field(default_factory=BackboneOverrides)

    def checked(self) -> "ModelChoice":
        """One clear error for an unknown mode, a thread count below one or a missing local backbone,
        before any model loads."""
        rules(self.model.mode)
        if self.model.threads < 1:
            raise ConfigError("model.threads must be >= 1")
        check_paths(self.backbones)
        return self


def read_model_choice(path: str | Path) -> ModelChoice:
    """The `model` and `backbones` sections of a config file (daemon or bake); its other sections
    belong to the command that reads the whole file."""
    data = load_yaml(path)
    return ModelChoice(from_mapping(ModelSettings, data.get("model"), "model"),
                       from_mapping(BackboneOverrides, data.get("backbones"), "backbones")).checked()


def load_animator(choice: ModelChoice, default: str | None = None) -> "Animator":
    """The chosen checkpoint; without one, `default` (a folder or shipped:NAME) when it holds a
    checkpoint, else the shipped default model."""
    from medtalk_core import checkpoint as ckpt
    from medtalk_core.inference import Animator

    path = choice.model.checkpoint
    if path is None and default is not None and (ckpt.folder_of(default) / ckpt.CONFIG_NAME).is_file():
        path = default
    return Animator.from_checkpoint(path, choice.model.device, overrides=choice.backbones, mode=choice.model.mode)
