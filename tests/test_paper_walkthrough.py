"""The README's paper-profile walk-through, end to end with tiny local stand-ins of the release's
backbones (the release's feature sizes: 768-d wav2vec2, emotion2vec and BERT, 512-d CLIP):
import-release with a `backbones:` file, bake in release mode, a live stream over real UDP, and
the one-line errors for a wrong slot or a missing folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from livelink_bridge.cli import main
from medtalk_core.audio import num_frames, write_audio
from udp_receivers import OscCollector, wait_for
from test_release_mode import release_training, speech
from tiny_emotion2vec import write_tiny_emotion2vec

transformers = pytest.importorskip("transformers")
funasr = pytest.importorskip("funasr")
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "a", "tired", "smile"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """save_pretrained / ModelScope-layout folders, as a user's local copies would be."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    w2v = root / "wav2vec2-base-960h"
    transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(
        hidden_size=768, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=16)).save_pretrained(w2v)
    bert = root / "chinese-roberta-wwm-ext"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    transformers.BertTokenizerFast(vocab_file=str(bert / "vocab.txt")).save_pretrained(bert)
    transformers.BertModel(transformers.BertConfig(vocab_size=len(WORDS), hidden_size=768, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=32,
                                                   max_position_embeddings=64)).save_pretrained(bert)
    clip = root / "clip-vit-base-patch32"
    clip.mkdir()
    (clip / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    transformers.BertTokenizerFast(vocab_file=str(clip / "vocab.txt")).save_pretrained(clip)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip)
    transformers.CLIPModel(transformers.CLIPConfig(
        text_config=dict(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=3, pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        projection_dim=512)).save_pretrained(clip)
    return {"audio_content": w2v, "audio_emotion": emotion2vec_768(root / "emotion2vec_base"), "text": bert,
            "guidance": clip}


def emotion2vec_768(path: Path) -> Path:
    """emotion2vec_base's feature size (768) on one thin layer."""
    return write_tiny_emotion2vec(path, embed_dim=768, depth=1, channels=16, mlp_ratio=0.05, conv_pos_groups=16,
                                  prenet_depth=0)


def test_import_bake_and_stream_with_local_backbones(local_models, tmp_path: Path, capsys) -> None:
    weights = tmp_path / "MEDTalk" / "weights"
    weights.mkdir(parents=True)
    for name, state in release_training().items():
        torch.save(state, weights / name)
    local = tmp_path / "local_models.yaml"  # the README's file, with this machine's folders
    local.write_text(yaml.safe_dump({"backbones": {
        **{slot: {"path": str(path)} for slot, path in local_models.items()},
        "transcriber": {"name": "none"}}}))
    ckpt = tmp_path / "checkpoints" / "medtalk-release"

    assert main(["import-release", "--in", str(weights), "--out", str(ckpt), "--backbones", str(local),
                 "--backbone", "audio_content.device=cpu"]) == 0
    stored = json.loads((ckpt / "config.json").read_text())["backbones"]
    assert stored["text"]["path"] == str(local_models["text"]) and stored["transcriber"]["name"] == "none"
    assert stored["audio_content"]["options"] == {"mode": "release", "device": "cpu"}
    capsys.readouterr()

    wav = tmp_path / "speech.wav"
    write_audio(wav, speech(1.0))
    total = num_frames(16000)
    assert main(["bake", str(wav), "--out", str(tmp_path / "baked"), "--checkpoint", str(ckpt), "--mode", "release",
                 "--device", "cpu", "--no-progress"]) == 0
    rows = (tmp_path / "baked" / "speech.csv").read_text().splitlines()
    assert len(rows) == total + 1  # header + one row a frame

    osc = OscCollector()
    try:
        assert main(["run", "--config", str(REPO / "configs" / "paper.yaml"), "--checkpoint", str(ckpt),
                     "--mode", "release", "--source", f"file:{wav}", "--fast", "--osc", f"127.0.0.1:{osc.port}",
                     "--curve-set", "board", "--control", "off"]) == 0
        assert wait_for(lambda: len(osc.frames()) == total, timeout=5)
    finally:
        osc.close()
    streamed = np.array([args[2:] for _, args in osc.frames()], np.float32)
    assert streamed.shape == (total, 174) and np.isfinite(streamed).all()


@pytest.mark.parametrize("flag,expected", [
    ("txt=/models/roberta", "unknown slot 'txt'"),
    ("text=/nowhere/roberta", "backbone text: local model not found: /nowhere/roberta"),
    ("text.colour=red", "unknown key 'colour'"),
])
def test_a_wrong_backbone_flag_is_one_clear_line(flag: str, expected: str, tmp_path: Path, capsys) -> None:
    wav = tmp_path / "a.wav"
    write_audio(wav, speech(0.2))
    for argv in (["bake", str(wav), "--out", str(tmp_path / "o")], ["run", "--source", f"file:{wav}"],
                 ["import-release", "--in", str(tmp_path), "--out", str(tmp_path / "c")]):
        assert main([*argv, "--backbone", flag]) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1
