import numpy as np
import pytest
import torch

from medtalk_core import rig
from medtalk_core.errors import MedtalkError


def test_names_are_the_174_columns_with_duplicated_tongue_tip():
    names = rig.controller_names()
    assert len(names) == 174
    assert len(set(names)) == 172
    assert names[25] == names[27] == "CTRL_C_tongue_tip-translateX"
    assert names[26] == names[28] == "CTRL_C_tongue_tip-translateY"
    assert names[4] == "CTRL_C_jaw-translateY"


def test_s_int_names_the_expected_controllers():
    names = rig.controller_names()
    got = [names[i].removeprefix("CTRL_").split("-")[0] for i in rig.S_INT]
    expected = [f"{side}_{part}" for side in "LR" for part in
                ("brow_down", "brow_lateral", "brow_raiseIn", "brow_raiseOut")]
    expected += ["L_eye_blink", "L_eye_squintInner", "R_eye_blink", "R_eye_squintInner",
                 "L_mouth_cornerPull", "R_mouth_cornerPull"]
    assert got == expected


def test_index_sets_are_disjoint_where_they_must_be():
    lip, up, emo = set(rig.s_lip()), set(rig.s_up()), set(rig.s_emo())
    assert not lip & up
    assert up < emo
    names = rig.controller_names()
    assert all("jaw" in names[i] or "mouth" in names[i] or "teeth" in names[i] or "tongue" in names[i] for i in lip)
    assert all(any(k in names[i] for k in ("brow", "eye", "nose", "ear")) for i in up)
    assert 4 in lip and 36 in up and 53 in emo and 53 in lip


def test_real_sample_lies_in_valid_ranges(sample_rig):
    low, high = rig.valid_ranges()
    assert (sample_rig >= low).all() and (sample_rig <= high).all()
    # jaw open is one-sided, blink two-sided (negative = eyes wide)
    assert low[4] == 0.0 and low[36] == -1.0


def test_clamp_numpy_and_torch_agree():
    x = np.linspace(-3, 3, 174 * 2, dtype=np.float32).reshape(2, 174)
    clamped = rig.clamp(x)
    low, high = rig.valid_ranges()
    assert (clamped >= low).all() and (clamped <= high).all()
    np.testing.assert_array_equal(rig.clamp(torch.from_numpy(x)).numpy(), clamped)


def test_pseudo_intensity_matches_hand_computation(sample_rig):
    t = 17
    hand = 0.1 * sum(abs(float(sample_rig[t, i])) for i in
                     [29, 30, 31, 32, 98, 99, 100, 101, 36, 43, 105, 112, 53, 122])
    got = rig.pseudo_intensity(sample_rig)
    assert got.shape == (sample_rig.shape[0],)
    assert got[t] == pytest.approx(hand, rel=1e-5)
    batch = torch.from_numpy(np.stack([sample_rig, sample_rig]))
    assert torch.allclose(rig.pseudo_intensity(batch)[1], torch.from_numpy(got))


@pytest.mark.parametrize("label,expected", [("angry", 0), ("ANG", 0), ("disg", 1), ("dis", 1),
                                            ("fea", 2), ("Happy", 3), ("neu", 4), ("sad", 5),
                                            ("surp", 6), ("sur", 6), (6, 6), ("2", 2)])
def test_emotion_labels(label, expected):
    assert rig.emotion_id(label) == expected


@pytest.mark.parametrize("label", ["joy", "an", 7, "-1"])
def test_bad_emotion_label_is_a_clear_error(label):
    with pytest.raises(MedtalkError, match="emotion"):
        rig.emotion_id(label)
