"""What every pretrained adapter shares: load options, device and dtype choice, lazy imports,
and the one clear error for a model that is not on this machine.

Nothing here touches the network unless `LoadOptions.allow_download` is set: adapters pass
`local_files_only=True` (or the library's equivalent) to the hub clients otherwise.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...devices import resolve_device  # noqa: F401  (the adapters' device rule, re-exported)
from ...errors import MissingDependencyError, MissingModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadOptions:
    """How a pretrained backbone is loaded; shared by all adapters of one profile."""

    device: str | None = None  # "cuda", "cuda:1", "cpu"; None = CUDA when available, else CPU
    fp16: bool = False  # half-precision weights and activations on GPU; ignored on CPU (slow there)
    allow_download: bool = False  # let the hub client fetch a missing model; off = never use the network
    cache_dir: str | None = None  # hub cache folder; None = the library's default (HF_HOME, MODELSCOPE_CACHE)


def resolve_dtype(options: LoadOptions, device: torch.device) -> torch.dtype:
    if options.fp16 and device.type == "cuda":
        return torch.float16
    if options.fp16:
        logger.info("fp16 applies on GPU only; running float32 on %s", device)
    return torch.float32


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import an optional dependency, or raise MissingDependencyError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pip_name = package or module
        raise MissingDependencyError(
            f"{module} is not installed ({exc}); install it with: pip install 'medtalk-bridge[{extra}]' "
            f"(or pip install {pip_name})"
        ) from None


def hf_cache_dir(options: LoadOptions) -> str:
    """Where the Hugging Face hub client looks for cached models."""
    if options.cache_dir:
        return options.cache_dir
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def is_local_path(model: str) -> bool:
    """A model setting names a local folder/file when it exists or is written like a path."""
    return Path(model).expanduser().exists() or model.startswith(("/", ".", "~"))


def missing_model(what: str, model: str, looked_in: str, config_key: str, options: LoadOptions,
                  cause: BaseException | None = None) -> MissingModelError:
    """The one error for a model that is not here: what, where we looked, which key to set."""
    if is_local_path(model):
        path = Path(model).expanduser()
        where = f"local path {path} does not exist" if not path.exists() else f"local path {path} does not hold a loadable model"
        fix = f"Set {config_key} to a folder or file that holds it"
    else:
        where = f"not found in the hub cache {looked_in}" + ("" if options.allow_download else " (downloads are off)")
        fix = (f"Set {config_key} to a local copy, or fetch it once (README, 'Pretrained models'), "
               f"or set allow_download: true")
    detail = ""
    if cause is not None and str(cause):
        detail = f" [{type(cause).__name__}: {str(cause).splitlines()[0][:200]}]"
    return MissingModelError(f"{what} model {model!r}: {where}. {fix}{detail}")


def to_time_frames(features: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(F, D) features at the model's rate -> (num_frames, D) on the rig clock.

    Linear interpolation with align_corners=True, as the release does for wav2vec2 and
    emotion2vec features (50 Hz -> 60 fps)."""
    if num_frames == 0:
        return features.new_zeros((0, features.shape[-1]))
    if features.shape[0] == 1:  # one input frame: hold it (interpolate needs 2 points for align_corners)
        return features.expand(num_frames, -1).clone()
    x = features.t().unsqueeze(0)  # (1, D, F)
    x = F.interpolate(x, size=num_frames, mode="linear", align_corners=True)  # (1, D, T)
    return x[0].t().contiguous()  # (T, D)


def as_audio(audio_16k: np.ndarray) -> np.ndarray:
    """Validate 16 kHz mono audio: (n,) float32, finite."""
    audio = np.asarray(audio_16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (n,), got shape {audio.shape}")
    return audio


def load_hf(loader: type, model: str, what: str, config_key: str, options: LoadOptions, **kwargs: object) -> object:
    """`loader.from_pretrained` (a transformers model, config, tokenizer or processor class) from
    a local folder or the hub cache; never the network unless downloads are allowed."""
    source = str(Path(model).expanduser()) if is_local_path(model) else model
    try:
        return loader.from_pretrained(
            source, local_files_only=not options.allow_download, cache_dir=options.cache_dir, **kwargs
        )
    except (OSError, ValueError, EnvironmentError) as exc:  # transformers' "can't find / can't connect"
        raise missing_model(what, model, hf_cache_dir(options), config_key, options, exc) from None


class PretrainedAdapter:
    """What every adapter holds: its settings, the shared load options, the config key that names
    it in error messages, and its registry name. Weights load lazily, never in the constructor."""

    def __init__(self, settings: object, options: LoadOptions, config_key: str, name: str) -> None:
        self.settings = settings
        self.options = options
        self.config_key = config_key
        self.name = name
        self._dim: int | None = None  # feature size, once a config or the model has been read

    def _config_dim(self, config_class: str, what: str, field: str = "hidden_size") -> int:
        """The feature size from the transformers config file alone (no weights loaded), cached."""
        if self._dim is None:
            transformers = require("transformers", "pretrained")
            config = load_hf(getattr(transformers, config_class), self.settings.model, what, self.config_key,
                             self.options)
            self._dim = int(getattr(config, field))
        return self._dim


def run_by_length(clips: Sequence[np.ndarray],
                  run: Callable[[list[np.ndarray], int], Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    """Clips of equal length run together, never zero-padded into one batch (padding would change
    the features of models without an attention mask): `run(clips of one length, length)` gives
    one (T, D) per clip; the results come back in the clips' order."""
    out: list[torch.Tensor | None] = [None] * len(clips)
    by_length: dict[int, list[int]] = {}
    for i, clip in enumerate(clips):
        by_length.setdefault(len(clip), []).append(i)
    for length, indices in by_length.items():
        for i, feats in zip(indices, run([clips[i] for i in indices], length)):
            out[i] = feats
    return [f for f in out if f is not None]
