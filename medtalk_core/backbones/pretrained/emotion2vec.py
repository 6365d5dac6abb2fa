"""Audio emotion features from funasr's emotion2vec (the paper's FIM audio branch).

The release calls `AutoModel("iic/emotion2vec_base").generate(audio, granularity="frame",
extract_embedding=True)` and interpolates the 768-d, 50 Hz frame features to the T rig frames
(linear, align_corners=True). We build the model with funasr's AutoModel from a local folder
(config.yaml + model.pt, the ModelScope layout) and run the same steps as its `inference`
(layer-norm the waveform when the config says so, `extract_features`, take `x`) directly, so that
equal-length clips batch and fp16 works on GPU.
funasr is the optional `emotion2vec` extra and is imported only when the model loads.

A model folder is data, never code: funasr's AutoModel imports the file a folder's config names
(`remote_code`) when it says `trust_remote_code: true`, and pip-installs its requirements.txt.
We refuse such a config, and tell AutoModel `trust_remote_code=False` whatever the folder says.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...audio import num_frames
from ...config import load_yaml, parse_json
from ...errors import ConfigError
from .loading import (LoadOptions, PretrainedAdapter, as_audio, is_local_path, missing_model, require, resolve_device,
                      resolve_dtype, run_by_length, to_time_frames)

logger = logging.getLogger(__name__)

HF_NAMES = {"iic/emotion2vec_base": "emotion2vec/emotion2vec_base"}  # ModelScope id -> Hugging Face id
MIN_SAMPLES = 400  # the convolutional front end needs 25 ms for one frame


@dataclass(frozen=True)
class Emotion2vecSettings:
    model: str = "iic/emotion2vec_base"  # ModelScope/Hugging Face id, or a local folder with config.yaml + model.pt
    hub: str = "ms"  # cache to look in for an id: "ms" (ModelScope, as the release) | "hf" (Hugging Face)
    processor_norm: bool = False  # zero-mean unit-variance per clip first, as the release's Wav2Vec2Processor
    #                               output is what it hands emotion2vec (inference mode "release")


def modelscope_cache(options: LoadOptions) -> Path:
    return Path(options.cache_dir or os.environ.get("MODELSCOPE_CACHE", "~/.cache/modelscope/hub")).expanduser()


def read_folder_config(folder: Path) -> dict[str, Any]:
    """config.yaml of a local emotion2vec folder, checked before funasr reads the folder: it names
    the Emotion2vec model and its model_conf.embed_dim, and neither it nor configuration.json
    (which funasr reads first when present) asks for the folder's code to run. ConfigError
    naming the folder otherwise."""
    config = load_yaml(folder / "config.yaml")
    configs = {"config.yaml": config}
    meta = folder / "configuration.json"
    if meta.is_file():
        configs[meta.name] = parse_json(meta.read_text(encoding="utf-8", errors="replace"), meta)
    for name, data in configs.items():
        key = _remote_code_key(data)
        if key:
            raise ConfigError(f"emotion2vec folder {folder}: {name} asks funasr to run code from the folder "
                              f"({key}); a model folder may hold weights and settings only: remove the key")
    if config.get("model") != "Emotion2vec":
        raise ConfigError(f"emotion2vec folder {folder}: config.yaml must say model: Emotion2vec")
    model_conf = config.get("model_conf")
    embed_dim = model_conf.get("embed_dim") if isinstance(model_conf, dict) else None
    if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim <= 0:
        raise ConfigError(f"emotion2vec folder {folder}: config.yaml has no model_conf.embed_dim "
                          "(a positive integer, 768 for emotion2vec_base)")
    return config


def _remote_code_key(data: Any) -> str | None:
    """The first key, at any depth, that asks funasr to import code: `trust_remote_code` set, or
    any `remote_code` (funasr reads them at the top level and in each sub-model's settings)."""
    stack, seen = [data], set()
    while stack:  # a loop, not recursion: YAML anchors can make a structure that contains itself
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            if item.get("trust_remote_code") not in (None, False):
                return "trust_remote_code"
            if "remote_code" in item:
                return "remote_code"
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class Emotion2vecEmotion(PretrainedAdapter):
    """AudioFeatureBackbone: 16 kHz audio -> (T, 768) emotion2vec frame features on the rig clock."""

    def __init__(self, settings: Emotion2vecSettings = Emotion2vecSettings(), options: LoadOptions = LoadOptions(),
                 config_key: str = "backbones.audio_emotion.model") -> None:
        if settings.hub not in ("ms", "hf"):
            raise ValueError(f"emotion2vec hub must be 'ms' or 'hf', got {settings.hub!r}")
        super().__init__(settings, options, config_key, f"emotion2vec:{settings.model}")
        self._model: torch.nn.Module | None = None
        self._folder: Path | None = None

    def folder(self) -> Path | None:
        """The local model folder (config.yaml + model.pt), or None when only a download would give it."""
        if self._folder is not None:
            return self._folder
        model = self.settings.model
        if is_local_path(model):
            candidates = [Path(model).expanduser()]
        elif self.settings.hub == "ms":
            root = modelscope_cache(self.options)
            candidates = [root / "models" / model, root / model]  # newer / older modelscope layouts
        else:
            candidates = []
            try:
                from huggingface_hub import snapshot_download

                candidates.append(Path(snapshot_download(HF_NAMES.get(model, model), local_files_only=True,
                                                         cache_dir=self.options.cache_dir)))
            except Exception as exc:  # hub client: not cached
                logger.debug("emotion2vec %s not in the Hugging Face cache: %s", model, exc)
        for path in candidates:
            if (path / "config.yaml").is_file() and (path / "model.pt").is_file():
                self._folder = path
                return path
        return None

    @property
    def dim(self) -> int:
        folder = self.folder()
        if folder is None:  # only a download would tell: load (or raise the missing-model error)
            return int(self.load().cfg.get("embed_dim"))
        return read_folder_config(folder)["model_conf"]["embed_dim"]

    def load(self) -> torch.nn.Module:
        """The Emotion2vec module, built once with funasr's AutoModel; frozen, eval mode."""
        if self._model is None:
            require("funasr", "emotion2vec")
            from funasr import AutoModel

            folder = self.folder()
            if folder is None and not self.options.allow_download:
                looked = (str(Path(self.settings.model).expanduser()) if is_local_path(self.settings.model)
                          else f"{modelscope_cache(self.options)} (ModelScope)" if self.settings.hub == "ms"
                          else "the Hugging Face hub cache")
                raise missing_model("audio emotion (emotion2vec)", self.settings.model, looked, self.config_key,
                                    self.options)
            if folder is not None:
                read_folder_config(folder)  # before funasr reads it
            device = resolve_device(self.options.device)
            # AutoModel reseeds every RNG, sets torch's thread count and prints its version to
            # stdout (where our CLI writes results): keep the caller's state and stdout
            rng = (random.getstate(), np.random.get_state())
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
                    contextlib.redirect_stdout(io.StringIO()):
                # Our keyword arguments override the folder's config: no remote code, no sub-models
                # (a sub-model's own folder would be read with its own trust_remote_code).
                auto = AutoModel(model=str(folder) if folder else self.settings.model, hub=self.settings.hub,
                                 device=str(device), ncpu=torch.get_num_threads(), disable_update=True,
                                 disable_log=True, disable_pbar=True, trust_remote_code=False,
                                 vad_model=None, punc_model=None, spk_model=None)
            random.setstate(rng[0])
            np.random.set_state(rng[1])
            model = auto.model.to(device=device, dtype=resolve_dtype(self.options, device)).eval()
            model.requires_grad_(False)
            self._model = model
            logger.info("loaded emotion2vec %s on %s", folder or self.settings.model, device)
        return self._model

    def features(self, audio_16k: np.ndarray) -> torch.Tensor:
        return self.features_batch([audio_16k])[0]

    def features_batch(self, audios: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Features for several clips; equal-length clips run as one batch (no padding mask needed)."""
        def run(group: list[np.ndarray], length: int) -> list[torch.Tensor]:
            raw = self.frame_features(np.stack(group))  # (B, F, D) at 50 Hz
            return [to_time_frames(r, num_frames(length)) for r in raw]  # each (T, D)

        return run_by_length([as_audio(a) for a in audios], run)

    @torch.inference_mode()
    def frame_features(self, batch: np.ndarray) -> torch.Tensor:
        """(B, n) equal-length clips -> (B, F, D) float32 frame features at the model's 50 Hz."""
        model = self.load()
        param = next(model.parameters())
        x = torch.from_numpy(batch.astype(np.float32))  # (B, n)
        if self.settings.processor_norm:  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm, per clip
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-7)
        if x.shape[1] < MIN_SAMPLES:
            x = F.pad(x, (0, MIN_SAMPLES - x.shape[1]))
        if model.cfg.get("normalize", False):  # funasr's inference: layer norm over each whole waveform
            x = F.layer_norm(x, x.shape[1:])
        x = x.to(device=param.device, dtype=param.dtype)
        feats = model.extract_features(x, padding_mask=None)["x"]  # (B, F, D)
        return feats.float().cpu()
