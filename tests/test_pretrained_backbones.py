"""Pretrained backbone adapters, offline: tiny randomly initialised models are saved to temp
folders in the real on-disk layouts and loaded through the same code path as real weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medtalk_core.audio import num_frames
from medtalk_core.backbones import BackboneSpec, build_backbone
from medtalk_core.backbones.base import AudioFeatureBackbone, GuidanceBackbone, TextBackbone, Transcriber, Transcript
from medtalk_core.backbones.pretrained import (BertSettings, BertText, Emotion2vecEmotion, Emotion2vecSettings,
                                               FasterWhisperSettings, FasterWhisperTranscriber, HfClipGuidance,
                                               HfClipSettings, LoadOptions, OpenClipGuidance, OpenClipSettings,
                                               Wav2Vec2Content, Wav2Vec2Settings)
from medtalk_core.backbones.pretrained.loading import to_time_frames
from medtalk_core.errors import ConfigError, MedtalkError, MissingModelError
from tiny_emotion2vec import write_tiny_emotion2vec

transformers = pytest.importorskip("transformers")
CPU = LoadOptions(device="cpu")
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "a", "tired", "smile", "happy", "sad",
         "face", "the", "quick", "brown", "fox", "angry", "look", ","]


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def face_image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)


def _model_folder(factory: pytest.TempPathFactory, name: str, words: bool = False) -> Path:
    """A new folder for a random tiny model, torch seeded so every run builds the same weights;
    `words`: with a BERT tokenizer whose vocabulary is WORDS (BERT's and CLIP's text side)."""
    torch.manual_seed(0)
    path = factory.mktemp(name)
    if words:
        (path / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
        transformers.BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def wav2vec2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _model_folder(tmp_path_factory, "wav2vec2")
    cfg = transformers.Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    transformers.Wav2Vec2Model(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _model_folder(tmp_path_factory, "bert", words=True)
    cfg = transformers.BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64)
    transformers.BertModel(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def hf_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _model_folder(tmp_path_factory, "hf_clip", words=True)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    cfg = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=WORDS.index("[SEP]"),
                         pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=16),
        projection_dim=16)
    transformers.CLIPModel(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def open_clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    open_clip = pytest.importorskip("open_clip")
    path = tmp_path_factory.mktemp("open_clip")
    arch = path / "tiny-clip-test.json"
    arch.write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    }))
    open_clip.add_model_config(arch)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip-test", pretrained=None)
    weights = path / "tiny_clip.pt"
    torch.save(model.state_dict(), weights)
    return arch, weights


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Whisper (English-only vocabulary) converted to CTranslate2, as faster-whisper loads."""
    pytest.importorskip("ctranslate2")
    pytest.importorskip("faster_whisper")
    from medtalk_core.backbones.pretrained.random_whisper import build_random_whisper

    torch.manual_seed(0)
    _, out = build_random_whisper(tmp_path_factory.mktemp("whisper"),
                                  "hello world the quick brown fox jumps over the lazy dog")
    return out


# --- shared helpers ------------------------------------------------------------------------
def test_to_time_frames_keeps_endpoints_and_linear_ramps() -> None:
    ramp = torch.linspace(0, 1, 50)[:, None].repeat(1, 3)  # (50, 3): 1 s at 50 Hz
    out = to_time_frames(ramp, 60)
    assert out.shape == (60, 3)
    assert torch.allclose(out[0], ramp[0]) and torch.allclose(out[-1], ramp[-1])  # align_corners=True
    assert torch.allclose(out[:, 0], torch.linspace(0, 1, 60), atol=1e-6)
    assert to_time_frames(ramp, 0).shape == (0, 3)
    assert torch.equal(to_time_frames(ramp[:1], 4), ramp[:1].repeat(4, 1))


# --- wav2vec2 ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["release", "last"])
def test_wav2vec2_frames_shape_and_determinism(wav2vec2_dir: Path, mode: str) -> None:
    backbone = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir), mode=mode), CPU)
    assert isinstance(backbone, AudioFeatureBackbone) and backbone.dim == 32
    for n in (16000, 12345, 300):
        feats = backbone.features(noise(n))
        assert feats.shape == (num_frames(n), 32) and feats.dtype == torch.float32
        assert torch.isfinite(feats).all()
    again = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir), mode=mode), CPU).features(noise(16000))
    assert torch.equal(backbone.features(noise(16000)), again)
    clips = [noise(16000, 1), noise(8000, 2), noise(16000, 3)]
    batched = backbone.features_batch(clips)
    for clip, feats in zip(clips, batched):
        assert torch.allclose(feats, backbone.features(clip), atol=1e-5)


def test_wav2vec2_release_mode_is_first_encoder_hidden_state(wav2vec2_dir: Path) -> None:
    """The release interpolates conv features to T, then takes encoder hidden_states[0]."""
    audio = noise(16000)
    feats = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir), mode="release"), CPU).features(audio)
    model = transformers.Wav2Vec2Model.from_pretrained(wav2vec2_dir).eval()
    x = torch.from_numpy((audio - audio.mean()) / np.sqrt(audio.var() + 1e-7))[None]
    with torch.no_grad():
        conv = model.feature_extractor(x)  # (1, C, F)
        conv = torch.nn.functional.interpolate(conv, size=num_frames(len(audio)), mode="linear", align_corners=True)
        proj, _ = model.feature_projection(conv.transpose(1, 2))
        seen: list[torch.Tensor] = []  # hidden_states[0] is what the first transformer layer receives
        hook = model.encoder.layers[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        model.encoder(proj)
        hook.remove()
        first = seen[0][0]
    assert torch.allclose(feats, first, atol=1e-5)
    last = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir), mode="last"), CPU).features(audio)
    assert not torch.allclose(feats, last, atol=1e-3)


def test_wav2vec2_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    backbone = Wav2Vec2Content(options=LoadOptions(device="cpu", cache_dir=str(tmp_path)))
    with pytest.raises(MissingModelError) as info:
        backbone.features(noise(16000))
    message = str(info.value)
    assert "facebook/wav2vec2-base-960h" in message and str(tmp_path) in message
    assert "backbones.audio_content.model" in message and "downloads are off" in message
    with pytest.raises(MissingModelError, match="does not exist"):
        Wav2Vec2Content(Wav2Vec2Settings(model=str(tmp_path / "nowhere")), CPU).load()


def test_registry_builds_pretrained_backbones_from_specs(wav2vec2_dir: Path, bert_dir: Path) -> None:
    content = build_backbone("audio_content", BackboneSpec("wav2vec2", path=str(wav2vec2_dir),
                                                           options={"mode": "last", "device": "cpu"}))
    assert isinstance(content, Wav2Vec2Content) and content.settings.mode == "last"
    assert content.features(noise(4000)).shape == (num_frames(4000), 32)
    text = build_backbone("text", BackboneSpec("bert", path=str(bert_dir), options={"max_tokens": 16}))
    assert isinstance(text, BertText) and text.dim == 32
    with pytest.raises(ConfigError, match="backbones.audio_content.options.moed"):
        build_backbone("audio_content", BackboneSpec("wav2vec2", options={"moed": "last"}))
    with pytest.raises(ConfigError, match="fp16"):
        build_backbone("audio_content", BackboneSpec("wav2vec2", options={"fp16": "yes"}))


# --- BERT / RoBERTa ------------------------------------------------------------------------
def test_bert_token_features_and_padding_does_not_leak(bert_dir: Path) -> None:
    backbone = BertText(BertSettings(model=str(bert_dir)), CPU)
    assert isinstance(backbone, TextBackbone)
    one = backbone.features("hello world")
    assert one.shape == (4, 32)  # [CLS] hello world [SEP]
    long_text = "the quick brown fox , a tired smile"
    batch = backbone.features_batch(["hello world", long_text, ""])
    assert [b.shape[0] for b in batch] == [4, 10, 2]
    assert torch.allclose(batch[0], one, atol=1e-5)
    assert torch.allclose(batch[1], backbone.features(long_text), atol=1e-5)
    assert torch.equal(BertText(BertSettings(model=str(bert_dir)), CPU).features("hello world"), one)
    assert backbone.features(" ".join(["smile"] * 100)).shape[0] == 64  # truncated to the position limit
    assert BertText(BertSettings(model=str(bert_dir), max_tokens=8), CPU).features(long_text).shape[0] == 8


def test_bert_release_tokens_are_cls_unk_sep_whatever_the_words(bert_dir: Path) -> None:
    """The release calls encode_plus(text=[text]): a list reads as pre-split tokens, so the whole
    transcript is one token, [UNK] unless it is a single vocabulary entry."""
    quirk = BertText(BertSettings(model=str(bert_dir), release_tokens=True), CPU)
    words = BertText(BertSettings(model=str(bert_dir)), CPU)
    unk = words.features("[UNK]")  # the tokenizer reads its own special token: [CLS] [UNK] [SEP]
    for text in ("hello world", "the quick brown fox", ""):
        assert torch.allclose(quirk.features(text), unk, atol=1e-6)
    assert torch.allclose(quirk.features("smile"), words.features("smile"), atol=1e-6)  # one vocabulary entry
    tokenizer = transformers.BertTokenizer(vocab_file=str(bert_dir / "vocab.txt"))
    ids = [tokenizer.cls_token_id, tokenizer.convert_tokens_to_ids("hello world"), tokenizer.sep_token_id]
    assert ids == [WORDS.index("[CLS]"), WORDS.index("[UNK]"), WORDS.index("[SEP]")]


def test_bert_missing_model(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match="hfl/chinese-roberta-wwm-ext.*backbones.text.model"):
        BertText(options=LoadOptions(device="cpu", cache_dir=str(tmp_path))).features("hello")


# --- CLIP ----------------------------------------------------------------------------------
def test_hf_clip_text_and_image(hf_clip_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    backbone = HfClipGuidance(HfClipSettings(model=str(hf_clip_dir)), CPU)
    assert isinstance(backbone, GuidanceBackbone) and backbone.dim == 16
    texts = backbone.encode_text(["a tired smile", "happy", "the quick brown fox " * 30])
    assert texts.shape == (3, 16) and torch.isfinite(texts).all()
    assert torch.allclose(texts[1], backbone.encode_text(["happy"])[0], atol=1e-5)
    img = face_image()
    Image.fromarray(img).save(tmp_path / "face.png")
    images = backbone.encode_image([img, str(tmp_path / "face.png"), face_image(1)])
    assert images.shape == (3, 16)
    assert torch.allclose(images[0], images[1], atol=1e-5)  # array and PNG of the same pixels
    assert not torch.allclose(images[0], images[2], atol=1e-3)
    with pytest.raises(MedtalkError, match="image file not found"):
        backbone.encode_image([str(tmp_path / "missing.png")])


def test_open_clip_local_weights_text_and_image(open_clip_files: tuple[Path, Path]) -> None:
    arch, weights = open_clip_files
    settings = OpenClipSettings(arch="tiny-clip-test", pretrained=str(weights), arch_config=str(arch))
    backbone = OpenClipGuidance(settings, CPU)
    assert backbone.dim == 16
    texts = backbone.encode_text(["a tired smile", "an angry look"])
    images = backbone.encode_image([face_image(0), face_image(1)])
    assert texts.shape == (2, 16) and images.shape == (2, 16)
    assert not torch.allclose(texts[0], texts[1], atol=1e-4)
    again = OpenClipGuidance(settings, CPU)
    assert torch.allclose(again.encode_text(["a tired smile"])[0], texts[0], atol=1e-5)  # weights came from the file
    assert torch.allclose(again.encode_image([face_image(1)])[0], images[1], atol=1e-5)


def test_open_clip_missing_weights_never_download(tmp_path: Path) -> None:
    pytest.importorskip("open_clip")
    backbone = OpenClipGuidance(options=LoadOptions(device="cpu", cache_dir=str(tmp_path)))
    with pytest.raises(MissingModelError) as info:
        backbone.encode_text(["happy"])
    assert "ViT-B-32/openai" in str(info.value) and "timm/vit_base_patch32_clip_224.openai" in str(info.value)
    assert "backbones.guidance.pretrained" in str(info.value)


# --- faster-whisper ------------------------------------------------------------------------
def test_faster_whisper_transcribes_with_word_times(whisper_dir: Path) -> None:
    settings = FasterWhisperSettings(model=str(whisper_dir), compute_type="int8", beam_size=1,
                                     temperature=(0.0,))
    asr = FasterWhisperTranscriber(settings, CPU)
    assert isinstance(asr, Transcriber)
    audio = noise(16000)
    result = asr.transcribe(audio)
    assert isinstance(result, Transcript) and isinstance(result.text, str)
    assert all(w.start_s >= 0 and w.end_s >= w.start_s for w in result.words)
    assert asr.transcribe(audio) == result  # greedy decoding of the same clip is deterministic
    assert asr.transcribe(np.zeros(0, np.float32)) == Transcript(text="")


def test_faster_whisper_missing_model(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    asr = FasterWhisperTranscriber(options=LoadOptions(device="cpu", cache_dir=str(tmp_path)))
    with pytest.raises(MissingModelError, match="'base'.*backbones.transcriber.model"):
        asr.transcribe(noise(16000))


# --- emotion2vec (funasr) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def emotion2vec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Emotion2vec in the ModelScope folder layout (config.yaml + model.pt) that AutoModel loads."""
    pytest.importorskip("funasr")
    return write_tiny_emotion2vec(tmp_path_factory.mktemp("emotion2vec"), embed_dim=32, depth=2, channels=32,
                                  mlp_ratio=2.0, conv_pos_groups=4, prenet_depth=1)


def test_emotion2vec_frames_match_funasr_generate(emotion2vec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backbone = Emotion2vecEmotion(Emotion2vecSettings(model=str(emotion2vec_dir)), CPU)
    assert isinstance(backbone, AudioFeatureBackbone) and backbone.dim == 32
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    audio = noise(16000)
    raw = backbone.frame_features(audio[None])[0]
    assert raw.shape == (49, 32)  # 50 Hz, as emotion2vec_base
    assert capsys.readouterr().out == ""  # funasr's version banner kept off our stdout
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)
    feats = backbone.features(audio)
    assert feats.shape == (num_frames(16000), 32)
    assert torch.allclose(feats, to_time_frames(raw, 60))

    from funasr import AutoModel

    auto = AutoModel(model=str(emotion2vec_dir), device="cpu", ncpu=threads, disable_update=True,
                     disable_log=True, disable_pbar=True)
    reference = auto.generate(audio, granularity="frame", extract_embedding=True)[0]["feats"]  # the release's call
    assert np.allclose(raw.numpy(), reference, atol=1e-5)

    clips = [noise(16000, 1), noise(9000, 2), noise(16000, 3)]
    for clip, batched in zip(clips, backbone.features_batch(clips)):
        assert batched.shape == (num_frames(len(clip)), 32)
        assert torch.allclose(batched, backbone.features(clip), atol=1e-5)


def test_emotion2vec_processor_norm_is_what_the_release_feeds(emotion2vec_dir: Path) -> None:
    """Release mode: Wav2Vec2Processor's per-clip normalisation, then funasr's own (config `normalize`)."""
    audio = 0.3 * noise(16000) + 0.05  # an offset and a level the normalisations remove
    release = Emotion2vecEmotion(Emotion2vecSettings(model=str(emotion2vec_dir), processor_norm=True), CPU)
    plain = Emotion2vecEmotion(Emotion2vecSettings(model=str(emotion2vec_dir)), CPU)
    normed = ((audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)).astype(np.float32)
    assert torch.allclose(release.frame_features(audio[None]), plain.frame_features(normed[None]), atol=1e-5)
    # with `normalize: true` (this config) funasr's layer norm makes the two inputs almost the same
    assert torch.allclose(release.frame_features(audio[None]), plain.frame_features(audio[None]), atol=1e-3)


def test_emotion2vec_missing_model(tmp_path: Path) -> None:
    backbone = Emotion2vecEmotion(options=LoadOptions(device="cpu", cache_dir=str(tmp_path)))
    with pytest.raises(MedtalkError) as info:  # MissingModelError, or MissingDependencyError without funasr
        backbone.features(noise(16000))
    assert "iic/emotion2vec_base" in str(info.value) or "funasr" in str(info.value)


# --- device and precision ------------------------------------------------------------------
def test_fp16_is_ignored_on_cpu(wav2vec2_dir: Path) -> None:
    settings = Wav2Vec2Settings(model=str(wav2vec2_dir))
    half = Wav2Vec2Content(settings, LoadOptions(device="cpu", fp16=True))
    assert next(half.load().parameters()).dtype == torch.float32
    assert torch.equal(half.features(noise(8000)), Wav2Vec2Content(settings, CPU).features(noise(8000)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_on_gpu_matches_fp32(wav2vec2_dir: Path, bert_dir: Path) -> None:
    gpu16 = LoadOptions(device="cuda", fp16=True)
    content = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir)), gpu16)
    feats = content.features(noise(16000))
    assert next(content.load().parameters()).dtype == torch.float16
    assert feats.dtype == torch.float32 and feats.device.type == "cpu"
    reference = Wav2Vec2Content(Wav2Vec2Settings(model=str(wav2vec2_dir)), CPU).features(noise(16000))
    assert torch.allclose(feats, reference, atol=5e-2, rtol=5e-2)
    text = BertText(BertSettings(model=str(bert_dir)), gpu16).features("hello world")
    assert torch.allclose(text, BertText(BertSettings(model=str(bert_dir)), CPU).features("hello world"), atol=5e-2)
