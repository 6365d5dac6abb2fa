"""Evaluation: the paper's metrics on a held-out split, the Fig. 5 embedding picture, the
Fig. 6 swap check, and the Table 3 ablations.

Predictions run on the same cached backbone features as training, through the same path as
the Animator (label guidance of the clip's emotion, CMF intensity from the clip's transcript,
Savitzky-Golay smoothing and clamping), so the numbers are what a user would get.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .backbones import build_backbone, Backbones
from .backbones.overrides import BackboneOverrides, apply_overrides
from .config import from_mapping
from .data.emoface import EmoFaceDataset
from .devices import resolve_device
from .errors import MedtalkError
from .inference import smooth_rig
from .metrics import MetricAccumulator, Metrics
from .model import MEDTalk
from .rig import EMOTIONS, clamp, s_lip, s_up
from .train.batching import ClipFeatures, collate
from .train.features import FeatureCache
from .train.losses import Variant, emotion_path
from .train.recipe import TrainRecipe

logger = logging.getLogger(__name__)

# Table 3 of the paper (its data; lower is better), for printing beside ours.
PAPER_TABLE3: dict[str, tuple[float, float, float, float]] = {
    "w/o overlap": (0.01026, 0.01112, 0.90941, 0.00134),
    "w/o cycle": (0.00704, 0.00934, 0.82254, 0.00832),
    "w/o disentangle": (0.00628, 0.00861, 0.83728, 0.00825),
    "w/o intensity": (0.00665, 0.01142, 0.86488, 0.00753),
    "w/o text": (0.00630, 0.00965, 0.83899, 0.00757),
    "full": (0.00596, 0.00906, 0.79055, 0.00289),
}


@torch.no_grad()
def predict(model: MEDTalk, clips: list[ClipFeatures], variant: Variant = Variant(), batch_size: int = 16,
            smooth: bool = True) -> list[np.ndarray]:
    """Rig (T_i, 174) per clip from its audio features, transcript and emotion label."""
    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    for start in range(0, len(clips), batch_size):
        chunk = clips[start:start + batch_size]
        batch = collate(chunk).to(device)
        content = model.content_from_audio(batch.content, batch.mask)  # (B, T, L)
        emotion = emotion_path(model, batch, model.guidance_from_label(batch.emotion), variant)  # (B, T, L)
        rig = model.decode(emotion, content).float().cpu().numpy()  # (B, T, 174)
        for i, clip in enumerate(chunk):
            r = rig[i, : clip.num_frames]
            out.append(clamp(smooth_rig(r) if smooth else r))
    return out


def evaluate_clips(model: MEDTalk, clips: list[ClipFeatures], variant: Variant = Variant()) -> Metrics:
    acc = MetricAccumulator()
    for pred, clip in zip(predict(model, clips, variant), clips):
        acc.add(pred, clip.rig.numpy())
    return acc.result()


# --- Fig. 5: content and emotion embeddings -----------------------------------------------------

@torch.no_grad()
def clip_embeddings(model: MEDTalk, clips: list[ClipFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip time-averaged E_c(R) and E_e(R): two (N, L) arrays."""
    model.eval()
    device = next(model.parameters()).device
    content, emotion = [], []
    for clip in clips:
        emo, cont = model.encode_rig(clip.rig[None].to(device))  # (1, T, L) each
        emotion.append(emo[0].mean(0).cpu().numpy())
        content.append(cont[0].mean(0).cpu().numpy())
    return np.stack(content), np.stack(emotion)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(N, L) -> (N, 2) onto the two main axes."""
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def centroid_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest-centroid emotion accuracy: high for emotion embeddings, near chance
    (1/7) for content embeddings when the two spaces are disentangled."""
    correct = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        classes = [c for c in np.unique(labels[keep])]
        centroids = np.stack([x[keep & (labels == c)].mean(0) for c in classes])
        correct += classes[int(np.argmin(((centroids - x[i]) ** 2).sum(1)))] == labels[i]
    return correct / len(x)


def embedding_figure(model: MEDTalk, clips: list[ClipFeatures], path: Path) -> dict[str, float]:
    """Paper Fig. 5: 2-D PCA of content and emotion embeddings, coloured by emotion. Returns the
    nearest-centroid emotion accuracy of each space."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    content, emotion = clip_embeddings(model, clips)
    labels = np.array([c.emotion for c in clips])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), dpi=100)
    for ax, data, title in ((axes[0], content, "content embedding E_c(R)"), (axes[1], emotion, "emotion embedding E_e(R)")):
        xy = pca_2d(data)
        for e in np.unique(labels):
            ax.scatter(xy[labels == e, 0], xy[labels == e, 1], s=10, label=EMOTIONS[e])
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(fontsize=8, markerscale=1.5)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return {"content_emotion_accuracy": centroid_accuracy(content, labels),
            "emotion_emotion_accuracy": centroid_accuracy(emotion, labels)}


# --- Fig. 6: swapping emotion embeddings --------------------------------------------------------

@torch.no_grad()
def swap_check(model: MEDTalk, clips: list[ClipFeatures], max_pairs: int = 200) -> dict[str, float]:
    """Give each clip the emotion embedding of a clip with another emotion (same sentence when
    there is one) and measure how far the decoded rig moves: mean |change| over the upper-face
    controllers and over the lip controllers. Disentangled: upper face moves, lips stay."""
    model.eval()
    device = next(model.parameters()).device
    by_name = {c.name: c for c in clips}
    pairs = []
    for c in clips:
        key = c.name.split("_", 1)[-1]
        partner = next((o for o in clips if o.emotion != c.emotion and o.name.split("_", 1)[-1] == key), None)
        partner = partner or next((o for o in clips if o.emotion != c.emotion), None)
        if partner is not None:
            pairs.append((c.name, partner.name))
    if not pairs:
        raise MedtalkError("the swap check needs clips of at least two emotions")
    up, lip = list(s_up()), list(s_lip())
    d_up, d_lip = [], []
    for a, b in pairs[:max_pairs]:
        frames = min(by_name[a].num_frames, by_name[b].num_frames)
        ra, rb = by_name[a].rig[None, :frames].to(device), by_name[b].rig[None, :frames].to(device)
        emo_a, cont_a = model.encode_rig(ra)
        emo_b, _ = model.encode_rig(rb)
        own = model.decode(emo_a, cont_a)[0].cpu().numpy()  # (T, 174)
        swapped = model.decode(emo_b, cont_a)[0].cpu().numpy()
        d_up.append(np.abs(swapped[:, up] - own[:, up]).mean())
        d_lip.append(np.abs(swapped[:, lip] - own[:, lip]).mean())
    return {"pairs": len(d_up), "upper_face_change": float(np.mean(d_up)), "lip_change": float(np.mean(d_lip)),
            "ratio": float(np.mean(d_up) / max(np.mean(d_lip), 1e-12))}


# --- a checkpoint on a dataset ------------------------------------------------------------------

@dataclass
class EvalReport:
    checkpoint: str
    data: str
    split: str | None
    metrics: Metrics
    audio_only: bool  # intensity from the audio-only head (no transcript)
    embedding: dict[str, float] = field(default_factory=dict)
    swap: dict[str, float] = field(default_factory=dict)
    figure: str | None = None
    ablations: dict[str, Metrics] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("metrics", "ablations")}
        d["metrics"] = self.metrics.as_dict()
        d["ablations"] = {k: v.as_dict() for k, v in self.ablations.items()}
        d["paper_table3"] = {k: dict(zip(("MLE", "MEE", "EIE", "FRD"), v)) for k, v in PAPER_TABLE3.items()}
        return d


def feature_backbones(cfg) -> Backbones:
    """Backbones for cached features (the transcriber only for clips without TXT/)."""
    return Backbones(build_backbone("audio_content", cfg.audio_content), build_backbone("audio_emotion", cfg.audio_emotion),
                     build_backbone("transcriber", cfg.transcriber), build_backbone("text", cfg.text), None)


def load_split(cache: FeatureCache, root: str | Path, split: str | None) -> list[ClipFeatures]:
    return cache.all(EmoFaceDataset(root, split=split))


def evaluate_checkpoint(path: str | Path, data: str | Path, split: str | None = "test", audio_only: bool = False,
                        figure: Path | None = None, cache_dir: Path | None = None,
                        device: str | None = None,
                        backbones: BackboneOverrides | None = None) -> tuple[EvalReport, MEDTalk, list[ClipFeatures]]:
    """`backbones`: local folders / devices over the checkpoint's backbones (the features must not change)."""
    loaded = checkpoint.load(path, resolve_device(device or "cpu"))  # eval defaults to the CPU
    cfg = apply_overrides(loaded.backbones, backbones)
    cache = FeatureCache(feature_backbones(cfg), cfg, cache_dir)
    clips = load_split(cache, data, split)
    variant = Variant(use_text=not audio_only)
    report = EvalReport(str(path), str(data), split, evaluate_clips(loaded.model, clips, variant), audio_only)
    report.swap = swap_check(loaded.model, clips)
    if figure is not None:
        report.embedding = embedding_figure(loaded.model, clips, figure)
        report.figure = str(figure)
    return report, loaded.model, clips


def recipe_of(path: str | Path) -> TrainRecipe:
    """The recipe a checkpoint was trained with (recorded by the trainer)."""
    extra = checkpoint.read_config(path).get("extra", {})
    if "recipe" not in extra:
        raise MedtalkError(f"checkpoint {path} records no training recipe: pass --recipe for the ablations")
    return from_mapping(TrainRecipe, extra["recipe"], where="recipe")
