"""ModelConfig: every size of the MEDTalk model, loaded from a YAML profile in `configs/model/`.

`paper` holds the release's dims (so the authors' weights map onto ours near key-for-key);
`tiny` is the small profile of the shipped default model, fed by the built-in backbones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import load_config
from ..errors import ConfigError

PROFILE_DIR = Path(__file__).resolve().parents[2] / "configs" / "model"
ENCODER_KINDS = ("mlp", "temporal")


@dataclass(frozen=True)
class ModelConfig:
    rig_dim: int = 174  # controllers per rig frame
    hidden_dim: int = 256  # hidden width of every Encoder / the decoder; also the guidance feature size D
    latent_dim: int = 256  # size of the emotion and the content embedding (decoder input is 2x this)
    label_dim: int = 256  # width of the 7-label embedding table (release: 256, inner layer 2x)
    num_emotions: int = 7  # angry, disgust, fear, happy, neutral, sad, surprised
    content_feat_dim: int = 768  # audio content backbone output (wav2vec2 768 | log-mel 80)
    emotion_feat_dim: int = 768  # audio emotion backbone output (emotion2vec 768 | prosody)
    text_feat_dim: int = 768  # transcript token features (RoBERTa 768 | hashed)
    clip_dim: int = 512  # CLIP text/image feature size fed to P_text / P_image
    fusion_dim: int = 768  # CMF attention width; input projections are added only when a feature dim differs
    fusion_heads: int = 8  # CMF attention heads
    fusion_dropout: float = 0.1  # CMF attention and feed-forward dropout (release 0.1)
    encoder: str = "mlp"  # "mlp" = the release's per-frame Encoder; "temporal" = 1-D conv over time
    temporal_kernel: int = 5  # conv kernel (frames) of the temporal encoders and front ends
    temporal_layers: int = 2  # residual conv blocks in a temporal encoder
    content_frontend_layers: int = 0  # trainable conv front end over the content features (built-in log-mel needs it; 0 = none)
    content_frontend_dim: int = 256  # width of that front end (becomes the ACM input size)
    emotion_frontend_layers: int = 0  # conv front end over the audio emotion features (0 = a Linear only if dims differ)
    clip_fuse: bool = False  # a second E_fuse for the text/image paths (the release trains one per stage:
                             # its label model's and its CLIP model's); False = one E_fuse for all paths
    future_frames: int | None = None  # None = centred convs; k = each audio path sees at most k frames of future
                                      # features, so a live stream with that much lookahead equals offline

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_KINDS:
            raise ConfigError(f"model config key encoder must be one of {ENCODER_KINDS}, got {self.encoder!r}")
        if self.fusion_dim % self.fusion_heads:
            raise ConfigError(
                f"model config: fusion_dim {self.fusion_dim} must be divisible by fusion_heads {self.fusion_heads}"
            )
        if self.temporal_kernel % 2 == 0:
            raise ConfigError(f"model config key temporal_kernel must be odd (centred window), got {self.temporal_kernel}")
        if self.future_frames is not None and self.future_frames < 0:
            raise ConfigError(f"model config key future_frames must be >= 0 or null, got {self.future_frames}")
        for key in ("rig_dim", "hidden_dim", "latent_dim", "label_dim", "content_feat_dim",
                    "emotion_feat_dim", "text_feat_dim", "clip_dim", "fusion_dim"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"model config key {key} must be positive")


def load_model_config(profile_or_path: str | Path) -> ModelConfig:
    """A profile name (`tiny`, `paper`) from configs/model/, or a path to a YAML file."""
    path = Path(profile_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILE_DIR / f"{profile_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")) if PROFILE_DIR.is_dir() else []
            raise ConfigError(f"unknown model profile {profile_or_path!r}; known: {', '.join(known) or 'none'}")
    return load_config(ModelConfig, path)
