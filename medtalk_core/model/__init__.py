"""The MEDTalk model (paper Fig. 2) and which of its modules each training stage trains.

Stages, in order, and the modules each one trains (everything else is frozen):
- `cross_recon`: emo_encoder (E_e), cont_encoder (E_c), decoder (D), through
  self-reconstruction, overlap exchange and cycle exchange.
- `acm`: audio_content_map (ACM), plus content_frontend (the built-in temporal encoder over
  log-mel) when the profile has one. Loss MSE(recon) + 0.1 (1 - cos(E_c(R), ACM(A))).
- `fim`: fusion_predictor (CMF), emotion_embedding, semantic_emotion_map (E_fuse), plus the
  emotion_frontend / text_frontend projections when the backbone sizes differ from the CMF
  width, plus audio_intensity (the audio-only intensity head, fitted to the same
  pseudo-intensity so that a model without a guidance stage still runs with no transcript).
- `guidance`: clip_text_map (P_text), clip_image_map (P_image), semantic_emotion_map, and
  audio_intensity (the release trains its audio-only predictor here).

Which intensity head runs: the CMF head (`fusion_predictor`) whenever transcript token features
are given; the audio-only head (`audio_intensity`) when there is no transcript (no
transcriber configured, or live streaming before the words of a segment arrive).
"""

from __future__ import annotations

from ..errors import ConfigError
from .config import ModelConfig, load_model_config
from .medtalk import MEDTalk, norm_adjust

STAGES = ("cross_recon", "acm", "fim", "guidance")

_TRAINABLE: dict[str, tuple[str, ...]] = {
    "cross_recon": ("emo_encoder", "cont_encoder", "decoder"),
    "acm": ("audio_content_map", "content_frontend"),
    "fim": ("fusion_predictor", "emotion_embedding", "semantic_emotion_map",
            "emotion_frontend", "text_frontend", "audio_intensity"),
    "guidance": ("clip_text_map", "clip_image_map", "semantic_emotion_map", "audio_intensity"),
}


def trainable_modules(stage: str, model: MEDTalk | None = None) -> list[str]:
    """Names of the top-level modules `stage` trains; with `model`, only those it has."""
    if stage not in _TRAINABLE:
        raise ConfigError(f"unknown training stage {stage!r}; use one of {', '.join(STAGES)}")
    names = list(_TRAINABLE[stage])
    if model is not None:
        names = [n for n in names if hasattr(model, n)]
    return names


def set_trainable(model: MEDTalk, stage: str) -> list[str]:
    """Freeze every parameter, then unfreeze the modules of `stage`; returns their names."""
    names = trainable_modules(stage, model)
    model.requires_grad_(False)
    for name in names:
        getattr(model, name).requires_grad_(True)
    return names


__all__ = ["MEDTalk", "ModelConfig", "STAGES", "load_model_config", "norm_adjust", "set_trainable",
           "trainable_modules"]
