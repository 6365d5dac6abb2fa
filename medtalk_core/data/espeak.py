"""espeak-ng through its C library (ctypes): speech audio plus timed word and phoneme events.

The command-line `espeak-ng` cannot report phoneme timings without MBROLA, but the library's
synthesis callback receives, with every audio chunk, the events (word starts, phoneme starts)
that fall inside it, positioned in output samples. That is all the synthetic dataset needs.

libespeak-ng keeps its state in process globals and hangs when initialised twice in one
process, so `engine()` initialises it once per process and hands back that one object. It also
carries state from one utterance to the next (the same text comes out a few samples different),
so the generator renders each sentence in a fresh worker process for reproducible output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

import numpy as np

from ..errors import MissingDependencyError

INSTALL_HINT = "sudo apt-get install espeak-ng libespeak-ng1"
LIBRARY_ENV = "MEDTALK_ESPEAK_LIB"  # overrides the library file name (tests point it at a missing one)
DEFAULT_LIBRARY = "libespeak-ng.so.1"

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x1
_INIT_PHONEME_IPA = 0x2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH, PARAM_RANGE = 1, 2, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character position of a word
        ("length", ctypes.c_int),  # word length in characters
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """How espeak-ng speaks one rendition."""

    name: str = "en-us"  # voice, optionally with a variant: "en-us+f3"
    rate: int = 175  # words per minute (espeak's 80..450)
    pitch: int = 50  # base pitch, 0..100
    pitch_range: int = 50  # intonation range, 0..100 (0 = monotone)
    volume: int = 100  # amplitude, 0..200


@dataclass(frozen=True)
class Utterance:
    """One synthesised utterance: audio at `sample_rate` and its events in seconds."""

    audio: np.ndarray  # (n,) float32 in [-1, 1]
    sample_rate: int
    phonemes: tuple[tuple[str, float], ...]  # (IPA name, start s) in order
    words: tuple[tuple[int, int, float], ...]  # (char start 0-based, char length, start s)


def check_library(library: str | None = None) -> ctypes.CDLL:
    """Load libespeak-ng (without initialising it); one clear error saying how to install it."""
    name = library or os.environ.get(LIBRARY_ENV) or ctypes.util.find_library("espeak-ng") or DEFAULT_LIBRARY
    try:
        return ctypes.CDLL(name)
    except OSError:
        raise MissingDependencyError(
            f"the espeak-ng speech library ({name}) is not installed; `medtalk synth` needs it: {INSTALL_HINT}"
        ) from None


class Espeak:
    """An initialised libespeak-ng. Build it through `engine()`, never twice in one process."""

    def __init__(self, library: str | None = None) -> None:
        self._lib = check_library(library)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if rate <= 0:
            raise MissingDependencyError(
                f"espeak-ng failed to initialise (its data files may be missing): {INSTALL_HINT}")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []  # type, sample, text pos, length, name
        # Keep a reference: ctypes frees the trampoline when the Python object goes away.
        self._callback = _SynthCallback(self._on_audio)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples: int, events) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type in (_EVENT_WORD, _EVENT_PHONEME):
                self._events.append((ev.type, ev.sample, ev.text_position, ev.length, bytes(ev.id.string)))
            i += 1
        return 0  # 0 = keep synthesising

    def synthesize(self, text: str, voice: Voice) -> Utterance:
        """Speak `text` with `voice`; returns the audio and its phoneme and word events."""
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise MissingDependencyError(
                f"espeak-ng has no voice {voice.name!r}; install the full package: {INSTALL_HINT}")
        for param, value in ((PARAM_RATE, voice.rate), (PARAM_PITCH, voice.pitch),
                             (PARAM_RANGE, voice.pitch_range), (PARAM_VOLUME, voice.volume)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        audio = pcm.astype(np.float32) / 32768.0
        sr = float(self.sample_rate)
        phonemes = tuple(
            (name.split(b"\0", 1)[0].decode("utf-8", "replace"), sample / sr)
            for kind, sample, _, _, name in self._events if kind == _EVENT_PHONEME
        )
        words = tuple((pos - 1, length, sample / sr)
                      for kind, sample, pos, length, _ in self._events if kind == _EVENT_WORD)
        return Utterance(audio, self.sample_rate, phonemes, words)


_ENGINE: Espeak | None = None  # the process's one libespeak-ng (it cannot be initialised twice)


def engine(library: str | None = None) -> Espeak:
    """This process's espeak-ng, initialised on first use."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak(library)
    return _ENGINE
