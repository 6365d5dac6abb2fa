"""Checkpoints that describe themselves: a folder with `model.safetensors` and `config.json`.

config.json holds the model config, the backbone config, the training stage and step (and any
extra fields a trainer adds), so `load(path)` rebuilds the exact model. Weights are only ever
read from safetensors, or from a foreign `.pth`/`.pt`/`.bin` through
`torch.load(weights_only=True)`, which refuses pickled code: nothing from an unknown source can
run code on load.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .backbones import BackboneConfig
from .config import from_mapping, parse_json, to_mapping
from .errors import CheckpointError, ConfigError
from .model import MEDTalk, ModelConfig

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "medtalk-checkpoint"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")

# The models that ship inside the package, by the name a config or `--checkpoint` uses:
# `shipped:NAME` instead of a folder (configs/low_latency.yaml names one this way).
SHIPPED_PREFIX = "shipped:"
_ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED_MODELS = {
    "default": "default_model",  # centred: every stage on whole clips (bake, preview, eval)
    "live": "live_model",  # audio paths see 2 frames ahead: the live daemon at 33 ms lookahead
    "live_1frame": "live_1frame_model",  # 1 frame ahead: the low-latency profile at 17 ms
}


def shipped_model_dir(name: str) -> Path:
    """The folder of a shipped model (it may be absent from an install that has not trained it)."""
    if name not in SHIPPED_MODELS:
        raise CheckpointError(f"no shipped model {name!r}; the shipped models are "
                              + ", ".join(SHIPPED_PREFIX + n for n in SHIPPED_MODELS))
    return _ASSETS / SHIPPED_MODELS[name]


@dataclass
class Checkpoint:
    model: MEDTalk  # in eval mode, on the requested device
    model_config: ModelConfig
    backbones: BackboneConfig
    stage: str  # last training stage that wrote these weights ("init" for an untrained model)
    step: int  # optimiser steps taken in that stage
    path: Path  # the checkpoint folder
    extra: dict[str, Any] = field(default_factory=dict)  # anything else the trainer recorded


def folder_of(path: str | Path) -> Path:
    """A checkpoint folder, the weights file inside one, or `shipped:NAME` -> the folder."""
    if isinstance(path, str) and path.startswith(SHIPPED_PREFIX):
        return shipped_model_dir(path[len(SHIPPED_PREFIX):])
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path} is a pickled PyTorch file; MEDTalk checkpoints are safetensors folders. "
            "Import foreign weights with medtalk_core.checkpoint.read_state_dict (weights only)"
        )
    return path.parent if path.suffix == ".safetensors" else path


def save(
    path: str | Path,
    model: MEDTalk,
    backbones: BackboneConfig,
    stage: str = "init",
    step: int = 0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `path/model.safetensors` and `path/config.json`; returns the folder.

    Files are written beside under temporary names and renamed, so an interrupted save never
    leaves a half-written checkpoint; other files in the folder are left alone."""
    from safetensors.torch import save_file

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    config = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": to_mapping(model.cfg),
        "backbones": to_mapping(backbones),
        "stage": stage,
        "step": int(step),
        "extra": extra or {},
    }
    tmp_weights = folder / (WEIGHTS_NAME + ".tmp")
    tmp_config = folder / (CONFIG_NAME + ".tmp")
    save_file(tensors, str(tmp_weights), metadata={"format": FORMAT, "stage": stage, "step": str(step)})
    tmp_config.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_weights, folder / WEIGHTS_NAME)
    os.replace(tmp_config, folder / CONFIG_NAME)
    logger.info("saved checkpoint %s (stage %s, step %d)", folder, stage, step)
    return folder


def read_config(path: str | Path) -> dict[str, Any]:
    """The raw config.json of a checkpoint folder."""
    folder = folder_of(path)
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise CheckpointError(f"no checkpoint at {folder}: {CONFIG_NAME} not found")
    try:
        config = parse_json(config_path.read_text(encoding="utf-8", errors="replace"), config_path)
    except ConfigError as exc:  # malformed, or nested too deeply to parse
        raise CheckpointError(str(exc)) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path} is not a MEDTalk checkpoint config (a JSON {type(config).__name__})")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a MEDTalk checkpoint config (format {config.get('format')!r})")
    return config


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file: safetensors, or a foreign .pth/.pt/.bin read with
    weights_only=True (a file holding pickled objects other than tensors is refused)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except SafetensorError as exc:
            raise CheckpointError(f"{path} is not a valid safetensors file: {exc}") from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for refused globals, RuntimeError for corrupt archives
        raise CheckpointError(
            f"refusing to load {path}: it is not a plain tensor file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a flat mapping of tensor names to tensors")
    return state


def load(path: str | Path, device: str | torch.device | None = None) -> Checkpoint:
    """Rebuild the model a checkpoint folder describes, load its weights strictly, eval mode."""
    folder = folder_of(path)
    config = read_config(folder)
    model_cfg = from_mapping(ModelConfig, config.get("model"), where="model")
    backbone_cfg = from_mapping(BackboneConfig, config.get("backbones"), where="backbones")
    weights = read_state_dict(folder / WEIGHTS_NAME)
    model = MEDTalk(model_cfg)
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # shapes that disagree with the config
        raise CheckpointError(f"weights in {folder} do not fit the model its config describes: "
                              f"{str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"weights in {folder} do not fit the model its config describes: "
            f"missing {sorted(missing)[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {sorted(unexpected)[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    model.to(device if device is not None else "cpu").eval()
    return Checkpoint(model, model_cfg, backbone_cfg, str(config.get("stage", "init")), int(config.get("step", 0)),
                      folder, dict(config.get("extra") or {}))
