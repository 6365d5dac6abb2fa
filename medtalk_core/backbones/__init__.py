"""Backbone configuration, registry and factory.

Five slots, each filled by a named implementation of an interface in `base.py`:

    audio_content  logmel (built-in)            | wav2vec2 (pretrained module)
    audio_emotion  prosody (built-in)           | emotion2vec
    transcriber    pocketsphinx (built-in) | none | faster_whisper
    text           hashed (built-in)            | bert
    guidance       lexicon (built-in) | none    | open_clip, clip_hf

Built-in entries are registered here. Other modules add theirs with
`register(kind, name, factory)`; `medtalk_core.backbones.pretrained` is imported lazily, once,
when a name is not found, so that the pretrained stack costs nothing unless it is asked for.
A factory takes a BackboneSpec and returns the backbone (weights loaded lazily, never
downloaded in a constructor).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError
from .base import AudioFeatureBackbone, GuidanceBackbone, TextBackbone, Transcriber

logger = logging.getLogger(__name__)

KINDS = ("audio_content", "audio_emotion", "transcriber", "text", "guidance")
OPTIONAL_KINDS = ("transcriber", "guidance")  # may be "none"
PRETRAINED_MODULE = "medtalk_core.backbones.pretrained"


@dataclass(frozen=True)
class BackboneSpec:
    name: str  # registry name, e.g. "logmel", "wav2vec2", "none"
    path: str | None = None  # local weights folder/file, or a hub id resolved from the local cache
    options: dict[str, Any] = field(default_factory=dict)  # implementation-specific settings, checked by its factory


@dataclass(frozen=True)
class BackboneConfig:
    audio_content: BackboneSpec = BackboneSpec("logmel")  # audio -> per-frame content features
    audio_emotion: BackboneSpec = BackboneSpec("prosody")  # audio -> per-frame emotion features
    transcriber: BackboneSpec = BackboneSpec("pocketsphinx")  # audio -> words, for the CMF text branch
    text: BackboneSpec = BackboneSpec("hashed", options={"dim": 64})  # transcript -> token features
    guidance: BackboneSpec = BackboneSpec("lexicon")  # descriptions / images -> guidance features


@dataclass
class Backbones:
    """The built backbones of one model; `transcriber` and `guidance` may be None."""

    audio_content: AudioFeatureBackbone
    audio_emotion: AudioFeatureBackbone
    transcriber: Transcriber | None
    text: TextBackbone
    guidance: GuidanceBackbone | None


Factory = Callable[[BackboneSpec], Any]
_REGISTRY: dict[str, dict[str, Factory]] = {kind: {} for kind in KINDS}
_pretrained_tried = False
_pretrained_error: str | None = None  # why the pretrained module could not be imported, if it failed


def register(kind: str, name: str, factory: Factory) -> None:
    """Make `name` available for slot `kind`; a later registration of the same name replaces it."""
    if kind not in _REGISTRY:
        raise ValueError(f"unknown backbone kind {kind!r}; kinds: {', '.join(KINDS)}")
    _REGISTRY[kind][name] = factory


def registered(kind: str) -> list[str]:
    _load_pretrained()
    return sorted(_REGISTRY[kind])


def _load_pretrained() -> None:
    """Import the pretrained adapters' module once (it registers itself), if it exists."""
    global _pretrained_tried, _pretrained_error
    if _pretrained_tried:
        return
    _pretrained_tried = True
    try:
        importlib.import_module(PRETRAINED_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PRETRAINED_MODULE:  # the module exists but one of its imports is missing
            _pretrained_error = str(exc)
            logger.debug("pretrained backbones unavailable: %s", exc)


def check_options(spec: BackboneSpec, kind: str, allowed: tuple[str, ...]) -> None:
    """Factories call this so that a misspelled option is an error, not silently ignored."""
    for key in spec.options:
        if key not in allowed:
            raise ConfigError(f"unknown config key: backbones.{kind}.options.{key} (for {spec.name!r}; "
                              f"known: {', '.join(allowed) or 'none'})")


def build_backbone(kind: str, spec: BackboneSpec) -> Any:
    """One slot; None for "none" in an optional slot."""
    if kind not in _REGISTRY:
        raise ConfigError(f"unknown backbone kind {kind!r}; kinds: {', '.join(KINDS)}")
    if spec.name == "none":
        if kind in OPTIONAL_KINDS:
            return None
        raise ConfigError(f"backbones.{kind}.name cannot be 'none': the model needs this input")
    if spec.name not in _REGISTRY[kind]:
        _load_pretrained()
    factory = _REGISTRY[kind].get(spec.name)
    if factory is None:
        known = sorted(_REGISTRY[kind]) + (["none"] if kind in OPTIONAL_KINDS else [])
        hint = f" (pretrained backbones unavailable: {_pretrained_error})" if _pretrained_error else ""
        raise ConfigError(f"unknown backbone backbones.{kind}.name = {spec.name!r}; known: {', '.join(known)}{hint}")
    return factory(spec)


def build_backbones(cfg: BackboneConfig) -> Backbones:
    return Backbones(**{kind: build_backbone(kind, getattr(cfg, kind)) for kind in KINDS})


# --- built-in entries -------------------------------------------------------------------------
def _logmel(spec: BackboneSpec) -> Any:
    from .logmel import LogMel

    check_options(spec, "audio_content", ("n_mels", "level_split"))
    return LogMel(**spec.options)


def _prosody(spec: BackboneSpec) -> Any:
    from .prosody import Prosody

    check_options(spec, "audio_emotion", ())
    return Prosody()


def _pocketsphinx(spec: BackboneSpec) -> Any:
    from .pocketsphinx_asr import PocketsphinxTranscriber

    check_options(spec, "transcriber", ())
    return PocketsphinxTranscriber(model_dir=spec.path)


def _hashed(spec: BackboneSpec) -> Any:
    from .hashed_text import HashedText

    check_options(spec, "text", ("dim", "buckets"))
    return HashedText(**spec.options)


def _lexicon(spec: BackboneSpec) -> Any:
    from .lexicon import EmotionLexicon

    check_options(spec, "guidance", ())
    return EmotionLexicon()


register("audio_content", "logmel", _logmel)
register("audio_emotion", "prosody", _prosody)
register("transcriber", "pocketsphinx", _pocketsphinx)
register("text", "hashed", _hashed)
register("guidance", "lexicon", _lexicon)

__all__ = ["BackboneConfig", "BackboneSpec", "Backbones", "KINDS", "build_backbone", "build_backbones",
           "check_options", "register", "registered"]
