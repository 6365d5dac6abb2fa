"""A training recipe: the typed form of `configs/train/<recipe>.yaml` (unknown keys rejected).

Defaults are the paper's: Adam with StepLR (step every 10 epochs), lr 1e-4 / decay 0.995 for
cross-reconstruction and lr 1e-3 / decay 0.9 for the other stages; loss weights 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..backbones import BackboneConfig
from ..config import load_config
from ..errors import ConfigError
from .augment import AugmentConfig

STAGES: tuple[str, ...] = ("cross_recon", "acm", "fim", "guidance")
# The order the cross-reconstruction stage runs its phases in (paper Sec. "Disentanglement").
CROSS_RECON_PHASES: tuple[str, ...] = ("self", "overlap_emotion", "overlap_content", "cycle")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3  # Adam learning rate at the start of the stage
    gamma: float = 0.9  # StepLR decay factor
    step_size: int = 10  # epochs between decays (the paper's "drop rate r = 10")


@dataclass(frozen=True)
class CrossReconConfig:
    self_epochs: int = 20  # self-reconstruction (eq. 2)
    overlap_emotion_epochs: int = 10  # overlap exchange on same-emotion pairs (eq. 3)
    overlap_content_epochs: int = 10  # overlap exchange on same-content pairs (eq. 3)
    cycle_epochs: int = 10  # cycle exchange on arbitrary pairs (eq. 4)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, gamma=0.995))

    def phase_epochs(self) -> dict[str, int]:
        return {"self": self.self_epochs, "overlap_emotion": self.overlap_emotion_epochs,
                "overlap_content": self.overlap_content_epochs, "cycle": self.cycle_epochs}


@dataclass(frozen=True)
class StageConfig:
    epochs: int = 20  # passes over the training clips
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass(frozen=True)
class GuidanceStageConfig:
    epochs: int = 20  # passes over the (description, image, rig) triples
    optim: OptimConfig = field(default_factory=OptimConfig)
    strengths: tuple[float, ...] = (0.5, 1.0)  # expression strengths rendered per clip for triples
    image_size: int = 96  # pixels of the drawn reference faces fed to the CLIP image encoder
    intensity_head: bool = True  # also fit the audio-only intensity head (used when no transcript)


@dataclass(frozen=True)
class DataConfig:
    root: str = ""  # EmoFace-layout folder (WAV/, CTR/ or VALID_CTR/, TXT/, manifest.csv)
    extra_roots: tuple[str, ...] = ()  # more such folders trained with it (e.g. pseudo-labelled real speech)
    train_split: str | None = "train"  # manifest split to train on (None: every clip)
    val_split: str | None = "val"  # manifest split for the per-epoch validation loss (None: no validation)
    max_frames: int = 240  # longest training window in frames; longer clips are cropped at random


    @property
    def roots(self) -> list[str]:
        return [self.root, *self.extra_roots]


@dataclass(frozen=True)
class TrainRecipe:
    data: DataConfig = field(default_factory=DataConfig)
    model: str = "tiny"  # model profile name (configs/model/<name>.yaml) or a path to a profile YAML
    backbones: BackboneConfig = field(default_factory=BackboneConfig)  # frozen feature extractors (built-in by default)
    encoder: str | None = None  # override the profile's motion encoder type ("mlp" | "temporal"); None keeps it
    future_frames: int | None = None  # override the profile's audio lookahead bound (frames); None keeps it
    batch_size: int = 16  # clips (or clip pairs) per optimiser step
    seed: int = 0  # seeds torch, numpy and the pair shuffling
    threads: int = 2  # torch CPU threads
    device: str | None = None  # "cpu", "cuda", ...; None picks CUDA when available
    lambda_sim: float = 0.1  # weight of the cosine similarity terms (eq. 7, 12, 14)
    lambda_int: float = 0.1  # weight of the intensity term (eq. 12)
    contact_weight: float = 0.0  # frames where the target's lips touch weigh 1 + this in the rig losses (0: the paper's mean)
    rounding_weight: float = 0.0  # frames weigh 1 + this x the target's lip rounding (0..1) in the rig losses
    cross_recon: CrossReconConfig = field(default_factory=CrossReconConfig)
    acm: StageConfig = field(default_factory=StageConfig)
    fim: StageConfig = field(default_factory=StageConfig)
    guidance: GuidanceStageConfig = field(default_factory=GuidanceStageConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # noisy renditions for ACM / FIM

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError("config key batch_size must be at least 1")
        if self.data.max_frames < 8:
            raise ConfigError("config key data.max_frames must be at least 8")
        for key in ("contact_weight", "rounding_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"config key {key} must be >= 0")
        if self.encoder not in (None, "mlp", "temporal"):
            raise ConfigError(f"config key encoder must be mlp or temporal, got {self.encoder!r}")


def load_recipe(path: str | Path) -> TrainRecipe:
    return load_config(TrainRecipe, path)
