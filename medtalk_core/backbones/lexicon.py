"""Built-in guidance for text descriptions without CLIP weights: an emotion lexicon.

"a tired, reluctant smile" -> weights over the 7 labels (sad 2/3, happy 1/3) and a strength
from intensifiers ("very", "slightly", ...). The Animator turns this into a blend of the label
embeddings, so it works with any trained model and needs no guidance stage. Negated words
("not happy") count towards neutral. Descriptions with facial actions ("raised eyebrows") and
reference images go through `medtalk_core.offline_guidance` when this is the guidance backbone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import MedtalkError
from ..rig import EMOTIONS

# A trailing '*' matches any word starting with the stem; other entries match whole words.
LEXICON: dict[str, tuple[str, ...]] = {
    "angry": ("angry", "anger*", "furious", "fury", "rage*", "raging", "mad", "irritat*", "annoy*", "livid",
              "hostil*", "scowl*", "glar*", "grump*", "stern", "fierce*", "outrag*", "irate", "indignan*", "frown*"),
    "disgust": ("disgust*", "gross*", "revolt*", "repuls*", "sneer*", "nause*", "distaste*", "contempt*",
                "grimac*", "yuck", "loath*", "repelled", "sickened", "icky"),
    "fear": ("fear*", "afraid", "scared", "scary", "terrif*", "anxious*", "anxiety", "nervous*", "worri*",
             "worry*", "panic*", "fright*", "dread*", "tense", "alarm*", "uneasy", "timid*", "horrif*", "petrified"),
    "happy": ("happy", "happi*", "joy*", "smil*", "grin*", "laugh*", "cheer*", "delight*", "glad*", "pleased",
              "content", "excit*", "amus*", "elat*", "beam*", "playful*", "merry", "jolly", "warm", "proud",
              "giggl*", "chuckl*"),
    "neutral": ("neutral*", "calm*", "flat", "blank", "plain", "relaxed", "composed", "expressionless",
                "deadpan", "impassive", "indifferent", "still", "serene", "stoic*"),
    "sad": ("sad*", "sorrow*", "unhapp*", "tear*", "cry", "crying", "cried", "grief", "griev*", "melanchol*",
            "gloom*", "depress*", "tired", "weary", "reluctant*", "lonely", "mourn*", "despair*", "disappoint*",
            "hurt", "pout*", "downcast", "miserab*", "heartbr*", "sulk*", "somber", "sombre", "wistful*"),
    "surprised": ("surpris*", "shock*", "astonish*", "amaz*", "startl*", "stun*", "wow", "gasp*",
                  "unexpected*", "awe*", "bewilder*", "astound*", "wide-eyed"),
}
INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "extremely": 2.0, "really": 1.4, "so": 1.3, "super": 1.6, "incredibly": 1.8, "deeply": 1.5,
    "intensely": 1.8, "totally": 1.6, "utterly": 1.9, "highly": 1.5, "quite": 1.2, "strongly": 1.6,
    "slightly": 0.5, "somewhat": 0.7, "mildly": 0.6, "mild": 0.6, "faint": 0.5, "faintly": 0.5, "subtle": 0.5,
    "subtly": 0.5, "barely": 0.3, "hint": 0.5, "little": 0.6, "bit": 0.6, "gently": 0.6, "gentle": 0.6,
    "soft": 0.7, "softly": 0.7, "kind": 0.7, "touch": 0.5,
}
NEGATIONS = ("not", "no", "never", "without", "isn't", "aren't", "wasn't", "don't", "doesn't", "hardly")
MAX_STRENGTH = 2.0
WORD = re.compile(r"[a-z'\-]+")


@dataclass(frozen=True)
class LexiconReading:
    weights: np.ndarray  # (7,) non-negative, sums to 1, label order of rig.EMOTIONS
    strength: float  # 1.0 = as the labels were trained; intensifiers scale it, within (0, 2]
    matched: tuple[str, ...]  # the words that carried emotion


def _match(word: str) -> str | None:
    for emotion, entries in LEXICON.items():
        for entry in entries:
            if (entry.endswith("*") and word.startswith(entry[:-1])) or word == entry:
                return emotion
    return None


class EmotionLexicon:
    """GuidanceBackbone over the lexicon: text -> (N, 8) = [7 label weights, strength]."""

    name = "lexicon"
    dim = len(EMOTIONS) + 1

    def read(self, text: str) -> LexiconReading:
        weights = np.zeros(len(EMOTIONS), np.float64)
        modifier, negated, strengths, matched = 1.0, False, [], []
        for word in WORD.findall(text.lower()):
            if word in INTENSIFIERS:
                modifier *= INTENSIFIERS[word]
                continue
            if word in NEGATIONS or word.endswith("n't"):
                negated = True
                continue
            emotion = _match(word)
            if emotion is None:
                continue
            target = "neutral" if negated else emotion
            weights[EMOTIONS.index(target)] += 1.0
            strengths.append(modifier)
            matched.append(word)
            modifier, negated = 1.0, False  # a modifier applies to the next emotion word only
        if not matched:
            raise MedtalkError(
                f"no emotion word recognised in {text!r}; the built-in lexicon knows words such as "
                "'smiling', 'furious', 'tired', 'slightly', 'very'. For free descriptions set "
                "backbones.guidance.name to open_clip (needs the pretrained extra and CLIP weights)"
            )
        strength = float(np.clip(np.mean(strengths), 0.05, MAX_STRENGTH))
        return LexiconReading((weights / weights.sum()).astype(np.float32), strength, tuple(matched))

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            reading = self.read(text)
            rows.append(np.r_[reading.weights, reading.strength])
        return torch.as_tensor(np.stack(rows), dtype=torch.float32)  # (N, 8)

    def encode_image(self, images: Sequence[np.ndarray | str]) -> torch.Tensor:
        raise MedtalkError(
            "image guidance needs a CLIP backbone: set backbones.guidance.name to open_clip (or clip_hf) "
            "in the model's backbone config and install the pretrained extra"
        )
