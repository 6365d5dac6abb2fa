"""The assembled MEDTalk model: audio (+ transcript) + guidance -> rig (B, T, 174).

Data flow (paper Fig. 2): content = ACM(audio content features); intensity I_t from CMF
(audio emotion frames x transcript tokens) or from the audio-only head; emotion =
E_fuse(g * I_t / ||g||) with g a label embedding or a projected CLIP feature (eq. 9);
rig = D(concat(emotion, content)). E_e / E_c only run in training (cross-reconstruction and
as targets of the similarity losses).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .layers import AudioTextFusion, ConvStack, Encoder, make_encoder

NORM_EPS = 1e-8  # eq. 9 denominator guard, as released


def norm_adjust(g: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
    """Eq. 9: f~_t = f * I_t / (||f|| + 1e-8). g (B, D) or (B, T, D); intensity (B, T) -> (B, T, D)."""
    if g.dim() == 2:
        g = g[:, None, :]  # (B, 1, D), one guidance for the whole clip
    return g * (intensity[..., None] / (g.norm(dim=-1, keepdim=True) + NORM_EPS))


class MEDTalk(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        H, L, kind = cfg.hidden_dim, cfg.latent_dim, cfg.encoder
        k, n = cfg.temporal_kernel, cfg.temporal_layers

        # cross-reconstruction autoencoder (stage cross_recon)
        self.emo_encoder = make_encoder(kind, cfg.rig_dim, H, L, k, n)
        self.cont_encoder = make_encoder(kind, cfg.rig_dim, H, L, k, n)
        self.decoder = Encoder(2 * L, H, cfg.rig_dim)  # the release's Decoder: same fc1 -> ReLU -> fc2

        # ACM (stage acm); the conv front end gives per-frame log-mel the context of a phoneme
        # With a future budget the front end takes it all and the layers after it look back only.
        future, after = cfg.future_frames, (None if cfg.future_frames is None else 0)
        acm_in = cfg.content_feat_dim
        acm_future = future
        if cfg.content_frontend_layers > 0:
            self.content_frontend = ConvStack(cfg.content_feat_dim, cfg.content_frontend_dim,
                                              cfg.content_frontend_layers, k, future)
            acm_in, acm_future = cfg.content_frontend_dim, after
        self.audio_content_map = make_encoder(kind, acm_in, H, L, k, n, acm_future)

        # FIM (stage fim): projections only where a backbone's size differs from the CMF width,
        # so the paper profile has exactly the release's modules
        if cfg.emotion_frontend_layers > 0:
            self.emotion_frontend = ConvStack(cfg.emotion_feat_dim, cfg.fusion_dim, cfg.emotion_frontend_layers, k,
                                              future)
        elif cfg.emotion_feat_dim != cfg.fusion_dim:
            self.emotion_frontend = nn.Linear(cfg.emotion_feat_dim, cfg.fusion_dim)
        if cfg.text_feat_dim != cfg.fusion_dim:
            self.text_frontend = nn.Linear(cfg.text_feat_dim, cfg.fusion_dim)
        self.fusion_predictor = AudioTextFusion(cfg.fusion_dim, cfg.fusion_heads, cfg.fusion_dropout)
        self.emotion_embedding = nn.Sequential(
            nn.Embedding(cfg.num_emotions, cfg.label_dim),
            nn.Linear(cfg.label_dim, 2 * cfg.label_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(2 * cfg.label_dim, H),
        )
        self.semantic_emotion_map = Encoder(H, H, L)  # E_fuse, per frame
        if cfg.clip_fuse:
            self.clip_semantic_emotion_map = Encoder(H, H, L)  # E_fuse of the text/image paths

        # multimodal guidance (stage guidance): P_text, P_image, and intensity from audio alone
        self.clip_text_map = Encoder(cfg.clip_dim, H, H)
        self.clip_image_map = Encoder(cfg.clip_dim, H, H)
        intensity_future = after if cfg.emotion_frontend_layers > 0 else future
        self.audio_intensity = make_encoder(kind, cfg.fusion_dim, H, 1, k, n, intensity_future)

    @property
    def guidance_dim(self) -> int:
        """D, the size of a guidance feature (label embedding or projected CLIP feature)."""
        return self.cfg.hidden_dim

    # --- cross-reconstruction -------------------------------------------------------------
    def encode_rig(self, rig: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """rig (B, T, 174) -> (emotion, content), each (B, T, L)."""
        return self.emo_encoder(rig, mask), self.cont_encoder(rig, mask)

    def decode(self, emotion: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """(B, T, L) x 2 -> rig (B, T, 174); emotion first, as the release concatenates."""
        return self.decoder(torch.cat((emotion, content), dim=-1))

    # --- ACM ------------------------------------------------------------------------------
    def content_from_audio(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Audio content features (B, T, Dc) -> content embedding (B, T, L)."""
        x = self.content_frontend(feats, mask) if hasattr(self, "content_frontend") else feats
        return self.audio_content_map(x, mask)

    # --- FIM ------------------------------------------------------------------------------
    def emotion_query(self, emo_feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Audio emotion features (B, T, De) -> CMF queries (B, T, fusion_dim)."""
        if not hasattr(self, "emotion_frontend"):
            return emo_feats
        if isinstance(self.emotion_frontend, ConvStack):
            return self.emotion_frontend(emo_feats, mask)
        return self.emotion_frontend(emo_feats)

    def intensity(
        self,
        emo_feats: torch.Tensor,
        text_feats: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame intensity (B, T). With transcript tokens (B, L, Dt) the CMF head is used;
        with text_feats None the audio-only head (the release's CLIP-stage predictor)."""
        q = self.emotion_query(emo_feats, mask)  # (B, T, fusion_dim)
        if text_feats is None:
            return self.audio_intensity(q, mask)[..., 0]
        tokens = self.text_frontend(text_feats) if hasattr(self, "text_frontend") else text_feats
        return self.fusion_predictor(q, tokens, text_mask)[..., 0]

    def guidance_from_label(self, ids: torch.Tensor) -> torch.Tensor:
        """Emotion ids (B,) -> label embeddings f^label (B, D)."""
        return self.emotion_embedding(ids)

    def guidance_from_clip_text(self, clip_feats: torch.Tensor) -> torch.Tensor:
        """CLIP text features (B, clip_dim) -> f^text (B, D) (P_text)."""
        return self.clip_text_map(clip_feats)

    def guidance_from_clip_image(self, clip_feats: torch.Tensor) -> torch.Tensor:
        """CLIP image features (B, clip_dim) -> f^image (B, D) (P_image)."""
        return self.clip_image_map(clip_feats)

    def emotion_from_guidance(self, guidance: torch.Tensor, intensity: torch.Tensor,
                              clip: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 9 then E_fuse: guidance (B, D) or (B, T, D), intensity (B, T) -> emotion (B, T, L).

        `clip` (B,) bool marks text/image guidance, which goes through the CLIP-stage E_fuse when
        the model has one (cfg.clip_fuse); otherwise every row uses the one E_fuse."""
        f = norm_adjust(guidance, intensity)  # (B, T, D)
        emotion = self.semantic_emotion_map(f)  # (B, T, L)
        if clip is not None and hasattr(self, "clip_semantic_emotion_map") and bool(clip.any()):
            emotion = torch.where(clip[:, None, None], self.clip_semantic_emotion_map(f), emotion)
        return emotion

    def forward(
        self,
        content_feats: torch.Tensor,
        emotion_feats: torch.Tensor,
        text_feats: torch.Tensor | None,
        text_mask: torch.Tensor | None,
        guidance: torch.Tensor,
        strength: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Audio features (B, T, Dc), (B, T, De), transcript tokens (B, L, Dt) or None, guidance
        (B, D) or (B, T, D) -> rig (B, T, 174).

        `strength` (B,) or (B, T) multiplies the predicted intensity (user control; eq. 9 sets
        the norm of the emotion feature to the intensity, so scaling g itself would do nothing).
        `mask` (B, T) marks real frames of a padded batch."""
        content = self.content_from_audio(content_feats, mask)  # (B, T, L)
        intensity = self.intensity(emotion_feats, text_feats, text_mask, mask)  # (B, T)
        if strength is not None:
            intensity = intensity * (strength[:, None] if strength.dim() == 1 else strength)
        emotion = self.emotion_from_guidance(guidance, intensity)  # (B, T, L)
        return self.decode(emotion, content)  # (B, T, 174)
