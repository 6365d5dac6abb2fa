"""Import of the authors' released weights (SJTU-Lucy/MEDTalk, `weights/*.pth`) into our checkpoint.

The release trains four separate networks and saves each `state_dict()` to one file:

    cross_recon.pth     CrossReconNet     emo_encoder, cont_encoder, decoder
    audio_cont.pth      AudioContentNet   + audio_content_map            (+ frozen wav2vec2 copy)
    audio_semantic.pth  AudioSemanticNet  + fusion_predictor (CMF), emotion_embedding,
                                            semantic_emotion_map         (+ frozen wav2vec2, BERT)
    clip_emotion.pth    CLIPNet           + fusion_predictor (here: the audio-only intensity MLP),
                                            clip_text_map, clip_image_map, semantic_emotion_map
                                                                         (+ frozen wav2vec2, CLIP)

Our `MEDTalk` (paper profile) holds all of them in one module with the release's sub-module names,
so parameters map name-for-name inside a module; the module map below is the whole key map. Each
module is taken from the file whose stage trained it, or from a frozen copy in a later file when
that file is absent. Two files train their own `semantic_emotion_map`: the label model's
(audio_semantic.pth) and the CLIP model's, trained further from it (clip_emotion.pth); both are
kept, each for its own guidance path (model.clip_fuse). The CLIP model's `fusion_predictor`, the
audio-only intensity MLP, is frozen at its random initialisation in the release (absent from the
earlier files, never trained): the checkpoint records it in `extra.untrained_modules`, and the
Animator's project mode does not use it (inference_mode.py). Frozen backbone copies
(wav2vec2, BERT, CLIP) are skipped: our backbones load the same public weights themselves.
Files are read with `torch.load(weights_only=True)` (no pickled code runs).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint
from .backbones import BackboneConfig, BackboneSpec
from .backbones.overrides import BackboneOverrides, apply_overrides
from .errors import CheckpointError
from .model import MEDTalk
from .model.config import load_model_config

logger = logging.getLogger(__name__)

STAGE_FILES = ("cross_recon.pth", "audio_cont.pth", "audio_semantic.pth", "clip_emotion.pth")  # training order
_AUTOENCODER = {"emo_encoder": "emo_encoder", "cont_encoder": "cont_encoder", "decoder": "decoder"}
_ACM = {**_AUTOENCODER, "audio_content_map": "audio_content_map"}
# release file -> {release module: our module}
MODULE_MAP: dict[str, dict[str, str]] = {
    "cross_recon.pth": dict(_AUTOENCODER),
    "audio_cont.pth": dict(_ACM),
    "audio_semantic.pth": {**_ACM, "fusion_predictor": "fusion_predictor", "emotion_embedding": "emotion_embedding",
                           "semantic_emotion_map": "semantic_emotion_map"},
    "clip_emotion.pth": {**_ACM, "fusion_predictor": "audio_intensity", "clip_text_map": "clip_text_map",
                         "clip_image_map": "clip_image_map", "semantic_emotion_map": "clip_semantic_emotion_map"},
}
# our module -> the release file whose training stage produced it
OWNER: dict[str, str] = {
    "emo_encoder": "cross_recon.pth", "cont_encoder": "cross_recon.pth", "decoder": "cross_recon.pth",
    "audio_content_map": "audio_cont.pth", "fusion_predictor": "audio_semantic.pth",
    "emotion_embedding": "audio_semantic.pth", "semantic_emotion_map": "audio_semantic.pth",
    "audio_intensity": "clip_emotion.pth", "clip_text_map": "clip_emotion.pth", "clip_image_map": "clip_emotion.pth",
    "clip_semantic_emotion_map": "clip_emotion.pth",
}
UNTRAINED = ("audio_intensity",)  # frozen at initialisation through all of the release's training
# frozen pretrained encoders saved inside the release files: skipped, our backbones load them
BACKBONE_PREFIXES = {
    "audio_content_encoder.": "wav2vec2 (facebook/wav2vec2-base-960h)",
    "text_encoder.": "BERT (hfl/chinese-roberta-wwm-ext)",
    "clip_encoder.": "CLIP (openai/clip-vit-base-patch32)",
}


def paper_backbones() -> BackboneConfig:
    """The release's encoders, recorded in the imported checkpoint (see configs/paper.yaml)."""
    return BackboneConfig(
        audio_content=BackboneSpec("wav2vec2", path="facebook/wav2vec2-base-960h", options={"mode": "release"}),
        audio_emotion=BackboneSpec("emotion2vec", path="iic/emotion2vec_base"),
        # the release runs openai-whisper "base" with language fixed to Chinese; we detect the language
        transcriber=BackboneSpec("faster_whisper", path="base"),
        text=BackboneSpec("bert", path="hfl/chinese-roberta-wwm-ext"),
        guidance=BackboneSpec("clip_hf", path="openai/clip-vit-base-patch32"),  # the release's CLIPModel
    )


@dataclass
class ImportReport:
    files: list[str]  # release files read, in stage order
    sources: dict[str, str]  # our module -> release file it was taken from
    skipped_backbone_tensors: dict[str, int]  # backbone name -> tensors skipped
    unknown: list[str] = field(default_factory=list)  # "file: key" with no place in our model
    missing: list[str] = field(default_factory=list)  # our keys no file provided (left at initialisation)
    differing_copies: list[str] = field(default_factory=list)  # modules whose copies differ between files

    def to_mapping(self) -> dict[str, object]:
        return {"files": self.files, "sources": self.sources, "skipped_backbone_tensors": self.skipped_backbone_tensors,
                "missing": self.missing, "differing_copies": self.differing_copies}


def map_release_state(states: dict[str, dict[str, torch.Tensor]], target_keys: set[str] | None = None) -> tuple[dict[str, torch.Tensor], ImportReport]:
    """Release state dicts by file name -> (our state dict, report). Pure: no model, no disk.

    A key is unknown when its module has no place in our model, or (given `target_keys`, our
    model's keys) when its mapped name is not one of them."""
    files = [f for f in STAGE_FILES if f in states]
    report = ImportReport(files=files, sources={}, skipped_backbone_tensors={})
    by_module: dict[str, dict[str, dict[str, torch.Tensor]]] = {}  # ours -> file -> {our key: tensor}
    for name in files:
        for key, tensor in states[name].items():
            backbone = next((b for p, b in BACKBONE_PREFIXES.items() if key.startswith(p)), None)
            if backbone is not None:
                report.skipped_backbone_tensors[backbone] = report.skipped_backbone_tensors.get(backbone, 0) + 1
                continue
            module, _, rest = key.partition(".")
            ours = MODULE_MAP[name].get(module)
            if ours is None or not rest or (target_keys is not None and f"{ours}.{rest}" not in target_keys):
                report.unknown.append(f"{name}: {key}")
                continue
            by_module.setdefault(ours, {}).setdefault(name, {})[f"{ours}.{rest}"] = tensor
    mapped: dict[str, torch.Tensor] = {}
    for ours, copies in by_module.items():
        source = OWNER[ours] if OWNER[ours] in copies else next(f for f in files if f in copies)
        report.sources[ours] = source
        mapped.update(copies[source])
        for other, tensors in copies.items():
            if other != source and not _same(tensors, copies[source]):
                report.differing_copies.append(f"{ours}: {other} differs from {source} (kept {source})")
    return mapped, report


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def read_release_dir(folder: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """The release files present in `folder` (at least one), each read weights-only."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"release weights folder not found: {folder}")
    states = {name: checkpoint.read_state_dict(folder / name) for name in STAGE_FILES if (folder / name).is_file()}
    if not states:
        raise CheckpointError(f"no release weights in {folder}: expected any of {', '.join(STAGE_FILES)}")
    others = sorted(p.name for p in folder.glob("*.pth") if p.name not in STAGE_FILES)
    if others:
        logger.warning("ignoring files that are not release stage files: %s", ", ".join(others))
    return states


def import_release(folder: str | Path, out: str | Path, allow_missing: bool = False, profile: str = "paper",
                   backbones: BackboneOverrides | None = None) -> ImportReport:
    """Convert the release's `.pth` files in `folder` into our checkpoint folder `out`.

    Unknown keys and shape mismatches are errors that list every key by name; modules no file
    provides are an error too unless `allow_missing` (they stay at initialisation and the
    checkpoint records them). `backbones` (local model folders, devices) are written over the
    release's encoders into the checkpoint."""
    states = read_release_dir(folder)
    backbone_cfg = apply_overrides(paper_backbones(), backbones)  # a wrong local path fails before any work
    model = MEDTalk(dataclasses.replace(load_model_config(profile), clip_fuse=True))
    target = model.state_dict()
    mapped, report = map_release_state(states, set(target))
    if report.unknown:
        raise CheckpointError(f"{len(report.unknown)} release keys have no place in the {profile} model: "
                              + ", ".join(report.unknown))
    wrong = [f"{k} {tuple(v.shape)} (ours {tuple(target[k].shape)})" for k, v in mapped.items()
             if v.shape != target[k].shape]
    if wrong:
        raise CheckpointError(f"release tensors whose shapes do not fit the {profile} model: {', '.join(wrong)}")
    report.missing = sorted(k for k in target if k not in mapped)
    if report.missing and not allow_missing:
        raise CheckpointError(
            f"{len(report.missing)} weights of the {profile} model are in none of {', '.join(report.files)}: "
            f"{', '.join(report.missing)} (add the missing release files, or allow missing weights)")
    model.load_state_dict({**target, **{k: v.to(target[k].dtype) for k, v in mapped.items()}})
    for line in report.differing_copies:
        logger.warning("release copies differ: %s", line)
    checkpoint.save(out, model, backbone_cfg, stage="release", step=0,
                    extra={"release_import": report.to_mapping(), "source": str(Path(folder).resolve()),
                           "untrained_modules": list(UNTRAINED)})
    return report
