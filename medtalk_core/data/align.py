"""Forced alignment of real speech to its transcript, offline: pocketsphinx + espeak-ng.

pocketsphinx's wheel ships an English acoustic model and CMUdict; its aligner runs two passes
(word search constrained to the transcript, then phone alignment inside it) and returns
ARPAbet phones in 10 ms frames with acoustic scores. Words CMUdict lacks get a pronunciation
from espeak-ng (its IPA, mapped to ARPAbet), so names and rare words never fail an utterance.

The mean acoustic score per frame is the quality measure: a correct transcript scores about
-8 to -15 per frame on clean read speech, a wrong one below -40 (measured on the shared
LibriVox sample), so utterances under `min_score` are reported and skipped by the caller.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import MedtalkError, MissingDependencyError

logger = logging.getLogger(__name__)

FRAME_S = 0.01  # pocketsphinx's frame shift
DEFAULT_MIN_SCORE = -25.0  # mean acoustic score per frame below which an alignment is rejected
SILENCE = "SIL"

# ARPAbet (CMUdict, stress removed) -> the IPA units the articulation model (visemes.py) reads.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɚ",
    "EY": "eɪ", "IH": "ɪ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ", SILENCE: "",
}
BILABIALS = frozenset({"P", "B", "M"})
# espeak-ng IPA (en-us, stress and length marks removed) -> ARPAbet, longest symbols first.
_IPA_TO_ARPABET: tuple[tuple[str, str], ...] = tuple(sorted({
    "ɑ": "AA", "ɑː": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔ": "AO", "ɔː": "AO", "ɒ": "AA",
    "aʊ": "AW", "aɪ": "AY", "ɛ": "EH", "e": "EH", "ɚ": "ER", "ɜ": "ER", "ɜː": "ER", "ɝ": "ER", "eɪ": "EY",
    "ɪ": "IH", "ᵻ": "IH", "i": "IY", "iː": "IY", "oʊ": "OW", "o": "OW", "ɔɪ": "OY", "ʊ": "UH", "u": "UW",
    "uː": "UW", "b": "B", "tʃ": "CH", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH",
    "dʒ": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "s": "S",
    "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH", "ɾ": "D", "ʔ": "T",
    "x": "K", "ɬ": "L", "n̩": "N", "l̩": "L", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "ɛɹ": "EH R", "ɪɹ": "IH R",
    "ʊɹ": "UH R", "aɪɚ": "AY ER", "aɪə": "AY AH", "iə": "IY AH", "oːɹ": "AO R",
}.items(), key=lambda kv: -len(kv[0])))
_WORD_RE = re.compile(r"[a-z0-9']+")


class AlignmentError(MedtalkError):
    """An utterance could not be aligned to its transcript (the caller skips it by name)."""


@dataclass(frozen=True)
class Phone:
    """One aligned phone: ARPAbet name (stress removed, SIL for silence), [start, end) seconds."""

    name: str
    start: float
    end: float

    @property
    def ipa(self) -> str:
        return ARPABET_TO_IPA.get(self.name, "")


@dataclass(frozen=True)
class Word:
    text: str  # lower case, without pocketsphinx's "(2)" variant tag; "" for silence
    start: float
    end: float


@dataclass(frozen=True)
class Alignment:
    phones: tuple[Phone, ...]  # in time order, silences included, covering the audio
    words: tuple[Word, ...]  # spoken words only
    score: float  # mean acoustic score per frame (higher is better)

    def bilabials(self) -> list[Phone]:
        return [p for p in self.phones if p.name in BILABIALS]


def normalise_transcript(text: str) -> list[str]:
    """Lower-case words as the aligner wants them: punctuation dropped, apostrophes kept."""
    return _WORD_RE.findall(text.lower().replace("’", "'"))


def espeak_arpabet(word: str) -> str:
    """ARPAbet pronunciation of `word` from espeak-ng's IPA (`espeak-ng -q --ipa`)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingDependencyError("espeak-ng is not installed (it spells words CMUdict lacks): "
                                     "sudo apt-get install espeak-ng")
    ipa = subprocess.run([exe, "-q", "--ipa", "--sep=_", "-v", "en-us", word], capture_output=True, text=True,
                         check=False, timeout=20).stdout
    symbols = [s for s in re.split(r"[_\s]+", ipa.replace("ˈ", "").replace("ˌ", "")) if s]
    phones: list[str] = []
    for sym in symbols:
        rest = sym
        while rest:
            for ipa_sym, arpa in _IPA_TO_ARPABET:
                if rest.startswith(ipa_sym):
                    phones.extend(arpa.split())
                    rest = rest[len(ipa_sym):]
                    break
            else:
                rest = rest[1:]  # a mark with no ARPAbet counterpart (length, syllabic): dropped
    if not phones:
        raise AlignmentError(f"espeak-ng gave no pronunciation for {word!r}")
    return " ".join(phones)


class Aligner:
    """pocketsphinx's forced aligner, one decoder reused across utterances (it loads in ~0.6 s)."""

    def __init__(self, min_score: float = DEFAULT_MIN_SCORE) -> None:
        from pocketsphinx import Decoder

        self.min_score = float(min_score)
        self._decoder = Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
        self._added: set[str] = set()

    def _ensure_words(self, words: list[str]) -> None:
        for word in words:
            if word in self._added or self._decoder.lookup_word(word) is not None:
                continue
            self._decoder.add_word(word, espeak_arpabet(word), False)
            self._added.add(word)
            logger.debug("pronunciation of %r from espeak-ng", word)

    def align(self, audio_16k: np.ndarray, transcript: str) -> Alignment:
        """Phones and words of `transcript` timed on `audio_16k` (mono float, 16 kHz)."""
        words = normalise_transcript(transcript)
        if not words:
            raise AlignmentError("the transcript holds no words")
        self._ensure_words(words)
        pcm = (np.clip(np.asarray(audio_16k, np.float32), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        d = self._decoder
        try:
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            alignment = d.get_alignment()  # its entries point into it: keep it alive while reading them
        except RuntimeError as exc:  # the transcript does not fit the audio at all
            raise AlignmentError(f"no alignment: {exc}") from None
        phones: list[Phone] = []
        spoken: list[Word] = []
        total = 0.0
        for seg in alignment:
            total += seg.score
            name = seg.name.split("(")[0]
            if name not in ("<sil>", "<s>", "</s>", "[NOISE]"):
                spoken.append(Word(name, seg.start * FRAME_S, (seg.start + seg.duration) * FRAME_S))
            for p in seg:
                phone = p.name if p.name in ARPABET_TO_IPA else SILENCE
                phones.append(Phone(phone, p.start * FRAME_S, (p.start + p.duration) * FRAME_S))
        frames = max(1, len(audio_16k) // int(SAMPLE_RATE * FRAME_S))
        score = total / frames
        if len(spoken) != len(words):
            raise AlignmentError(f"aligned {len(spoken)} of {len(words)} words")
        if score < self.min_score:
            raise AlignmentError(f"poor alignment (score {score:.1f} per frame, minimum {self.min_score:.1f})")
        return Alignment(tuple(phones), tuple(spoken), score)
