"""Inference modes: the project's own pipeline (default) or the MEDTalk release's demo choices.

Both modes use each guidance path's own E_fuse when a checkpoint holds two (the release trains
one for labels and another for CLIP guidance). They differ in what docs/RELEASE.md lists, with
measured sizes:

                       project (default)                      release
    intensity head     CMF with a transcript, else the        label path: CMF always; text/image
                       audio-only head (CMF on the no-words   path: the audio-only MLP always
                       input if that head is untrained)
    BERT input         the transcript's words                 encode_plus(text=[text]): [CLS] <the
                                                              whole text as one token, [UNK]> [SEP]
    emotion2vec input  raw audio (funasr's own layer norm)    Wav2Vec2Processor-normalised first
    audio files        DEFAULT_RESAMPLER (audio.py)           soxr HQ, as librosa.load
    output             clamped to the controller ranges       not clamped
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .audio import DEFAULT_RESAMPLER
from .backbones import BackboneConfig
from .errors import ConfigError

MODES = ("project", "release")
DEFAULT_MODE = "project"


@dataclass(frozen=True)
class ModeRules:
    resampler: str  # how audio files are brought to 16 kHz (audio.RESAMPLERS)
    clamp: bool  # clamp output frames to the controller ranges
    head_by_path: bool  # True: the guidance path picks the intensity head; False: whether words were heard
    release_inputs: bool  # emotion2vec and BERT fed exactly as the release feeds them


def rules(mode: str) -> ModeRules:
    if mode not in MODES:
        raise ConfigError(f"inference mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "release":
        return ModeRules(resampler="soxr", clamp=False, head_by_path=True, release_inputs=True)
    return ModeRules(resampler=DEFAULT_RESAMPLER, clamp=True, head_by_path=False, release_inputs=False)


def mode_backbones(cfg: BackboneConfig, mode: str) -> BackboneConfig:
    """The backbone config with the mode's input rules set on the adapters that have them."""
    if not rules(mode).release_inputs:
        return cfg
    emotion, text = cfg.audio_emotion, cfg.text
    if emotion.name == "emotion2vec":
        emotion = dataclasses.replace(emotion, options={**emotion.options, "processor_norm": True})
    if text.name == "bert":
        text = dataclasses.replace(text, options={**text.options, "release_tokens": True})
    return dataclasses.replace(cfg, audio_emotion=emotion, text=text)
