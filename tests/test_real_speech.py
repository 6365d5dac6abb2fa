"""Real speech in: corpus readers, forced alignment on real recordings, pseudo-rigs, augmentation."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from medtalk_core.articulation_metrics import ArticulationTally, auc, closed_on
from medtalk_core.audio import FPS, SAMPLE_RATE, load_audio
from medtalk_core.data.align import ARPABET_TO_IPA, Aligner, AlignmentError, espeak_arpabet, normalise_transcript
from medtalk_core.data.corpora import read_corpus
from medtalk_core.data.pseudo_rig import CorpusOptions, generate_from_corpus, read_alignment, speaker_splits
from medtalk_core.data.rigmap import rows
from medtalk_core.errors import DatasetError
from medtalk_core.train.augment import AugmentConfig, augment, rng_for, shift_voice

UTTERANCES = {  # the five public-domain LibriVox utterances and their transcripts
    f"sense_and_sensibility_01_austen_64kb-{k}": None for k in ("0870", "0880", "0890", "0920", "0930")}


@pytest.fixture(scope="module")
def real_sample(real_speech_dir) -> dict[str, tuple[Path, str]]:
    return {name: (real_speech_dir / f"{name}.wav",
                   (real_speech_dir / f"{name}.txt").read_text(encoding="utf-8").strip())
            for name in UTTERANCES}


def _audio(path: Path, seconds: float | None = None) -> np.ndarray:
    audio = load_audio(path)
    return audio if seconds is None else audio[: int(seconds * SAMPLE_RATE)]


# --- corpus readers, each on a small tree of its own layout ----------------------------------------
def test_librispeech_tree(real_sample, tmp_path) -> None:
    (wav, text), (wav2, text2) = list(real_sample.values())[:2]
    chapter = tmp_path / "ls" / "103" / "1240"
    chapter.mkdir(parents=True)
    sf.write(chapter / "103-1240-0000.flac", _audio(wav, 1.0), SAMPLE_RATE)
    sf.write(chapter / "103-1240-0001.flac", _audio(wav2, 1.0), SAMPLE_RATE)
    (chapter / "103-1240.trans.txt").write_text(
        f"103-1240-0000 {text.upper()}\n103-1240-0001 {text2.upper()}\n103-1240-0002 NO AUDIO FOR ME\n")
    items = read_corpus(tmp_path / "ls", "librispeech")
    assert [i.name for i in items] == ["103-1240-0000", "103-1240-0001"]  # the line without audio is left out
    assert items[0].speaker == "103" and items[0].transcript == text.upper() and items[0].audio.suffix == ".flac"


def test_folder_tree_with_txt_and_lab(real_sample, tmp_path) -> None:
    (wav, text), (wav2, text2) = list(real_sample.values())[:2]
    spk = tmp_path / "arctic" / "cathy"
    spk.mkdir(parents=True)
    shutil.copy(wav, spk / "a0001.wav")
    (spk / "a0001.txt").write_text(text + "\n")
    shutil.copy(wav2, spk / "a0002.wav")
    (spk / "a0002.lab").write_text("  " + text2 + "\n\n")
    shutil.copy(wav2, spk / "orphan.wav")  # no transcript: not an utterance
    items = read_corpus(tmp_path / "arctic", "folder")
    assert [(i.name, i.speaker, i.transcript) for i in items] == [("a0001", "cathy", text), ("a0002", "cathy", text2)]


def test_an4_transcription_list(real_sample, tmp_path) -> None:
    (wav, _), = list(real_sample.values())[:1]
    root = tmp_path / "an4"
    (root / "etc").mkdir(parents=True)
    (root / "wav" / "an4_clstk" / "fash").mkdir(parents=True)
    audio = (_audio(wav, 1.0) * 32767).astype(np.int16)
    sf.write(root / "wav" / "an4_clstk" / "fash" / "an251-fash-b.sph", audio, SAMPLE_RATE, format="NIST",
             subtype="PCM_16")
    (root / "etc" / "an4_train.transcription").write_text(
        "<s> YES </s> (an251-fash-b)\n<s> GO </s> (an253-fash-b)\n\nENTER SIX (cen1-mblb-b)\n")
    items = read_corpus(root, "an4")
    assert [(i.name, i.speaker, i.transcript) for i in items] == [("an251-fash-b", "fash", "YES")]
    assert load_audio(items[0].audio).shape[0] == SAMPLE_RATE  # SPHERE reads through libsndfile


def test_reader_errors(tmp_path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_corpus(tmp_path / "missing", "folder")
    with pytest.raises(DatasetError, match="no utterances"):
        read_corpus(tmp_path, "librispeech")
    with pytest.raises(DatasetError, match="unknown corpus layout"):
        read_corpus(tmp_path, "timit")  # type: ignore[arg-type]


# --- the aligner on real speech -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def aligner() -> Aligner:
    return Aligner()


def test_aligner_returns_the_transcripts_phones_in_order_inside_the_audio(real_sample, aligner) -> None:
    from pocketsphinx import Decoder

    lexicon = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    for name, (wav, text) in real_sample.items():
        audio = _audio(wav)
        al = aligner.align(audio, text)
        duration = len(audio) / SAMPLE_RATE
        assert [w.text for w in al.words] == normalise_transcript(text), name
        spoken = [p for p in al.phones if p.name != "SIL"]
        # every word's phones, in order: one of the word's dictionary pronunciations
        for word in al.words:
            inside = [p.name for p in spoken if word.start - 1e-6 <= p.start and p.end <= word.end + 1e-6]
            variants = [lexicon.lookup_word(word.text)] + [lexicon.lookup_word(f"{word.text}({k})") for k in (2, 3, 4)]
            assert " ".join(inside) in [v for v in variants if v], (name, word.text, inside)
        starts = [p.start for p in al.phones]
        assert starts == sorted(starts) and al.phones[0].start >= 0 and al.phones[-1].end <= duration + 0.011
        assert all(p.end > p.start for p in al.phones)
        assert al.score > -25


def test_a_wrong_transcript_is_rejected(real_sample, aligner) -> None:
    wav, _ = real_sample["sense_and_sensibility_01_austen_64kb-0880"]
    with pytest.raises(AlignmentError):
        aligner.align(_audio(wav), "the quick brown fox jumps over the lazy dog again and again today")


def test_words_missing_from_the_dictionary_are_spelled_by_espeak(real_sample) -> None:
    phones = espeak_arpabet("zorblax")
    assert phones.split() and all(p in ARPABET_TO_IPA for p in phones.split())
    wav, text = real_sample["sense_and_sensibility_01_austen_64kb-0880"]
    al = Aligner().align(_audio(wav), text.replace("disposed", "dizposed"))  # not in CMUdict
    assert [w.text for w in al.words][5] == "dizposed"


# --- pseudo-rigs -----------------------------------------------------------------------------------------
def test_pseudo_rig_closes_the_lips_on_the_aligned_bilabials(real_sample, tmp_path) -> None:
    corpus = tmp_path / "corpus" / "reader"
    corpus.mkdir(parents=True)
    for name, (wav, text) in real_sample.items():
        shutil.copy(wav, corpus / f"{name}.wav")
        (corpus / f"{name}.txt").write_text(text)
    out = tmp_path / "pseudo"
    summary = generate_from_corpus(tmp_path / "corpus", out, CorpusOptions(layout="folder", workers=1))
    assert summary.kept == 5 and not summary.skipped
    manifest = list(csv.DictReader(open(out / "manifest.csv")))
    assert {r["split"] for r in manifest} == {"train"} and {r["emotion"] for r in manifest} == {"neutral"}
    tally = ArticulationTally()
    together = rows("mouth_lipsTogetherD")[0]
    for row in manifest:
        rig = np.loadtxt(out / "CTR" / f"{row['name']}.txt", delimiter=",")
        assert rig.shape[0] == int(load_audio(out / "WAV" / f"{row['name']}.wav").shape[0] * FPS / SAMPLE_RATE)
        al = read_alignment(out / "ALIGN" / f"{row['name']}.tsv")
        tally.add(rig, al.phones)
        # the closure falls on the bilabial itself, and the lips are open again mid-vowel
        for p in al.bilabials():
            a, b = int(p.start * FPS), max(int(p.end * FPS), int(p.start * FPS) + 1)
            assert rig[a:b, together].max() > 0.5, (row["name"], p)
        vowels = [p for p in al.phones if p.name in ("AA", "AE", "AH", "AO", "EH", "IY", "OW")]
        mid = [int(0.5 * (p.start + p.end) * FPS) for p in vowels]
        assert np.median(rig[mid, together]) < 0.1, row["name"]
    assert tally.bilabials >= 20 and tally.closure_rate == 1.0
    assert tally.open_close_auc > 0.9 and tally.round_spread_auc > 0.9
    # a second run reuses the alignments and writes the same rigs
    first = (out / "CTR" / f"{manifest[0]['name']}.txt").read_text()
    generate_from_corpus(tmp_path / "corpus", out, CorpusOptions(layout="folder", workers=1))
    assert (out / "CTR" / f"{manifest[0]['name']}.txt").read_text() == first


def test_speakers_are_held_out_whole() -> None:
    speakers = [f"s{k}" for k in range(20)]
    splits = speaker_splits(speakers * 3, seed=0, val_fraction=0.1, test_fraction=0.1)
    assert sorted(splits) == sorted(speakers)
    assert sum(v == "test" for v in splits.values()) == 2 and sum(v == "val" for v in splits.values()) == 2
    assert speaker_splits(["one"], 0, 0.1, 0.1) == {"one": "train"}


# --- augmentation ---------------------------------------------------------------------------------------
def test_augmentation_keeps_length_and_is_seed_deterministic(real_sample) -> None:
    wav, _ = real_sample["sense_and_sensibility_01_austen_64kb-0880"]
    audio = _audio(wav)
    pool = [_audio(p) for p, _ in real_sample.values()]
    cfg = AugmentConfig(copies=2, noise_prob=1.0, reverb_prob=1.0, band_prob=1.0, shift_prob=1.0)
    outs = [augment(audio, cfg, rng_for(0, "clip", k), pool) for k in range(6)]
    for out in outs:
        assert out.shape == audio.shape and out.dtype == np.float32 and np.isfinite(out).all()
        assert np.abs(out).max() <= 1.0
    again = augment(audio, cfg, rng_for(0, "clip", 3), pool)
    assert np.array_equal(again, outs[3])
    assert not np.array_equal(outs[0], outs[1])  # copies differ
    assert not np.array_equal(augment(audio, cfg, rng_for(1, "clip", 3), pool), outs[3])  # seeds differ


def test_voice_shift_moves_pitch_and_keeps_time() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    up = shift_voice(tone, 2.0)
    assert up.shape == tone.shape
    spectrum = np.abs(np.fft.rfft(up[2000:-2000]))
    freq = np.argmax(spectrum) * SAMPLE_RATE / len(up[2000:-2000])
    assert abs(freq - 200 * 2 ** (2 / 12)) < 4


def test_closure_and_auc_scores_can_fail() -> None:
    from medtalk_core.data.align import Phone

    rig = np.zeros((120, 174), np.float32)
    jaw = rows("jaw-translateY")[0]
    rig[:, jaw] = 0.4  # an open mouth that never closes
    m = Phone("M", 0.8, 0.9)
    assert not closed_on(rig, m)
    rig[48:54, list(rows("mouth_lipsTogetherD"))] = 0.6
    assert closed_on(rig, m)
    assert auc([1, 2, 3], [0, 0.5]) == 1.0 and auc([0], [1]) == 0.0 and auc([1], [1]) == 0.5
    assert np.isnan(auc([], [1]))


def test_level_split_front_end_moves_one_column_with_gain(real_sample) -> None:
    from medtalk_core.backbones.logmel import LogMel

    wav, _ = real_sample["sense_and_sensibility_01_austen_64kb-0880"]
    audio = _audio(wav)
    front = LogMel(level_split=True)
    quiet, loud = front.features(audio * 0.25).numpy(), front.features(audio).numpy()  # 12 dB apart
    assert quiet.shape == (num_frames_of(audio), 81)
    speech = loud[:, -1] > np.percentile(loud[:, -1], 50)  # the louder half of the frames
    # without the split, all 80 columns move with the gain (12 dB = 0.30 in these units) ...
    plain = LogMel().features(audio).numpy()
    plain_change = np.median(np.abs(plain - LogMel().features(audio * 0.25).numpy())[speech])
    assert plain_change > 0.25
    # ... with it, the level column takes the change and the shape barely moves (only quiet
    # high bands that the log floor clips shift the frame mean a little)
    level_change = loud[speech, -1] - quiet[speech, -1]
    assert abs(np.median(level_change) - np.log10(16) / 4) < 0.03
    assert np.median(np.abs(quiet[speech, :-1] - loud[speech, :-1])) < 0.1 * plain_change


def num_frames_of(audio: np.ndarray) -> int:
    from medtalk_core.audio import num_frames

    return num_frames(len(audio))


def test_training_reads_several_dataset_folders(tmp_path) -> None:
    from medtalk_core.data.emoface import EmoFaceDataset

    def write_set(root: Path, names: list[str]) -> None:
        for sub in ("WAV", "CTR"):
            (root / sub).mkdir(parents=True)
        for name in names:
            sf.write(root / "WAV" / f"{name}.wav", np.zeros(1600, np.float32), SAMPLE_RATE)
            np.savetxt(root / "CTR" / f"{name}.txt", np.zeros((6, 174)), delimiter=",")

    write_set(tmp_path / "synth", ["happy_s0001_v0", "sad_s0001_v0"])
    write_set(tmp_path / "real", ["neutral_ls_1-2-3"])
    data = EmoFaceDataset([tmp_path / "synth", tmp_path / "real"])
    assert [c.name for c in data.clips] == ["happy_s0001_v0", "sad_s0001_v0", "neutral_ls_1-2-3"]
    assert data.clips[2].root == tmp_path / "real"
    write_set(tmp_path / "again", ["sad_s0001_v0"])
    with pytest.raises(DatasetError, match="repeat"):
        EmoFaceDataset([tmp_path / "synth", tmp_path / "again"])
