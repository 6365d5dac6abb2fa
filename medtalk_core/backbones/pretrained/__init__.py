"""Pretrained backbones of the paper's configuration, registered in the backbone registry.

    audio_content  wav2vec2        transformers Wav2Vec2Model (facebook/wav2vec2-base-960h)
    audio_emotion  emotion2vec     funasr emotion2vec (iic/emotion2vec_base), extra `emotion2vec`
    transcriber    faster_whisper  faster-whisper (size "base" as the release, or a local folder)
    text           bert            transformers BERT/RoBERTa (hfl/chinese-roberta-wwm-ext)
    guidance       open_clip       open_clip ViT-B-32 / openai
    guidance       clip_hf         transformers CLIPModel (openai/clip-vit-base-patch32)

In a BackboneSpec, `path` is the model (hub id read from the local cache, or a local folder or
file) and `options` holds the adapter's settings plus the shared load options (device, fp16,
allow_download, cache_dir). Heavy libraries are imported only when a model loads.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

from .. import BackboneSpec, check_options, register
from ...config import from_mapping
from .bert import BertSettings, BertText
from .clip import HfClipGuidance, HfClipSettings, OpenClipGuidance, OpenClipSettings
from .emotion2vec import Emotion2vecEmotion, Emotion2vecSettings
from .loading import LoadOptions
from .wav2vec2 import Wav2Vec2Content, Wav2Vec2Settings
from .whisper import FasterWhisperSettings, FasterWhisperTranscriber

LOAD_KEYS = tuple(f.name for f in fields(LoadOptions))


def _factory(kind: str, settings_cls: type, path_field: str, adapter: Callable[..., Any]) -> Callable[[BackboneSpec], Any]:
    """A registry factory: spec.path -> settings.<path_field>, spec.options -> settings + LoadOptions."""
    own_keys = tuple(f.name for f in fields(settings_cls) if f.name != path_field)

    def build(spec: BackboneSpec) -> Any:
        check_options(spec, kind, own_keys + LOAD_KEYS)
        where = f"backbones.{kind}.options"
        load = from_mapping(LoadOptions, {k: v for k, v in spec.options.items() if k in LOAD_KEYS}, where)
        own = {k: v for k, v in spec.options.items() if k in own_keys}
        if spec.path is not None:
            own[path_field] = spec.path
        settings = from_mapping(settings_cls, own, where)
        return adapter(settings, load, config_key=f"backbones.{kind}.path")

    return build


register("audio_content", "wav2vec2", _factory("audio_content", Wav2Vec2Settings, "model", Wav2Vec2Content))
register("audio_emotion", "emotion2vec", _factory("audio_emotion", Emotion2vecSettings, "model", Emotion2vecEmotion))
register("transcriber", "faster_whisper",
         _factory("transcriber", FasterWhisperSettings, "model", FasterWhisperTranscriber))
register("text", "bert", _factory("text", BertSettings, "model", BertText))
register("guidance", "open_clip", _factory("guidance", OpenClipSettings, "pretrained", OpenClipGuidance))
register("guidance", "clip_hf", _factory("guidance", HfClipSettings, "model", HfClipGuidance))

__all__ = ["BertSettings", "BertText", "Emotion2vecEmotion", "Emotion2vecSettings", "FasterWhisperSettings",
           "FasterWhisperTranscriber", "HfClipGuidance", "HfClipSettings", "LoadOptions", "OpenClipGuidance",
           "OpenClipSettings", "Wav2Vec2Content", "Wav2Vec2Settings"]
