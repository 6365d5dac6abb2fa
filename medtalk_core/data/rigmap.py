"""Short controller keys for the procedural animator, and the articulatory subset of S_lip.

A key names a control without its `CTRL_` prefix and side: "jaw-translateY" is
CTRL_C_jaw-translateY; "mouth_purseD" is the left and right CTRL_*_mouth_purseD-translateY
(a key without "-attr" means translateY). The duplicated tongue_tip rows resolve to the second
copy, the one the real sample moves (rows 27-28; rows 25-26 stay near zero there).
"""

from __future__ import annotations

from functools import lru_cache

from .. import rig


@lru_cache(maxsize=None)
def rows(key: str) -> tuple[int, ...]:
    """Rig rows named by `key` (one centre control, or a left/right pair)."""
    control, _, attr = key.partition("-")
    attr = attr or "translateY"
    found: dict[str, int] = {}
    for i, name in enumerate(rig.controller_names()):
        for side in ("C", "L", "R"):
            if name == f"CTRL_{side}_{control}-{attr}":
                found[name] = i  # later duplicates overwrite earlier ones on purpose
        if name == f"CTRL_{control}-{attr}":
            found[name] = i
    if not found:
        raise KeyError(f"no rig controller matches {key!r}")
    return tuple(sorted(found.values()))


@lru_cache(maxsize=1)
def articulatory_rows() -> tuple[int, ...]:
    """S_lip minus S_emo: the controls that only articulate (jaw, lips, teeth, tongue).

    rig.s_lip() also holds the mouth controls that carry emotion (corner pull and depress,
    dimple, stretch, upper-lip raise: they are in S_emo too). The generator keeps this subset
    frame-identical across the seven renditions of a sentence and lets emotion move the rest.
    """
    emo = set(rig.s_emo())
    return tuple(i for i in rig.s_lip() if i not in emo)
