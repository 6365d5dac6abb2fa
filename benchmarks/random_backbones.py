"""The paper profile's pretrained backbones with random weights, saved in their real on-disk layout.

Each builder writes one model folder under `root` and returns (BackboneSpec, parameter count), so
the real adapter loads it through the real code path with no download. "full" is the paper
profile's architecture (wav2vec2-base, emotion2vec_base, Whisper base, BERT-base with the Chinese
RoBERTa vocabulary, CLIP ViT-B/32); "tiny" is a test size (32-wide, 2 layers) for dry runs.
Used by benchmarks/backbones.py (CPU cost), paper_checkpoint.py (a whole random paper model) and
train_speed.py (the guidance stage's CLIP).
"""

from __future__ import annotations

from pathlib import Path

import torch

from medtalk_core.backbones import BackboneSpec

SIZES = ("tiny", "full")
SENTENCE = "the quick brown fox jumps over the lazy dog and smiles at a tired friend"


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def word_vocab(folder: Path, size: int) -> None:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(SENTENCE.split()))
    words += [f"tok{i}" for i in range(size - len(words))]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")


def wav2vec2(root: Path, size: str, mode: str = "release") -> tuple[BackboneSpec, int]:
    import transformers

    cfg = transformers.Wav2Vec2Config() if size == "full" else transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    model = transformers.Wav2Vec2Model(cfg)
    model.save_pretrained(root / "w2v")
    return BackboneSpec("wav2vec2", path=str(root / "w2v"), options={"mode": mode}), params(model)


def emotion2vec(root: Path, size: str) -> tuple[BackboneSpec, int]:
    import yaml
    from funasr.register import tables

    import funasr.models.emotion2vec.model  # noqa: F401  (registers the class)

    full = size == "full"  # emotion2vec_base: 7 conv layers (512 ch), 5 conv-pos layers, 4 prenet + 8 blocks, 768-d
    dim, heads = (768, 12) if full else (32, 2)
    channels = 512 if full else 32
    conf = dict(
        embed_dim=dim, depth=8 if full else 2, num_heads=heads, mlp_ratio=4.0, norm_eps=1e-5, norm_affine=True,
        encoder_dropout=0.0, post_mlp_drop=0.0, attention_dropout=0.0, activation_dropout=0.0, dropout_input=0.0,
        layerdrop=0.0, layer_norm_first=False, end_of_block_targets=False, start_drop_path_rate=0.0,
        end_drop_path_rate=0.0, average_top_k_layers=2, clone_batch=1, normalize=True,
        modalities=dict(audio=dict(
            feature_encoder_spec=f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 + [({channels}, 2, 2)] * 2",
            extractor_mode="layer_norm", conv_pos_depth=5 if full else 1, conv_pos_width=95 if full else 16,
            conv_pos_groups=16 if full else 4, conv_pos_pre_ln=False, start_drop_path_rate=0.0,
            end_drop_path_rate=0.0, prenet_depth=4 if full else 1, prenet_layerdrop=0.0, prenet_dropout=0.0,
            model_depth=8 if full else 2, use_alibi_encoder=True, local_grad_mult=1.0, num_extra_tokens=0,
            init_extra_token_zero=False, learned_alibi_scale=True, learned_alibi_scale_per_layer=True,
            learned_alibi_scale_per_head=True, learned_alibi=False, alibi_max_pos=None, num_alibi_heads=heads,
            alibi_scale=1.0, decoder=None, mask_noise_std=0.01, inverse_mask=False, keep_masked_pct=0.0,
            mask_prob=0.0, mask_prob_min=None, mask_length=5, mask_dropout=0.0, add_masks=False,
            encoder_zero_mask=True, mask_channel_prob=0.0, mask_channel_length=64)))
    model = tables.model_classes["Emotion2vec"](model_conf=conf)
    folder = root / "e2v"
    folder.mkdir()
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": "Emotion2vec", "model_conf": conf}))
    return BackboneSpec("emotion2vec", path=str(folder)), params(model)


def whisper(root: Path, size: str) -> tuple[BackboneSpec, int]:
    """A CTranslate2 Whisper (faster-whisper's format): Whisper base's sizes for "full"."""
    from medtalk_core.backbones.pretrained.random_whisper import build_random_whisper

    model, ct2 = build_random_whisper(root, SENTENCE, "base" if size == "full" else "tiny")
    return BackboneSpec("faster_whisper", path=str(ct2)), params(model)


def bert(root: Path, size: str) -> tuple[BackboneSpec, int]:
    import transformers

    folder = root / "bert"
    folder.mkdir()
    vocab = 21128 if size == "full" else 64  # hfl/chinese-roberta-wwm-ext's vocabulary size
    word_vocab(folder, vocab)
    transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    cfg = transformers.BertConfig(vocab_size=vocab) if size == "full" else transformers.BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = transformers.BertModel(cfg)
    model.save_pretrained(folder)
    return BackboneSpec("bert", path=str(folder)), params(model)


def clip(root: Path, size: str) -> tuple[BackboneSpec, int]:
    import transformers

    folder = root / "clip"
    folder.mkdir()
    word_vocab(folder, 64)
    transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    image = 224 if size == "full" else 32
    transformers.CLIPImageProcessor(size={"shortest_edge": image},
                                    crop_size={"height": image, "width": image}).save_pretrained(folder)
    if size == "full":  # ViT-B/32: text 12 x 512, vision 12 x 768 patch 32, projection 512 (CLIPConfig defaults)
        cfg = transformers.CLIPConfig(text_config=dict(vocab_size=49408, bos_token_id=2, eos_token_id=3, pad_token_id=0))
    else:
        cfg = transformers.CLIPConfig(
            text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, bos_token_id=2, eos_token_id=3, pad_token_id=0),
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                               image_size=32, patch_size=16), projection_dim=16)
    model = transformers.CLIPModel(cfg)
    model.save_pretrained(folder)
    return BackboneSpec("clip_hf", path=str(folder)), params(model)
