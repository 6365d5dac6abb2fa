"""The loss of every training stage and phase, written as the paper's equations.

Each function takes the model and batch(es) and returns (loss, predicted rig). The rig terms weigh
each frame by `Batch.frame_weight` (1 everywhere unless the recipe's `contact_weight` or
`rounding_weight` raises the frames where the lips touch or round). Which modules the gradient
reaches is decided outside, by `medtalk_core.model.set_trainable(model, stage)`; these functions
only compute. `Variant` carries the Table 3 ablation switches that change a
loss (the phase switches live in the recipe's epoch counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import MEDTalk
from ..rig import pseudo_intensity
from .batching import Batch, masked_mse, sequence_cosine_loss


@dataclass(frozen=True)
class Variant:
    """How the audio -> rig path runs; the full model is the default."""

    use_text: bool = True  # CMF intensity from audio x transcript; False = the audio-only head (w/o text)
    dynamic_intensity: bool = True  # eq. 9 norm adjustment per frame; False = static label embedding (w/o intensity)
    name: str = "full"


# --- cross-reconstruction (eq. 2-4), MSE only -----------------------------------------------

def self_reconstruction(model: MEDTalk, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 2: R_hat = D(E_e(R), E_c(R))."""
    emo, cont = model.encode_rig(batch.rig, batch.mask)  # (B, T, L) each
    pred = model.decode(emo, cont)  # (B, T, 174)
    return masked_mse(pred, batch.rig, batch.frame_weight), pred


def overlap_exchange(model: MEDTalk, a: Batch, b: Batch, shared: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 3: a and b share `shared` ("emotion" or "content"); swap that embedding between them.

    Same content:  R_hat_a = D(E_e(R_a), E_c(R_b)),  R_hat_b = D(E_e(R_b), E_c(R_a)).
    Same emotion:  R_hat_a = D(E_e(R_b), E_c(R_a)),  R_hat_b = D(E_e(R_a), E_c(R_b))."""
    emo_a, cont_a = model.encode_rig(a.rig, a.mask)
    emo_b, cont_b = model.encode_rig(b.rig, b.mask)
    if shared == "content":
        pred_a, pred_b = model.decode(emo_a, cont_b), model.decode(emo_b, cont_a)
    elif shared == "emotion":
        pred_a, pred_b = model.decode(emo_b, cont_a), model.decode(emo_a, cont_b)
    else:
        raise ValueError(f"shared must be 'emotion' or 'content', got {shared!r}")
    loss = 0.5 * (masked_mse(pred_a, a.rig, a.frame_weight) + masked_mse(pred_b, b.rig, b.frame_weight))
    return loss, pred_a


def cycle_exchange(model: MEDTalk, a: Batch, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4: two rounds of exchange on arbitrary pairs must give each sequence back."""
    emo_a, cont_a = model.encode_rig(a.rig, a.mask)
    emo_b, cont_b = model.encode_rig(b.rig, b.mask)
    mask = a.mask & b.mask  # pairs are cut to the same length, so the masks agree
    r_ab = model.decode(emo_a, cont_b)  # emotion of a, content of b: (B, T, 174)
    r_ba = model.decode(emo_b, cont_a)
    emo_ab, cont_ab = model.encode_rig(r_ab, mask)
    emo_ba, cont_ba = model.encode_rig(r_ba, mask)
    pred_a = model.decode(emo_ab, cont_ba)
    pred_b = model.decode(emo_ba, cont_ab)
    loss = 0.5 * (masked_mse(pred_a, a.rig, a.frame_weight * mask) + masked_mse(pred_b, b.rig, b.frame_weight * mask))
    return loss, pred_a


# --- ACM (eq. 6-7) ---------------------------------------------------------------------------

def acm_loss(model: MEDTalk, batch: Batch, lambda_sim: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE(D(E_e(R), ACM(A)), R) + lambda_sim (1 - cos(E_c(R), ACM(A))) over the flattened sequence."""
    content = model.content_from_audio(batch.content, batch.mask)  # (B, T, L)
    with torch.no_grad():  # frozen targets
        emo_target, cont_target = model.encode_rig(batch.rig, batch.mask)
    pred = model.decode(emo_target, content)
    loss = masked_mse(pred, batch.rig, batch.frame_weight) + lambda_sim * sequence_cosine_loss(cont_target, content,
                                                                                                 batch.mask)
    return loss, pred


# --- FIM (eq. 9-12) and the guidance stage (eq. 13-14) ---------------------------------------

def emotion_path(model: MEDTalk, batch: Batch, guidance: torch.Tensor, variant: Variant) -> torch.Tensor:
    """Guidance (B, D) -> emotion embedding (B, T, L), as the variant runs it."""
    if not variant.dynamic_intensity:
        frames = batch.mask.shape[1]
        static = guidance[:, None, :].expand(-1, frames, -1)  # (B, T, D): one label embedding for the clip
        return model.semantic_emotion_map(static)
    text = batch.text if variant.use_text else None
    intensity = model.intensity(batch.emotion_audio, text, batch.text_mask, batch.mask)  # (B, T)
    return model.emotion_from_guidance(guidance, intensity)


@torch.no_grad()
def frozen_targets(model: MEDTalk, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(ACM(A), E_e(R)), each (B, T, L): fixed in the FIM and guidance stages, computed once per batch."""
    return model.content_from_audio(batch.content, batch.mask), model.emo_encoder(batch.rig, batch.mask)


def guided_loss(model: MEDTalk, batch: Batch, guidance: torch.Tensor, variant: Variant, lambda_sim: float,
                lambda_int: float, targets: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 12 (FIM; with lambda_int = 0, eq. 14 of the guidance stage):
    MSE(R_hat, R) + lambda_sim (1 - cos(E_fuse(F~), E_e(R))) + lambda_int MSE(Int(R_hat), Int(R)).
    `targets` = frozen_targets(model, batch) when the caller already has them."""
    content, emo_target = targets if targets is not None else frozen_targets(model, batch)
    emotion = emotion_path(model, batch, guidance, variant)  # (B, T, L)
    pred = model.decode(emotion, content)  # (B, T, 174)
    loss = masked_mse(pred, batch.rig, batch.frame_weight) + lambda_sim * sequence_cosine_loss(emotion, emo_target,
                                                                                                 batch.mask)
    if lambda_int > 0 and variant.dynamic_intensity:
        loss = loss + lambda_int * masked_mse(pseudo_intensity(pred), pseudo_intensity(batch.rig), batch.mask)
    return loss, pred


def fim_loss(model: MEDTalk, batch: Batch, variant: Variant, lambda_sim: float,
             lambda_int: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 12 with label guidance. With text, the audio-only intensity head is fitted beside the
    CMF head with the same loss, so the model also runs when no transcript is at hand."""
    guidance = model.guidance_from_label(batch.emotion)  # (B, D)
    targets = frozen_targets(model, batch)
    loss, pred = guided_loss(model, batch, guidance, variant, lambda_sim, lambda_int, targets)
    if variant.use_text and variant.dynamic_intensity:
        audio_only = Variant(use_text=False, dynamic_intensity=True, name="audio_head")
        loss = loss + guided_loss(model, batch, guidance, audio_only, lambda_sim, lambda_int, targets)[0]
    return loss, pred


def end_to_end_loss(model: MEDTalk, batch: Batch, variant: Variant, lambda_int: float) -> tuple[torch.Tensor, torch.Tensor]:
    """w/o disentangle: audio + label -> rig trained in one piece, MSE (+ intensity) only; no
    motion encoders, so no similarity terms."""
    content = model.content_from_audio(batch.content, batch.mask)
    emotion = emotion_path(model, batch, model.guidance_from_label(batch.emotion), variant)
    pred = model.decode(emotion, content)
    loss = masked_mse(pred, batch.rig, batch.frame_weight)
    if lambda_int > 0:
        loss = loss + lambda_int * masked_mse(pseudo_intensity(pred), pseudo_intensity(batch.rig), batch.mask)
    return loss, pred
