"""Descriptions -> a pose: facial actions ("raised eyebrows", "a half smile"), degree words and
negation, combined with the emotion words of the built-in lexicon.

"slightly raised eyebrows and a half smile" sets the brow raises to half their action value and
the left mouth-corner pull, and nothing else. An emotion word ("tired", "furious") adds that
emotion's pose as the synthetic training data shows it (`data.expressions.POSES`); a facial
action then sets the controls it names, so the description's own words win. Degree words and
negations are the lexicon's (`backbones.lexicon`), and apply to the next action or emotion word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import rig
from ..backbones.lexicon import INTENSIFIERS, MAX_STRENGTH, NEGATIONS, _match as emotion_of
from ..data.expressions import POSE_GAIN, POSES
from ..data.rigmap import rows
from ..errors import MedtalkError

# action -> (phrasings, {control key: value}); keys as data.rigmap.rows reads them, "L_" = one side
ACTIONS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "raised eyebrows": (("raised eyebrows", "eyebrows raised", "raised brows", "brows raised", "raising eyebrows",
                         "eyebrows up", "brows up", "raised eyebrow"), {"brow_raiseIn": 0.6, "brow_raiseOut": 0.6}),
    "raised inner brows": (("raised inner brows", "inner brows raised", "worried brows"), {"brow_raiseIn": 0.6}),
    "furrowed brows": (("furrowed brows", "furrowed brow", "brows furrowed", "knitted brows", "brows knitted",
                        "drawn brows", "scowling brows"), {"brow_down": 0.6, "brow_lateral": 0.6}),
    "lowered brows": (("lowered brows", "brows lowered", "lowered eyebrows", "eyebrows lowered"), {"brow_down": 0.6}),
    "wide eyes": (("wide eyes", "eyes wide", "wide open eyes", "eyes wide open", "wide-eyed", "eyes open wide"),
                  {"eye_blink": -0.6}),
    "squinting": (("squinting", "squint", "squints", "narrowed eyes", "eyes narrowed"),
                  {"eye_squintInner": 0.6, "eye_blink": 0.3}),
    "closed eyes": (("closed eyes", "eyes closed", "eyes shut"), {"eye_blink": 1.0}),
    "raised cheeks": (("raised cheeks", "cheeks raised"), {"eye_cheekRaise": 0.6}),
    "wrinkled nose": (("wrinkled nose", "nose wrinkled", "scrunched nose", "nose scrunched", "wrinkles nose"),
                      {"nose_wrinkleUpper": 0.6}),
    "sneer": (("sneer", "sneering", "sneers"), {"nose_wrinkleUpper": 0.4, "mouth_upperLipRaise": 0.5}),
    "smile": (("smile", "smiling", "smiles"), {"mouth_cornerPull": 0.6, "eye_cheekRaise": 0.3}),
    "grin": (("grin", "grinning", "grins", "broad smile", "big smile"),
             {"mouth_cornerPull": 0.8, "mouth_stretch": 0.3, "eye_cheekRaise": 0.5}),
    "half smile": (("half smile", "half-smile", "lopsided smile", "crooked smile", "one-sided smile"),
                   {"L_mouth_cornerPull": 0.5}),
    "smirk": (("smirk", "smirking", "smirks"), {"L_mouth_cornerPull": 0.4, "L_mouth_dimple": 0.3}),
    "frown": (("frown", "frowning", "frowns", "downturned mouth", "mouth corners down"), {"mouth_cornerDepress": 0.6}),
    "pressed lips": (("pressed lips", "lips pressed", "tight lips", "lips pressed together", "pursed lips"),
                     {"mouth_pressU": 0.6, "mouth_pressD": 0.6}),
    "stretched lips": (("stretched lips", "lips stretched"), {"mouth_stretch": 0.6}),
    "pouting": (("pouting", "pout", "pouts"), {"mouth_purseU": 0.4, "mouth_purseD": 0.4, "mouth_cornerDepress": 0.3}),
    "open mouth": (("open mouth", "mouth open", "mouth wide open", "gaping", "jaw dropped", "dropped jaw"),
                   {"jaw": 0.5}),
    "clenched jaw": (("clenched jaw", "jaw clenched", "clenched teeth"), {"jaw_clench": 0.6}),
}
# Words that sit between an action's words without changing it ("eyebrows are raised").
FILLER = frozenset("a an the her his their its my your our is are was were be being looking looks look "
                   "with and but while face expression".split())
WORD = re.compile(r"[a-z'\-]+")


def _phrases() -> list[tuple[tuple[str, ...], str]]:
    out = [(tuple(w for w in p.split() if w not in FILLER), action) for action, (ps, _) in ACTIONS.items() for p in ps]
    return sorted(out, key=lambda x: -len(x[0]))  # longest phrasing first: "half smile" before "smile"


_PHRASES = _phrases()


@dataclass(frozen=True)
class Description:
    """What a description was read as."""

    pose: np.ndarray  # (174,) float32, clamped to the valid ranges
    actions: tuple[str, ...]  # facial actions found, e.g. ("slightly raised eyebrows", "half smile")
    emotions: tuple[str, ...]  # emotion words found


def _rows(key: str) -> tuple[int, ...]:
    if key.startswith(("L_", "R_")):
        return (rig.controller_names().index(f"CTRL_{key}-translateY"),)
    return rows(key)


def vocabulary() -> str:
    return ", ".join(ACTIONS)


def read(text: str) -> Description:
    """A description -> Description; MedtalkError when no action or emotion word is in it."""
    words = [w for w in WORD.findall(text.lower()) if w not in FILLER]
    emotion_pose = np.zeros(rig.NUM_CONTROLS, np.float64)
    emotion_count = 0
    set_controls: dict[int, float] = {}
    actions: list[str] = []
    emotions: list[str] = []
    modifier, negated, i = 1.0, False, 0
    while i < len(words):
        word = words[i]
        if word in INTENSIFIERS:
            modifier *= INTENSIFIERS[word]
            i += 1
            continue
        if word in NEGATIONS or word.endswith("n't"):
            negated = True
            i += 1
            continue
        phrase = next(((p, a) for p, a in _PHRASES if tuple(words[i:i + len(p)]) == p), None)
        if phrase is not None:
            words_used, action = phrase
            scale = 0.0 if negated else min(modifier, MAX_STRENGTH)
            for key, value in ACTIONS[action][1].items():
                for r in _rows(key):
                    set_controls[r] = value * scale  # "not smiling" holds the smile controls at rest
            label = ("not " if negated else "") + " ".join(words_used)
            actions.append(label if modifier == 1.0 or negated else f"{_degree(modifier)} {label}")
            i += len(words_used)
        else:
            emotion = emotion_of(word)
            if emotion is not None and not negated:
                for key, value in POSES[emotion].items():
                    for r in rows(key):
                        emotion_pose[r] += POSE_GAIN * value * min(modifier, MAX_STRENGTH)
                emotion_count += 1
                emotions.append(word)
            elif emotion is not None:
                emotions.append(f"not {word}")  # a negated emotion word asks for no emotion: neutral
            i += 1
            if emotion is None:
                continue
        modifier, negated = 1.0, False  # a degree word or negation applies to the next action only
    if not actions and not emotions:
        raise MedtalkError(
            f"nothing in {text!r} describes a face; known facial actions: {vocabulary()} (with 'slightly', "
            "'very', 'not'), and emotion words such as 'happy', 'furious', 'tired'. For free descriptions "
            "configure a CLIP guidance backbone (backbones.guidance.name: open_clip)"
        )
    pose = emotion_pose / max(emotion_count, 1)
    for r, value in set_controls.items():
        pose[r] = value
    return Description(rig.clamp(pose.astype(np.float32)), tuple(actions), tuple(emotions))


def _degree(modifier: float) -> str:
    return "slightly" if modifier < 1.0 else "very"
