"""MetaHuman `CTRL_expressions_*` curves derived from the 174 face-board controls.

A MetaHuman face is driven by RigLogic, which reads the `CTRL_expressions_*` animation
curves; the face-board controls (`CTRL_L_mouth_cornerPull` ...) are Control Rig handles that
the board's own logic turns into those curves. Live Link curves from our plugin reach the
face Anim Blueprint as animation curves, so the `expressions` curve set is what moves a stock
face; the `board` set is for a Control Rig of your own that reads the controls.

The rule (MetaHuman naming, checked against published curve lists of the MetaHuman face):
- Control `CTRL_<side>_<region>_<action>` becomes `CTRL_expressions_<region><Action><side>`,
  side `L`/`R` as a suffix, centre controls (`C`) without one:
  `CTRL_L_mouth_cornerPull.ty -> CTRL_expressions_mouthCornerPullL`.
- One-sided sliders in [0, 1] map one to one.
- Two-sided controls in [-1, 1] split into two curves in [0, 1]: the positive half and the
  negative half of the value (`CTRL_L_eye_blink.ty`: + -> eyeBlinkL, - -> eyeWidenL).
  Signs: +translateX is the character's left, +translateY is up; a control named after two
  directions (`fwdBack`, `inOut`, `narrowWide`, `exhaleInhale`) has its first word on the
  negative side (`jaw_fwdBack`: - -> jawFwd, + -> jawBack), as the MetaHuman teeth and jaw
  controls do.
- Several names are irregular on the MetaHuman face (`brow_raiseOut -> browRaiseOuter`,
  `mouth_purseU -> mouthLipsPurseUL`, `mouth_lipBiteD -> mouthLowerLipBiteL`, ...): the table
  below spells every mapping out, so nothing is inferred at run time.
- `CTRL_C_eye` (both eyes) adds to each eye's own gaze curves; sums are clipped to [0, 1].

Not mapped, on purpose: `CTRL_C_neck_swallow` and `CTRL_*_mouth_lipSticky` (they drive
phased curves, `neckSwallowPh1..4` / `mouthLipsSticky*Ph1..3`, through board logic we do not
reproduce), the second `CTRL_C_tongue_tip` pair of the 174-column layout (a duplicate name;
which control it really holds is not documented), `CTRL_lookAtSwitch` and the
`neckCorrectivesMultiplyer*` controls (rig switches, not expressions), and the negative half
of `eye_eyelidU` (MetaHuman has no upper-lid-down curve; blink covers it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .rig import NUM_CONTROLS, controller_names

PREFIX = "CTRL_expressions_"

# Sided controls: board part (without CTRL_<side>_) and channel -> (positive curve, negative
# curve or None), curve stems without the side suffix, which is appended for L and R.
_SIDED: dict[tuple[str, str], tuple[str, str | None]] = {
    ("brow_down", "Y"): ("browDown", None),
    ("brow_lateral", "Y"): ("browLateral", None),
    ("brow_raiseIn", "Y"): ("browRaiseIn", None),
    ("brow_raiseOut", "Y"): ("browRaiseOuter", None),
    ("ear_up", "Y"): ("earUp", None),
    ("eye", "X"): ("eyeLookLeft", "eyeLookRight"),
    ("eye", "Y"): ("eyeLookUp", "eyeLookDown"),
    ("eye_blink", "Y"): ("eyeBlink", "eyeWiden"),
    ("eye_cheekRaise", "Y"): ("eyeCheekRaise", None),
    ("eye_eyelidD", "Y"): ("eyeLowerLidUp", "eyeLowerLidDown"),
    ("eye_eyelidU", "Y"): ("eyeUpperLidUp", None),
    ("eye_faceScrunch", "Y"): ("eyeFaceScrunch", None),
    ("eye_lidPress", "Y"): ("eyeLidPress", None),
    ("eye_pupil", "Y"): ("eyePupilWide", "eyePupilNarrow"),
    ("eye_squintInner", "Y"): ("eyeSquintInner", None),
    ("eyelashes_tweakerIn", "Y"): ("eyelashesUpIN", "eyelashesDownIN"),
    ("eyelashes_tweakerOut", "Y"): ("eyelashesUpOUT", "eyelashesDownOUT"),
    ("jaw_ChinRaiseD", "Y"): ("jawChinRaiseD", None),
    ("jaw_ChinRaiseU", "Y"): ("jawChinRaiseU", None),
    ("jaw_chinCompress", "Y"): ("jawChinCompress", None),
    ("jaw_clench", "Y"): ("jawClench", None),
    ("mouth_corner", "X"): ("mouthCornerWide", "mouthCornerNarrow"),
    ("mouth_corner", "Y"): ("mouthCornerUp", "mouthCornerDown"),
    ("mouth_cornerDepress", "Y"): ("mouthCornerDepress", None),
    ("mouth_cornerPull", "Y"): ("mouthCornerPull", None),
    ("mouth_cornerSharpnessD", "Y"): ("mouthCornerSharpenD", "mouthCornerRounderD"),
    ("mouth_cornerSharpnessU", "Y"): ("mouthCornerSharpenU", "mouthCornerRounderU"),
    ("mouth_dimple", "Y"): ("mouthDimple", None),
    ("mouth_funnelD", "Y"): ("mouthFunnelD", None),
    ("mouth_funnelU", "Y"): ("mouthFunnelU", None),
    ("mouth_lipBiteD", "Y"): ("mouthLowerLipBite", None),
    ("mouth_lipBiteU", "Y"): ("mouthUpperLipBite", None),
    ("mouth_lipsBlow", "Y"): ("mouthLipsBlow", None),
    ("mouth_lipsPressU", "Y"): ("mouthLipsPress", None),
    ("mouth_lipsRollD", "Y"): ("mouthLowerLipRollIn", "mouthLowerLipRollOut"),
    ("mouth_lipsRollU", "Y"): ("mouthUpperLipRollIn", "mouthUpperLipRollOut"),
    ("mouth_lipsTogetherD", "Y"): ("mouthLipsTogetherD", None),
    ("mouth_lipsTogetherU", "Y"): ("mouthLipsTogetherU", None),
    ("mouth_lipsTowardsTeethD", "Y"): ("mouthLowerLipTowardsTeeth", None),
    ("mouth_lipsTowardsTeethU", "Y"): ("mouthUpperLipTowardsTeeth", None),
    ("mouth_lowerLipDepress", "Y"): ("mouthLowerLipDepress", None),
    ("mouth_pressD", "Y"): ("mouthPressD", None),
    ("mouth_pressU", "Y"): ("mouthPressU", None),
    ("mouth_purseD", "Y"): ("mouthLipsPurseD", None),
    ("mouth_purseU", "Y"): ("mouthLipsPurseU", None),
    ("mouth_pushPullD", "Y"): ("mouthLipsPushD", "mouthLipsPullD"),
    ("mouth_pushPullU", "Y"): ("mouthLipsPushU", "mouthLipsPullU"),
    ("mouth_sharpCornerPull", "Y"): ("mouthSharpCornerPull", None),
    ("mouth_stickyInnerD", "Y"): ("mouthStickyDIN", None),
    ("mouth_stickyInnerU", "Y"): ("mouthStickyUIN", None),
    ("mouth_stickyOuterD", "Y"): ("mouthStickyDOUT", None),
    ("mouth_stickyOuterU", "Y"): ("mouthStickyUOUT", None),
    ("mouth_stretch", "Y"): ("mouthStretch", None),
    ("mouth_stretchLipsClose", "Y"): ("mouthStretchLipsClose", None),
    ("mouth_suckBlow", "Y"): ("mouthCheekBlow", "mouthCheekSuck"),
    ("mouth_thicknessD", "Y"): ("mouthLipsThickD", "mouthLipsThinD"),
    ("mouth_thicknessU", "Y"): ("mouthLipsThickU", "mouthLipsThinU"),
    ("mouth_tightenD", "Y"): ("mouthLipsTightenD", None),
    ("mouth_tightenU", "Y"): ("mouthLipsTightenU", None),
    ("mouth_towardsD", "Y"): ("mouthLipsTowardsD", None),
    ("mouth_towardsU", "Y"): ("mouthLipsTowardsU", None),
    ("mouth_upperLipRaise", "Y"): ("mouthUpperLipRaise", None),
    ("neck_mastoidContract", "Y"): ("neckMastoidContract", None),
    ("neck_stretch", "Y"): ("neckStretch", None),
    ("nose", "X"): ("noseNostrilDilate", "noseNostrilCompress"),
    ("nose", "Y"): ("noseWrinkle", "noseNostrilDepress"),
    ("nose_nasolabialDeepen", "Y"): ("noseNasolabialDeepen", None),
    ("nose_wrinkleUpper", "Y"): ("noseWrinkleUpper", None),
}

# Centre and unsided controls: full board name -> (positive curve, negative curve or None),
# full curve stems (no side suffix).
_CENTRE: dict[str, tuple[str, str | None]] = {
    "CTRL_C_eye_parallelLook-translateY": ("eyeParallelLookDirection", None),
    "CTRL_C_jaw-translateX": ("jawLeft", "jawRight"),
    "CTRL_C_jaw-translateY": ("jawOpen", None),
    "CTRL_C_jaw_fwdBack-translateY": ("jawBack", "jawFwd"),
    "CTRL_C_jaw_openExtreme-translateY": ("jawOpenExtreme", None),
    "CTRL_C_mouth-translateX": ("mouthLeft", "mouthRight"),
    "CTRL_C_mouth-translateY": ("mouthUp", "mouthDown"),
    "CTRL_C_mouth_lipShiftD-translateY": ("mouthLowerLipShiftLeft", "mouthLowerLipShiftRight"),
    "CTRL_C_mouth_lipShiftU-translateY": ("mouthUpperLipShiftLeft", "mouthUpperLipShiftRight"),
    "CTRL_C_mouth_stickyD-translateY": ("mouthStickyDC", None),
    "CTRL_C_mouth_stickyU-translateY": ("mouthStickyUC", None),
    "CTRL_C_teethD-translateX": ("teethLeftD", "teethRightD"),
    "CTRL_C_teethD-translateY": ("teethUpD", "teethDownD"),
    "CTRL_C_teethU-translateX": ("teethLeftU", "teethRightU"),
    "CTRL_C_teethU-translateY": ("teethUpU", "teethDownU"),
    "CTRL_C_teeth_fwdBackD-translateY": ("teethBackD", "teethFwdD"),
    "CTRL_C_teeth_fwdBackU-translateY": ("teethBackU", "teethFwdU"),
    "CTRL_C_tongue-translateX": ("tongueLeft", "tongueRight"),
    "CTRL_C_tongue-translateY": ("tongueUp", "tongueDown"),
    "CTRL_C_tongue_inOut-translateY": ("tongueOut", "tongueIn"),
    "CTRL_C_tongue_narrowWide-translateY": ("tongueWide", "tongueNarrow"),
    "CTRL_C_tongue_press-translateY": ("tonguePress", None),
    "CTRL_C_tongue_tip-translateX": ("tongueTipLeft", "tongueTipRight"),
    "CTRL_C_tongue_tip-translateY": ("tongueTipUp", "tongueTipDown"),
    "CTRL_neck_digastricUpDown-translateY": ("neckDigastricUp", "neckDigastricDown"),
    "CTRL_neck_throatExhaleInhale-translateY": ("neckThroatInhale", "neckThroatExhale"),
    "CTRL_neck_throatUpDown-translateY": ("neckThroatUp", "neckThroatDown"),
}

# Board controls deliberately left out (see the module docstring for why).
UNMAPPED: frozenset[str] = frozenset({
    "CTRL_C_neck_swallow-translateY",
    "CTRL_L_mouth_lipSticky-translateY",
    "CTRL_R_mouth_lipSticky-translateY",
    "CTRL_lookAtSwitch-translateY",
    "CTRL_neckCorrectivesMultiplyerD-translateY",
    "CTRL_neckCorrectivesMultiplyerM-translateY",
    "CTRL_neckCorrectivesMultiplyerU-translateY",
})


def _sided_key(name: str) -> tuple[str, str, str] | None:
    """'CTRL_L_mouth_cornerPull-translateY' -> ('L', 'mouth_cornerPull', 'Y')."""
    control, _, channel = name.partition("-translate")
    body = control.removeprefix("CTRL_")
    if body[:2] in ("L_", "R_"):
        return body[0], body[2:], channel
    return None


@lru_cache(maxsize=1)
def derivation() -> tuple[tuple[int, float, str], ...]:
    """Every contribution as (board column, sign, curve name): curve += max(sign * value, 0)."""
    entries: list[tuple[int, float, str]] = []
    seen: set[str] = set()
    for column, name in enumerate(controller_names()):
        if name in seen:  # the duplicated tongue_tip pair: map the first copy only
            continue
        seen.add(name)
        if name in UNMAPPED:
            continue
        sided = _sided_key(name)
        if sided is not None:
            side, part, channel = sided
            positive, negative = _SIDED[(part, channel)]
            suffixes = [side]
        elif name.startswith("CTRL_C_eye-translate"):
            # Both-eyes gaze: feeds the gaze curves of each eye.
            positive, negative = _SIDED[("eye", name[-1])]
            suffixes = ["L", "R"]
        else:
            positive, negative = _CENTRE[name]
            suffixes = [""]
        for suffix in suffixes:
            entries.append((column, 1.0, PREFIX + positive + suffix))
            if negative is not None:
                entries.append((column, -1.0, PREFIX + negative + suffix))
    return tuple(entries)


@lru_cache(maxsize=1)
def expression_names() -> tuple[str, ...]:
    """The derived curve names, in first-appearance order of the board columns."""
    return tuple(dict.fromkeys(curve for _, _, curve in derivation()))


@lru_cache(maxsize=1)
def _gather() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {name: i for i, name in enumerate(expression_names())}
    columns = np.array([c for c, _, _ in derivation()], dtype=np.int64)
    signs = np.array([s for _, s, _ in derivation()], dtype=np.float32)
    targets = np.array([index[t] for _, _, t in derivation()], dtype=np.int64)
    return columns, signs, targets


def board_to_expressions(rig: np.ndarray) -> np.ndarray:
    """(..., 174) board values -> (..., len(expression_names())) float32 curves in [0, 1]."""
    rig = np.asarray(rig, dtype=np.float32)
    if rig.shape[-1] != NUM_CONTROLS:
        raise ValueError(f"expected (..., {NUM_CONTROLS}) board values, got shape {rig.shape}")
    columns, signs, targets = _gather()
    parts = np.maximum(rig[..., columns] * signs, 0.0)  # (..., n_entries)
    out = np.zeros(rig.shape[:-1] + (len(expression_names()),), dtype=np.float32)
    # Move the curve axis first so one unbuffered add covers every leading shape.
    np.add.at(np.moveaxis(out, -1, 0), targets, np.moveaxis(parts, -1, 0))
    return np.clip(out, 0.0, 1.0)
