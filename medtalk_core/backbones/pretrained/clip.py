"""CLIP guidance features for text descriptions and reference images (the paper's multimodal stage).

Two backends with the same weights (OpenAI CLIP ViT-B/32) and the same output, 512-d
projected, unnormalised features, as the release's `get_text_features`/`get_image_features`:
- `OpenClipGuidance`: open_clip `ViT-B-32` / `openai` (or a local open_clip weights file),
  with open_clip's own tokenizer and eval preprocessing. Needs torchvision.
- `HfClipGuidance`: transformers `CLIPModel` (`openai/clip-vit-base-patch32`, what the release
  loads), with the folder's tokenizer and image processor. No torchvision needed.
Texts longer than the context (77 tokens) are truncated by both.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ...errors import MedtalkError
from ...image_files import read_rgb
from .loading import (LoadOptions, PretrainedAdapter, hf_cache_dir, is_local_path, load_hf, missing_model, require,
                      resolve_device, resolve_dtype)

logger = logging.getLogger(__name__)

OPEN_CLIP_LEGACY_CACHE = Path("~/.cache/clip").expanduser()  # where open_clip keeps URL downloads


def load_image(image: np.ndarray | str | Path) -> "PIL.Image.Image":  # noqa: F821 (PIL imported lazily)
    """HxWx3 uint8 RGB array or image path -> RGB PIL image."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        return Image.fromarray(read_rgb(Path(image).expanduser()), mode="RGB")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"image array must be HxWx3 uint8 RGB, got {array.shape} {array.dtype}")
    return Image.fromarray(array, mode="RGB")


@dataclass(frozen=True)
class OpenClipSettings:
    arch: str = "ViT-B-32"  # open_clip model name
    pretrained: str = "openai"  # open_clip pretrained tag (read from the hub cache) or a local open_clip weights file
    arch_config: str | None = None  # JSON model config registered with open_clip first (custom architectures)
    quick_gelu: bool = True  # OpenAI's weights use QuickGELU; applies when `pretrained` is a local file


class OpenClipGuidance(PretrainedAdapter):
    """GuidanceBackbone on open_clip: texts / images -> (N, embed_dim)."""

    def __init__(self, settings: OpenClipSettings = OpenClipSettings(), options: LoadOptions = LoadOptions(),
                 config_key: str = "backbones.guidance.pretrained") -> None:
        super().__init__(settings, options, config_key, f"open_clip:{settings.arch}:{settings.pretrained}")
        self._loaded: tuple[torch.nn.Module, object, object] | None = None

    @property
    def dim(self) -> int:
        open_clip = self._open_clip()
        config = open_clip.get_model_config(self.settings.arch)
        if config is None:
            raise MedtalkError(f"unknown open_clip architecture {self.settings.arch!r}")
        return int(config["embed_dim"])

    def _open_clip(self):  # the module, with a custom architecture registered
        open_clip = require("open_clip", "pretrained", "open_clip_torch")
        if self.settings.arch_config is not None:
            path = Path(self.settings.arch_config).expanduser()
            if not path.is_file():
                raise MedtalkError(f"open_clip architecture config not found: {path}")
            open_clip.add_model_config(path)
        return open_clip

    def _weights_file(self, open_clip) -> tuple[str, bool]:
        """(local weights file, quick_gelu) for the configured tag or file; never downloads unless allowed."""
        pretrained = self.settings.pretrained
        if is_local_path(pretrained):
            path = Path(pretrained).expanduser()
            if not path.is_file():
                raise missing_model("guidance (open_clip)", pretrained, str(path), self.config_key, self.options)
            return str(path), self.settings.quick_gelu
        cfg = open_clip.get_pretrained_cfg(self.settings.arch, pretrained)
        if not cfg:
            tags = open_clip.list_pretrained_tags_by_model(self.settings.arch)
            raise MedtalkError(f"open_clip has no pretrained tag {pretrained!r} for {self.settings.arch} "
                               f"(known: {', '.join(tags) or 'none'}); set {self.config_key} to a tag or a file")
        quick_gelu = bool(cfg.get("quick_gelu", False))
        repo_and_file = cfg.get("hf_hub", "")
        legacy = OPEN_CLIP_LEGACY_CACHE / Path(cfg.get("url", "")).name if cfg.get("url") else None
        if repo_and_file:
            from huggingface_hub import hf_hub_download

            repo, filename = posixpath.split(repo_and_file)  # "org/name/" names the repo's default file
            filename = filename or "open_clip_pytorch_model.bin"
            candidates = [filename]
            if filename.endswith(".bin"):  # prefer the pickle-free copy when the repo has one
                candidates.insert(0, filename.replace("open_clip_pytorch_model.bin", "open_clip_model.safetensors")
                                  .replace(".bin", ".safetensors"))
            for name in candidates:
                try:
                    return hf_hub_download(repo, name, cache_dir=self.options.cache_dir,
                                           local_files_only=not self.options.allow_download), quick_gelu
                except Exception as exc:  # hub client: not cached / not on the hub / no network
                    logger.debug("open_clip weights %s/%s not available: %s", repo, name, exc)
        if legacy is not None and legacy.is_file():  # an older open_clip's URL download of OpenAI's file
            return str(legacy), quick_gelu
        looked = f"{hf_cache_dir(self.options)} ({repo_and_file or 'no hub entry'})"
        raise missing_model("guidance (open_clip)", f"{self.settings.arch}/{pretrained}", looked, self.config_key,
                            self.options)

    def load(self) -> tuple[torch.nn.Module, object, object]:
        """(model, tokenizer, eval preprocess), loaded once and cached."""
        if self._loaded is None:
            open_clip = self._open_clip()
            weights, quick_gelu = self._weights_file(open_clip)
            device = resolve_device(self.options.device)
            precision = "fp16" if resolve_dtype(self.options, device) == torch.float16 else "fp32"
            try:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.settings.arch, pretrained=weights, precision=precision, device=device,
                    force_quick_gelu=quick_gelu)
            except (RuntimeError, KeyError, OSError) as exc:  # a file that is not this architecture's weights
                raise MedtalkError(f"open_clip weights {weights} do not fit {self.settings.arch}: {exc}") from None
            model.eval().requires_grad_(False)
            self._loaded = (model, open_clip.get_tokenizer(self.settings.arch), preprocess)
            logger.info("loaded open_clip %s (%s) on %s", self.settings.arch, weights, device)
        return self._loaded

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        model, tokenizer, _ = self.load()
        device = next(model.parameters()).device
        tokens = tokenizer(list(texts)).to(device)  # (N, context_length)
        return model.encode_text(tokens).float().cpu()  # (N, embed_dim)

    @torch.inference_mode()
    def encode_image(self, images: Sequence[np.ndarray | str]) -> torch.Tensor:
        model, _, preprocess = self.load()
        param = next(model.parameters())
        pixels = torch.stack([preprocess(load_image(im)) for im in images])  # (N, 3, H, W)
        return model.encode_image(pixels.to(param.device, param.dtype)).float().cpu()  # (N, embed_dim)


@dataclass(frozen=True)
class HfClipSettings:
    model: str = "openai/clip-vit-base-patch32"  # hub id or local folder (model, tokenizer, image processor)


class HfClipGuidance(PretrainedAdapter):
    """GuidanceBackbone on transformers' CLIPModel, as the release: texts / images -> (N, projection_dim)."""

    def __init__(self, settings: HfClipSettings = HfClipSettings(), options: LoadOptions = LoadOptions(),
                 config_key: str = "backbones.guidance.model") -> None:
        super().__init__(settings, options, config_key, f"hf_clip:{settings.model}")
        self._loaded: tuple[torch.nn.Module, object, object] | None = None

    @property
    def dim(self) -> int:
        return self._config_dim("CLIPConfig", "guidance (CLIP)", field="projection_dim")

    def load(self) -> tuple[torch.nn.Module, object, object]:
        """(model, tokenizer, image processor), loaded once and cached."""
        if self._loaded is None:
            transformers = require("transformers", "pretrained")
            what = "guidance (CLIP)"
            model = load_hf(transformers.CLIPModel, self.settings.model, what, self.config_key, self.options)
            tokenizer = load_hf(transformers.AutoTokenizer, self.settings.model, what + " tokenizer",
                                self.config_key, self.options)
            image_processor = load_hf(transformers.AutoImageProcessor, self.settings.model,
                                      what + " image processor", self.config_key, self.options)
            device = resolve_device(self.options.device)
            model = model.to(device=device, dtype=resolve_dtype(self.options, device)).eval()
            model.requires_grad_(False)
            self._dim = int(model.config.projection_dim)
            self._loaded = (model, tokenizer, image_processor)
            logger.info("loaded CLIP %s on %s", self.settings.model, device)
        return self._loaded

    @staticmethod
    def _embeds(out: object) -> torch.Tensor:
        # transformers 4.x returns the projected tensor; 5.x may wrap it in a model output
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        model, tokenizer, _ = self.load()
        device = next(model.parameters()).device
        max_len = int(model.config.text_config.max_position_embeddings)
        enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        out = model.get_text_features(input_ids=enc["input_ids"].to(device),
                                      attention_mask=enc["attention_mask"].to(device))
        return self._embeds(out).float().cpu()  # (N, projection_dim)

    @torch.inference_mode()
    def encode_image(self, images: Sequence[np.ndarray | str]) -> torch.Tensor:
        model, _, image_processor = self.load()
        param = next(model.parameters())
        pixels = image_processor(images=[load_image(im) for im in images], return_tensors="pt")["pixel_values"]
        out = model.get_image_features(pixel_values=pixels.to(param.device, param.dtype))  # (N, projection_dim)
        return self._embeds(out).float().cpu()
