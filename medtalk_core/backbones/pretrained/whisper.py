"""Transcription with faster-whisper (CTranslate2 Whisper), for the FIM text branch.

The release transcribes with openai-whisper "base" and hard-codes Chinese; here the model size,
language (fixed or detected per clip), device and compute type are settings, and word
timestamps come back with the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..base import Transcript, Word
from .loading import LoadOptions, PretrainedAdapter, as_audio, hf_cache_dir, is_local_path, missing_model, require

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FasterWhisperSettings:
    model: str = "base"  # size ("tiny", "base", "small", "large-v3", ...), a hub id, or a local CTranslate2 folder
    language: str | None = None  # None = detect per clip; "zh" as the release, "en", ...
    compute_type: str = "default"  # CTranslate2 type: "default", "int8", "float16", "int8_float16", "float32"
    beam_size: int = 5  # beam search width (faster-whisper's default)
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # fallback schedule; (0.0,) = deterministic
    cpu_threads: int = 0  # CTranslate2 CPU threads; 0 = its default


class FasterWhisperTranscriber(PretrainedAdapter):
    """Transcriber: 16 kHz audio -> Transcript(text, words with start/end seconds)."""

    def __init__(self, settings: FasterWhisperSettings = FasterWhisperSettings(),
                 options: LoadOptions = LoadOptions(), config_key: str = "backbones.transcriber.model") -> None:
        super().__init__(settings, options, config_key, f"faster-whisper:{settings.model}")
        self._model: object | None = None

    def _device(self) -> tuple[str, int]:
        ctranslate2 = require("ctranslate2", "pretrained")
        if self.options.device is None:
            return ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"), 0
        kind, _, index = self.options.device.partition(":")
        return kind, int(index or 0)

    def _compute_type(self, device: str) -> str:
        if self.settings.compute_type == "default" and self.options.fp16 and device == "cuda":
            return "float16"
        return self.settings.compute_type

    def load(self) -> object:
        """The faster_whisper.WhisperModel, loaded once; never downloads unless allowed."""
        if self._model is None:
            faster_whisper = require("faster_whisper", "pretrained", "faster-whisper")
            device, index = self._device()
            model = self.settings.model
            source = model
            if is_local_path(model):
                from pathlib import Path

                source = str(Path(model).expanduser())
            try:
                self._model = faster_whisper.WhisperModel(
                    source, device=device, device_index=index, compute_type=self._compute_type(device),
                    cpu_threads=self.settings.cpu_threads, download_root=self.options.cache_dir,
                    local_files_only=not self.options.allow_download)
            except (OSError, ValueError, RuntimeError) as exc:  # not cached / not a CTranslate2 folder
                raise missing_model("transcriber (faster-whisper)", model, hf_cache_dir(self.options),
                                    self.config_key, self.options, exc) from None
            logger.info("loaded faster-whisper %s on %s", model, device)
        return self._model

    def transcribe(self, audio_16k: np.ndarray) -> Transcript:
        audio = as_audio(audio_16k)
        if len(audio) == 0:
            return Transcript(text="")
        model = self.load()
        segments, _info = model.transcribe(  # type: ignore[attr-defined]
            audio, language=self.settings.language, beam_size=self.settings.beam_size,
            temperature=list(self.settings.temperature), word_timestamps=True, condition_on_previous_text=False)
        texts: list[str] = []
        words: list[Word] = []
        for segment in segments:  # a generator: decoding happens while iterating
            texts.append(segment.text)
            for w in segment.words or ():
                words.append(Word(text=w.word.strip(), start_s=float(w.start), end_s=float(w.end)))
        return Transcript(text="".join(texts).strip(), words=tuple(words))
