"""Features of every clip from the frozen backbones, computed once and cached.

Backbones are frozen in every stage, so their outputs are fixed per clip: computing them once
makes an epoch a pass over small tensors. The cache is in memory, and on disk when a folder is
given (one safetensors file per clip, under a sub-folder named by a hash of the backbone
settings), so ablation runs and a resumed run reuse the same files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..backbones import BackboneConfig, Backbones
from ..data.emoface import Clip, ClipInfo, EmoFaceDataset
from .augment import AugmentConfig, augment, rng_for
from .batching import ClipFeatures

logger = logging.getLogger(__name__)


def backbone_signature(cfg: BackboneConfig) -> str:
    """Short hash of the settings that decide the cached features (not the guidance slot)."""
    parts = {k: asdict(getattr(cfg, k)) for k in ("audio_content", "audio_emotion", "text")}
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def clip_features(clip: Clip, backbones: Backbones) -> ClipFeatures:
    """Run the backbones on one clip; every frame-level tensor cut to the rig's length."""
    content = backbones.audio_content.features(clip.audio)  # (T', Dc)
    emotion_audio = backbones.audio_emotion.features(clip.audio)  # (T', De)
    transcript = clip.transcript
    if transcript is None and backbones.transcriber is not None:  # real EmoFace has no TXT/: transcribe, as the paper does
        transcript = backbones.transcriber.transcribe(clip.audio).text
    text = backbones.text.features(transcript or "")  # (L, Dt), L >= 1
    frames = min(clip.rig.shape[0], content.shape[0], emotion_audio.shape[0])
    return ClipFeatures(
        name=clip.name,
        rig=torch.as_tensor(clip.rig[:frames], dtype=torch.float32),
        content=content[:frames].float().contiguous(),
        emotion_audio=emotion_audio[:frames].float().contiguous(),
        text=text.float().contiguous(),
        emotion=clip.emotion,
    )


class FeatureCache:
    """ClipFeatures by clip name, from memory, then disk, then the backbones."""

    def __init__(self, backbones: Backbones, backbone_cfg: BackboneConfig, folder: Path | None = None) -> None:
        self.backbones = backbones
        self.folder = None if folder is None else Path(folder) / backbone_signature(backbone_cfg)
        self._memory: dict[tuple[str, str], ClipFeatures] = {}

    def _path(self, info: ClipInfo, suffix: str = "") -> Path | None:
        if self.folder is None:
            return None
        # The dataset folder is part of the key (two datasets may share clip names), and so are the
        # clip's files as they are now: rigs rebuilt after a change to the articulation (or audio
        # written anew) must never be served from an older run's cache.
        stats = [(str(p), p.stat()) for p in (info.audio_path, info.rig_path)]
        files = [(name, st.st_size, st.st_mtime_ns) for name, st in stats]
        folder_tag = hashlib.sha1(str(info.root.resolve()).encode()).hexdigest()[:8]
        files_tag = hashlib.sha1(json.dumps(files).encode()).hexdigest()[:8]
        return self.folder / folder_tag / f"{info.name}.{files_tag}{suffix}.safetensors"

    def get(self, dataset: EmoFaceDataset, index: int) -> ClipFeatures:
        info = dataset.clips[index]
        key = (str(info.root), info.name)
        if key in self._memory:
            return self._memory[key]
        path = self._path(info)
        if path is not None and path.is_file():
            t = load_file(str(path))
            feats = ClipFeatures(info.name, t["rig"], t["content"], t["emotion_audio"], t["text"], int(t["emotion"].item()))
        else:
            feats = clip_features(dataset[index], self.backbones)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_file({"rig": feats.rig, "content": feats.content, "emotion_audio": feats.emotion_audio,
                           "text": feats.text, "emotion": torch.tensor([feats.emotion])}, str(path))
        self._memory[key] = feats
        return feats

    def augmented(self, dataset: EmoFaceDataset, index: int, cfg: AugmentConfig, seed: int,
                  pool: list[np.ndarray]) -> ClipFeatures:
        """The clip's features with `cfg.copies` augmented audio renditions attached (cached like
        the clean ones, under a key that includes the augmentation settings)."""
        clean = self.get(dataset, index)
        if cfg.copies == 0:
            return clean
        info = dataset.clips[index]
        tag = hashlib.sha1(json.dumps([asdict(cfg), seed], sort_keys=True).encode()).hexdigest()[:8]
        path = self._path(info, f".aug{tag}")
        if path is not None and path.is_file():
            t = load_file(str(path))
            variants = tuple((t[f"content{k}"], t[f"emotion_audio{k}"]) for k in range(cfg.copies))
        else:
            audio = dataset[index].audio
            frames = clean.num_frames
            out = []
            for k in range(cfg.copies):
                noisy = augment(audio, cfg, rng_for(seed, info.name, k), pool)
                out.append((self.backbones.audio_content.features(noisy)[:frames].float().contiguous(),
                            self.backbones.audio_emotion.features(noisy)[:frames].float().contiguous()))
            variants = tuple(out)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_file({f"{name}{k}": v[j] for k, v in enumerate(variants)
                           for j, name in enumerate(("content", "emotion_audio"))}, str(path))
        feats = dataclasses.replace(clean, augmented=variants)
        self._memory[(str(info.root), info.name)] = feats
        return feats

    def all(self, dataset: EmoFaceDataset, progress=None) -> list[ClipFeatures]:
        """Features of every clip of `dataset`, in its order; `progress(i, n)` is called per clip."""
        out = []
        for i in range(len(dataset)):
            out.append(self.get(dataset, i))
            if progress is not None:
                progress(i + 1, len(dataset))
        return out
