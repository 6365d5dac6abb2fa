"""CPU cost of the pretrained backbones: seconds of compute per second of audio (or per item).

Every model is randomly initialised from its architecture's config, saved in its real on-disk
layout and loaded through our adapter, so no download is needed and the timing is of the real
code path. "full" sizes are the paper profile's architectures (wav2vec2-base, emotion2vec_base,
Whisper base, BERT-base with the Chinese RoBERTa vocabulary, CLIP ViT-B/32); "tiny" are the test
sizes. Random Whisper weights decode nonsense of arbitrary length, so the transcriber row caps
decoding at --whisper-tokens tokens (about what a few seconds of speech produce).

    python benchmarks/backbones.py --threads 2 --audio-s 4 [--sizes tiny full]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from medtalk_core.backbones.pretrained import (BertSettings, BertText, Emotion2vecEmotion, Emotion2vecSettings,
                                               HfClipGuidance, HfClipSettings, LoadOptions, Wav2Vec2Content,
                                               Wav2Vec2Settings)

CPU = LoadOptions(device="cpu")
SENTENCE = "the quick brown fox jumps over the lazy dog and smiles at a tired friend"


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: lazy load, allocator, kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def params(module: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M"


def word_vocab(folder: Path, size: int) -> None:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(SENTENCE.split()))
    words += [f"tok{i}" for i in range(size - len(words))]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")


def bench_wav2vec2(root: Path, size: str, audio: np.ndarray, repeats: int) -> tuple[str, float]:
    import transformers

    cfg = transformers.Wav2Vec2Config() if size == "full" else transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    model = transformers.Wav2Vec2Model(cfg)
    model.save_pretrained(root / "w2v")
    backbone = Wav2Vec2Content(Wav2Vec2Settings(model=str(root / "w2v")), CPU)
    return params(model), timed(lambda: backbone.features(audio), repeats)


def bench_emotion2vec(root: Path, size: str, audio: np.ndarray, repeats: int) -> tuple[str, float]:
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
    backbone = Emotion2vecEmotion(Emotion2vecSettings(model=str(folder)), CPU)
    return params(model), timed(lambda: backbone.features(audio), repeats)


def bench_whisper(root: Path, size: str, audio: np.ndarray, repeats: int, max_tokens: int) -> tuple[str, float]:
    import faster_whisper

    from medtalk_core.backbones.pretrained.random_whisper import build_random_whisper

    model, ct2 = build_random_whisper(root, SENTENCE, "base" if size == "full" else "tiny")
    asr = faster_whisper.WhisperModel(str(ct2), device="cpu", compute_type="int8",
                                      cpu_threads=torch.get_num_threads(), local_files_only=True)

    def run() -> None:  # the adapter's call, with decoding capped (see module docstring)
        segments, _ = asr.transcribe(audio, beam_size=5, temperature=[0.0], word_timestamps=True,
                                     condition_on_previous_text=False, max_new_tokens=max_tokens)
        list(segments)

    return params(model), timed(run, repeats)


def bench_bert(root: Path, size: str, repeats: int) -> tuple[str, float]:
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
    backbone = BertText(BertSettings(model=str(folder)), CPU)
    return params(model), timed(lambda: backbone.features(SENTENCE), repeats)


def bench_clip(root: Path, size: str, repeats: int) -> tuple[str, float, float]:
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
    backbone = HfClipGuidance(HfClipSettings(model=str(folder)), CPU)
    picture = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    text_s = timed(lambda: backbone.encode_text(["a tired, reluctant smile"]), repeats)
    image_s = timed(lambda: backbone.encode_image([picture]), repeats)
    return params(model), text_s, image_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch / CTranslate2 CPU threads")
    parser.add_argument("--audio-s", type=float, default=4.0, help="length of the audio clip timed")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    parser.add_argument("--sizes", nargs="+", default=["tiny", "full"], choices=["tiny", "full"])
    parser.add_argument("--whisper-tokens", type=int, default=24, help="decoding cap for the random Whisper")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(args.audio_s * 16000))).astype(np.float32)
    rows: list[tuple[str, str, str, str, str]] = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, bench in (("wav2vec2 (audio content)", bench_wav2vec2),
                                ("emotion2vec (audio emotion)", bench_emotion2vec)):
                n, seconds = bench(root, size, audio, args.repeats)
                rows.append((name, size, n, f"{seconds / args.audio_s * 1000:.1f} ms / s audio",
                             f"{args.audio_s / seconds:.1f}x"))
            n, seconds = bench_whisper(root, size, audio, args.repeats, args.whisper_tokens)
            rows.append(("faster-whisper int8 (transcriber)", size, n,
                         f"{seconds / args.audio_s * 1000:.1f} ms / s audio", f"{args.audio_s / seconds:.1f}x"))
            n, seconds = bench_bert(root, size, args.repeats)
            rows.append(("BERT (transcript, 16 words)", size, n, f"{seconds * 1000:.1f} ms / sentence", "-"))
            n, text_s, image_s = bench_clip(root, size, args.repeats)
            rows.append(("CLIP text (guidance)", size, n, f"{text_s * 1000:.1f} ms / text", "-"))
            rows.append(("CLIP image (guidance)", size, n, f"{image_s * 1000:.1f} ms / image", "-"))
    header = ("backbone", "size", "params", "CPU time", "x real time")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print(f"CPU, {args.threads} threads, {args.audio_s:g} s clip, median of {args.repeats}")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
