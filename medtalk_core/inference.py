"""The Animator: a loaded MEDTalk checkpoint and its backbones, turning 16 kHz audio plus
guidance into rig frames (T, 174) at 60 fps.

    animator = Animator.from_checkpoint()            # shipped default model; CUDA if available
    rig = animator.animate(audio_16k, "happy")        # (T, 174) float32, smoothed and clamped

Which intensity head runs depends on the inference mode (`inference_mode.py`). Project mode
(default): with a transcript (given, or produced by `animator.transcriber`) the CMF head (audio x
text); with `transcript=""`, or no transcriber, the audio-only head, or, where the checkpoint
records that head as untrained (the release's), the CMF head on the no-words input the release's
CMF was trained on. Release mode: the label path always runs the CMF head, text and image
guidance always the audio-only head, as the release's demos do.
"""

from __future__ import annotations

import functools

import logging
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch

from . import checkpoint as ckpt
from .audio import SAMPLE_RATE, num_frames
from .backbones import Backbones, BackboneConfig, build_backbones
from .backbones.base import Transcriber
from .backbones.lexicon import EmotionLexicon
from .backbones.overrides import BackboneOverrides, apply_overrides
from .devices import resolve_device
from .errors import ConfigError, MedtalkError
from .guidance import GuidanceSpec, strength_of, unit, with_strength
from .inference_mode import DEFAULT_MODE, mode_backbones, rules
from .offline_guidance.offline import OfflineGuidance
from .rig import EMOTIONS, clamp, emotion_id

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = ckpt.shipped_model_dir("default")
# The live daemon's default: the same recipe with the audio paths' lookahead bounded to 2 frames
# (model.future_frames). At the daemon's 33 ms lookahead it streams as it was trained and has the
# lower live lip error; offline, the centred default model is more accurate (README, docs/LIVE.md).
LIVE_MODEL_DIR = ckpt.shipped_model_dir("live")
SMOOTH_WINDOW, SMOOTH_ORDER = 5, 2  # Savitzky-Golay along time, as the release
Guidance = Union[str, int, GuidanceSpec, torch.Tensor, np.ndarray]
PATHS = ("label", "clip")  # guidance paths: labels (and features in their space) | CLIP text or image
# What BERT reads as [CLS] [UNK] [SEP], the only token sequence the release's CMF saw in training
# (its tokenisation quirk); the project mode's input when there are no words and no trained audio head.
NO_WORDS = "[UNK]"


@functools.cache
def _smoothing_kernel() -> np.ndarray:
    # savgol_filter would refit these with a least-squares (BLAS) call on every clip, which on a
    # live stream leaves BLAS worker threads spinning; the kernel is a constant, fit it once.
    from scipy.signal import savgol_coeffs

    return savgol_coeffs(SMOOTH_WINDOW, SMOOTH_ORDER)


def smooth_rig(rig: np.ndarray) -> np.ndarray:
    """Savitzky-Golay (window 5, order 2) along time; clips shorter than the window pass through."""
    if rig.shape[0] < SMOOTH_WINDOW:
        return rig
    from scipy.ndimage import convolve1d

    # Exactly savgol_filter(rig, 5, 2, axis=0, mode="nearest"), with the kernel fitted once.
    return convolve1d(rig, _smoothing_kernel(), axis=0, mode="nearest").astype(np.float32)


def _check_dims(cfg, backbones: Backbones) -> None:
    pairs = (("content_feat_dim", "audio_content"), ("emotion_feat_dim", "audio_emotion"), ("text_feat_dim", "text"))
    for key, kind in pairs:
        have = getattr(backbones, kind).dim
        if getattr(cfg, key) != have:
            raise ConfigError(f"model.{key} is {getattr(cfg, key)} but backbones.{kind} "
                              f"({getattr(backbones, kind).name}) gives {have}-dim features")
    g = backbones.guidance
    if g is not None and not isinstance(g, EmotionLexicon) and g.dim != cfg.clip_dim:
        raise ConfigError(f"model.clip_dim is {cfg.clip_dim} but backbones.guidance ({g.name}) gives {g.dim}-dim features")


class Animator:
    """Audio + guidance -> rig frames. Backbones are built once; the model is in eval mode."""

    def __init__(self, checkpoint: ckpt.Checkpoint, backbones: Backbones, device: torch.device,
                 mode: str = DEFAULT_MODE) -> None:
        _check_dims(checkpoint.model_config, backbones)
        self.checkpoint = checkpoint
        self.model = checkpoint.model.to(device).eval()
        self.backbones = backbones
        self.device = device
        self.mode = mode
        self.rules = rules(mode)
        self._audio_head_trained = "audio_intensity" not in checkpoint.extra.get("untrained_modules", ())
        with torch.inference_mode():
            ids = torch.arange(len(EMOTIONS), device=device)
            self._labels = unit(self.model.guidance_from_label(ids))  # (7, D), unit label directions

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None = None,
        device: str | torch.device | None = None,
        backbones: BackboneConfig | None = None,
        overrides: BackboneOverrides | None = None,
        mode: str = DEFAULT_MODE,
    ) -> "Animator":
        """Load a checkpoint folder (None = the shipped default model). `backbones` replaces the
        checkpoint's backbone config, `overrides` changes slots of it (local folders, devices);
        feature sizes must match. `mode`: "project" or "release" (inference_mode.py)."""
        rules(mode)  # an unknown mode fails before the model loads
        if path is None:
            path = DEFAULT_MODEL_DIR
            if not (path / ckpt.CONFIG_NAME).is_file():
                raise MedtalkError(
                    f"the default model is missing from this install ({path}); train it with "
                    "`medtalk synth` then `medtalk train --config configs/train/synthetic.yaml` and copy the "
                    "final checkpoint folder there (see the README, 'Default model'), or name a checkpoint folder"
                )
        dev = resolve_device(device)  # a CUDA request without CUDA: one clear line, before anything loads
        loaded = ckpt.load(path, dev)
        # the config the backbones are built from replaces the stored one, so that whoever reads
        # it later (the daemon's transcriber process) gets the same models
        loaded.backbones = mode_backbones(apply_overrides(backbones or loaded.backbones, overrides), mode)
        built = build_backbones(loaded.backbones)
        logger.info("loaded %s (stage %s, step %d) on %s", loaded.path, loaded.stage, loaded.step, dev)
        if loaded.stage == "init":
            logger.warning("checkpoint %s is untrained (stage 'init'): its animation is random", loaded.path)
        return cls(loaded, built, dev, mode)

    @property
    def transcriber(self) -> Transcriber | None:
        """The configured speech recogniser (built-in pocketsphinx by default), or None."""
        return self.backbones.transcriber

    @property
    def guidance_dim(self) -> int:
        return self.model.guidance_dim

    # --- guidance -----------------------------------------------------------------------
    def guidance(self, spec: str | int | GuidanceSpec, strength: float = 1.0) -> torch.Tensor:
        """A label (name, 3-letter prefix, id) or a GuidanceSpec -> guidance feature (D,) whose
        norm is the strength. `strength` multiplies the spec's own strength."""
        if not isinstance(spec, GuidanceSpec):
            spec = GuidanceSpec(label=spec)
        total = float(spec.strength) * float(strength)
        if not np.isfinite(total) or total < 0:
            raise MedtalkError(f"guidance strength must be a finite number >= 0, got {total}")
        if spec.label is not None:
            return with_strength(self._labels[emotion_id(spec.label)], total)
        backbone = self.backbones.guidance
        if backbone is None:
            kind = "text" if spec.text is not None else "image"
            raise MedtalkError(f"{kind} guidance needs a guidance backbone: set backbones.guidance.name "
                               "(lexicon for built-in text and images, open_clip for CLIP)")
        if isinstance(backbone, EmotionLexicon):  # no CLIP: facial actions / face landmarks through E_e
            offline = self.offline_guidance
            g = offline.text(spec.text) if spec.text is not None else offline.image(spec.image)
            return g * total
        with torch.inference_mode():
            if spec.text is not None:
                feats = backbone.encode_text([spec.text]).to(self.device)  # (1, clip_dim)
                return with_strength(self.model.guidance_from_clip_text(feats)[0], total)
            image = str(spec.image) if isinstance(spec.image, Path) else spec.image
            feats = backbone.encode_image([image]).to(self.device)  # (1, clip_dim)
            return with_strength(self.model.guidance_from_clip_image(feats)[0], total)

    @functools.cached_property
    def offline_guidance(self) -> OfflineGuidance:
        """Text and image guidance without CLIP (medtalk_core.offline_guidance), built on first use."""
        return OfflineGuidance(self, self._labels)

    def _resolve(self, guidance: Guidance, frames: int) -> torch.Tensor:
        """Any accepted guidance -> (D,) or (T, D) on the device."""
        if isinstance(guidance, (str, int, np.integer, GuidanceSpec)):
            return self.guidance(guidance)
        g = torch.as_tensor(guidance, dtype=torch.float32).to(self.device)
        if g.dim() == 1 and g.shape[0] == self.guidance_dim:
            return g
        if g.dim() == 2 and g.shape == (frames, self.guidance_dim):
            return g
        raise MedtalkError(f"guidance feature must be ({self.guidance_dim},) or ({frames}, {self.guidance_dim}), "
                           f"got {tuple(g.shape)}")

    @property
    def resampler(self) -> str:
        """How this mode brings audio files to 16 kHz (for load_audio / AudioFileReader)."""
        return self.rules.resampler

    def guidance_path(self, guidance: Guidance) -> str:
        """"clip" for CLIP text or image guidance; "label" for labels, features and the offline
        (lexicon) route, whose text and image features are fitted to the label path's E_fuse."""
        if isinstance(guidance, GuidanceSpec) and guidance.label is None:
            if not isinstance(self.backbones.guidance, EmotionLexicon):
                return "clip"
        return "label"

    # --- animation ----------------------------------------------------------------------
    def _text(self, audio: np.ndarray, transcript: str | None, path: str) -> torch.Tensor | None:
        """Token features (L, Dt) for the CMF head, or None for the audio-only head."""
        if self.rules.head_by_path and path == "clip":
            return None  # the release's CLIP model predicts intensity from the audio alone
        if transcript is None and self.transcriber is not None:
            transcript = self.transcriber.transcribe(audio).text
            logger.debug("transcript: %r", transcript)
        if self.rules.head_by_path:  # the release's label model always runs its CMF head
            return self.backbones.text.features(transcript or "")
        if transcript and transcript.strip():
            return self.backbones.text.features(transcript)
        return None if self._audio_head_trained else self.backbones.text.features(NO_WORDS)

    def animate(self, audio_16k: np.ndarray, guidance: Guidance, transcript: str | None = None,
                smooth: bool = True, path: str | None = None) -> np.ndarray:
        """Mono 16 kHz audio (n,) -> rig (T, 174) float32, T = num_frames(n).

        transcript: the spoken words; None = run the transcriber when one is configured;
        "" = none. path: "label" or "clip", which E_fuse (and in release mode which intensity
        head) the guidance takes; None = guidance_path(guidance)."""
        return self.animate_batch([audio_16k], [guidance], [transcript], smooth=smooth, paths=[path])[0]

    def animate_batch(
        self,
        audios: Sequence[np.ndarray],
        guidances: Sequence[Guidance],
        transcripts: Sequence[str | None] | None = None,
        smooth: bool = True,
        paths: Sequence[str | None] | None = None,
    ) -> list[np.ndarray]:
        """Many clips in one padded, masked forward pass -> list of (T_i, 174)."""
        if len(audios) != len(guidances):
            raise MedtalkError(f"got {len(audios)} audio clips but {len(guidances)} guidances")
        transcripts = list(transcripts) if transcripts is not None else [None] * len(audios)
        if len(transcripts) != len(audios):
            raise MedtalkError(f"got {len(audios)} audio clips but {len(transcripts)} transcripts")
        paths = list(paths) if paths is not None else [None] * len(audios)
        paths = [p if p is not None else self.guidance_path(g) for p, g in zip(paths, guidances)]
        if any(p not in PATHS for p in paths) or len(paths) != len(audios):
            raise MedtalkError(f"guidance paths must be one of {', '.join(PATHS)} per clip, got {paths}")
        if not audios:
            return []
        clips = [self._check_audio(a) for a in audios]
        lengths = [num_frames(a.shape[0]) for a in clips]
        out: list[np.ndarray] = [np.zeros((0, self.model.cfg.rig_dim), np.float32)] * len(clips)
        live = [i for i, t in enumerate(lengths) if t > 0]
        if live:
            # guidance first, outside _forward's inference mode: the offline (lexicon) text and
            # image route fits its feature with autograd, which inference tensors would break
            features = [self._resolve(guidances[i], lengths[i]) for i in live]
            rigs = self._forward([clips[i] for i in live], features,
                                 [transcripts[i] for i in live], [lengths[i] for i in live],
                                 [paths[i] for i in live])
            for i, rig in zip(live, rigs):
                rig = smooth_rig(rig) if smooth else rig
                out[i] = clamp(rig) if self.rules.clamp else rig
        return out

    @staticmethod
    def _check_audio(audio: np.ndarray) -> np.ndarray:
        a = np.asarray(audio, dtype=np.float32)
        if a.ndim != 1:
            raise MedtalkError(f"audio must be mono (n,) at {SAMPLE_RATE} Hz, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise MedtalkError("audio holds NaN or infinite samples")
        return a

    @torch.inference_mode()
    def _forward(self, clips: list[np.ndarray], guidances: Sequence[torch.Tensor],
                 transcripts: Sequence[str | None], lengths: list[int], paths: list[str]) -> list[np.ndarray]:
        B, T = len(clips), max(lengths)
        dev, bb = self.device, self.backbones
        content = torch.zeros(B, T, bb.audio_content.dim, device=dev)
        emotion = torch.zeros(B, T, bb.audio_emotion.dim, device=dev)
        guide = torch.zeros(B, T, self.guidance_dim, device=dev)
        mask = torch.zeros(B, T, device=dev)
        texts: list[torch.Tensor | None] = []
        for i, (audio, g, text, t, path) in enumerate(zip(clips, guidances, transcripts, lengths, paths)):
            content[i, :t] = bb.audio_content.features(audio)[:t].to(dev)  # (T_i, Dc)
            emotion[i, :t] = bb.audio_emotion.features(audio)[:t].to(dev)  # (T_i, De)
            guide[i, :t] = g  # (D,) or (T_i, D) broadcast over the frames
            mask[i, :t] = 1.0
            texts.append(self._text(audio, text, path))

        model = self.model
        intensity = torch.zeros(B, T, device=dev)
        with_text = [i for i, x in enumerate(texts) if x is not None]
        without = [i for i, x in enumerate(texts) if x is None]
        if with_text:
            L = max(texts[i].shape[0] for i in with_text)
            tokens = torch.zeros(len(with_text), L, bb.text.dim, device=dev)
            token_mask = torch.zeros(len(with_text), L, dtype=torch.bool, device=dev)
            for j, i in enumerate(with_text):
                tokens[j, : texts[i].shape[0]] = texts[i].to(dev)
                token_mask[j, : texts[i].shape[0]] = True
            idx = torch.tensor(with_text, device=dev)
            intensity[idx] = model.intensity(emotion[idx], tokens, token_mask, mask[idx])  # (b, T)
        if without:
            idx = torch.tensor(without, device=dev)
            intensity[idx] = model.intensity(emotion[idx], None, None, mask[idx])
        intensity = intensity * strength_of(guide)  # user strength survives eq. 9
        clip = torch.tensor([p == "clip" for p in paths], device=dev)  # (B,) rows on the CLIP-stage E_fuse
        emo = model.emotion_from_guidance(guide, intensity, clip)  # (B, T, L)
        rig = model.decode(emo, model.content_from_audio(content, mask))  # (B, T, 174)
        rig = rig.float().cpu().numpy()
        return [rig[i, :t] for i, t in enumerate(lengths)]

    def warmup(self, seconds: float = 0.5) -> None:
        """Load lazy weights and run every path once on `seconds` of silence (a caller's own clip
        length, e.g. the live engine's window), so the first real chunk is not slow."""
        silence = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
        if self.transcriber is not None:
            self.transcriber.transcribe(silence)
        self.animate(silence, "neutral", transcript="a")
        self.animate(silence, "neutral", transcript="")
