"""Built-in transcriber: pocketsphinx's offline English recogniser (the wheel ships its model).

Used for the CMF text branch when no faster-whisper model is configured. Accuracy is far below
Whisper's, but the words it gets right are often the stressed, emotional ones, and the model
degrades gracefully: a wrong word is just a different token for the cross-attention.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import MissingDependencyError
from .base import Transcript, Word

logger = logging.getLogger(__name__)

FRAME_S = 0.01  # pocketsphinx segments count 10 ms frames (its default frate 100)
_FILLER = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")  # "the(2)" = second pronunciation of "the"


class PocketsphinxTranscriber:
    """Transcriber: audio (n,) at 16 kHz -> Transcript with word timings. Thread-safe."""

    name = "pocketsphinx"

    def __init__(self, model_dir: str | None = None) -> None:
        self._model_dir = model_dir  # None = the model inside the wheel
        self._decoder = None
        self._lock = threading.Lock()  # one decoder, one utterance at a time

    def _load(self):
        if self._decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError:
                raise MissingDependencyError(
                    "the built-in transcriber needs pocketsphinx: pip install pocketsphinx "
                    "(or set backbones.transcriber.name: none)"
                ) from None
            kwargs = {"samprate": SAMPLE_RATE, "loglevel": "FATAL"}
            if self._model_dir is not None:
                root = Path(self._model_dir)
                kwargs.update(hmm=str(root / "en-us"), lm=str(root / "en-us.lm.bin"),
                              dict=str(root / "cmudict-en-us.dict"))
            self._decoder = Decoder(**kwargs)
        return self._decoder

    def transcribe(self, audio_16k: np.ndarray) -> Transcript:
        pcm = (np.clip(np.asarray(audio_16k, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
        with self._lock:
            decoder = self._load()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            segments = [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]
        words = tuple(
            Word(_ALTERNATE.sub("", w), start * FRAME_S, (end + 1) * FRAME_S)
            for w, start, end in segments
            if not _FILLER.match(w)
        )
        return Transcript(" ".join(w.text for w in words), words)
