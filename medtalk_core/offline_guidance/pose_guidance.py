"""A pose on the face-board controls -> a guidance feature, through the model's emotion encoder.

E_e (trained on rigs in the cross-reconstruction stage) maps the pose into the emotion space;
the guidance feature g is then the input of E_fuse that lands there. At run time the Animator
feeds E_fuse with unit(g) * I_t * ||g|| (eq. 9 with the user's strength kept), I_t the predicted
per-frame intensity, so g is solved for at the model's typical speech intensity I_ref (measured
once on the shipped example clip): g = x / I_ref with E_fuse(x) ~ E_e(pose). Its direction is
the expression and its norm the strength: a faint expression gives a short g, none gives zero.

E_e only knows the expressions it was trained on; a pose off that manifold (one brow lowered
alone) is pulled towards the nearest one it knows. A few steps against the decoder with a
neutral content embedding (on S_emo) bring the feature back to the pose itself.
"""

from __future__ import annotations

import logging
from importlib import resources

import numpy as np
import torch

from .. import rig
from ..audio import load_audio

logger = logging.getLogger(__name__)

FRAMES = 16  # a held pose as a short clip: the temporal encoders see a steady state at the centre
STEPS = 150  # Adam steps of the fit (about 0.1 s on a CPU core for the tiny profile)
LR = 0.1
DECODER_WEIGHT = 100.0  # pose error (on S_emo, squared) against the embedding-match term
MIN_INTENSITY = 0.05  # |I_ref| floor: an untrained model can predict intensities near zero
EXAMPLE_CLIP = "assets/example_en.wav"


class PoseGuidance:
    """Pose (174,) -> guidance feature (D,) for one model. Not thread-safe; the Animator holds one."""

    def __init__(self, model, reference_intensity: float) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.i_ref = float(np.sign(reference_intensity) or 1.0) * max(abs(reference_intensity), MIN_INTENSITY)
        self._emo = torch.tensor(rig.s_emo(), device=self.device)
        with torch.inference_mode(False), torch.no_grad():
            rest = torch.zeros(1, FRAMES, model.cfg.rig_dim, device=self.device)
            self.neutral_content = model.cont_encoder(rest)[0, FRAMES // 2].clone()  # (L,)

    @classmethod
    def for_animator(cls, animator) -> "PoseGuidance":
        return cls(animator.model, reference_intensity(animator))

    def feature(self, pose: np.ndarray) -> torch.Tensor:
        """(174,) pose -> (D,) guidance feature; a resting pose gives the zero feature."""
        target = torch.as_tensor(np.asarray(pose, np.float32), device=self.device)
        if not torch.any(target != 0):
            return torch.zeros(self.model.guidance_dim, device=self.device)
        m = self.model
        with torch.inference_mode(False), torch.enable_grad():
            with torch.no_grad():
                z_target = m.emo_encoder(target.expand(1, FRAMES, -1))[0, FRAMES // 2]  # (L,) E_e(pose)
            x = torch.zeros(m.guidance_dim, device=self.device, requires_grad=True)
            opt = torch.optim.Adam([x], lr=LR)
            for _ in range(STEPS):
                z = m.semantic_emotion_map(x)  # (L,)
                rig_hat = m.decoder(torch.cat((z, self.neutral_content)))  # (174,)
                loss = ((z - z_target) ** 2).mean() + DECODER_WEIGHT * ((rig_hat - target)[self._emo] ** 2).mean()
                x.grad, = torch.autograd.grad(loss, x)  # only x: the model's own .grad stays untouched
                opt.step()
        return (x.detach() / self.i_ref).clone()

    @torch.no_grad()
    def decode(self, feature: torch.Tensor) -> np.ndarray:
        """(D,) feature -> (174,) rig at neutral content and the reference intensity: the pose the
        feature stands for (what the round-trip test and the benchmark compare)."""
        z = self.model.semantic_emotion_map(feature.to(self.device) * self.i_ref)
        return self.model.decoder(torch.cat((z, self.neutral_content))).float().cpu().numpy()


def reference_intensity(animator) -> float:
    """The model's mean audio-only intensity over the shipped example clip."""
    path = resources.files("medtalk_core").joinpath(EXAMPLE_CLIP)
    with resources.as_file(path) as wav:
        audio = load_audio(wav)
    with torch.inference_mode():
        feats = animator.backbones.audio_emotion.features(audio).to(animator.device)[None]  # (1, T, De)
        value = float(animator.model.intensity(feats).mean())
    logger.debug("reference intensity %.3f", value)
    return value
