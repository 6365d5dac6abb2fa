"""A randomly initialised Whisper with a tiny English vocabulary, converted to CTranslate2 the
way faster-whisper loads it: what the tests and the backbone benchmark run the transcriber
adapter on, with no download. Random weights decode nonsense; only shapes and timing mean
anything. Needs transformers, tokenizers and ctranslate2 (the `whisper` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

# Whisper's special tokens in its own order; timestamp tokens follow the last one.
_SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>",
            "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>
_SIZES = {
    "tiny": dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                 decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128),
    "base": dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                 decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048),  # Whisper base
}


def build_random_whisper(root: str | Path, sentence: str, size: Literal["tiny", "base"] = "tiny") -> tuple[Any, Path]:
    """Write `root/whisper_hf` (transformers) and `root/whisper_ct2` (CTranslate2) -> (the
    transformers model, the CTranslate2 folder). The vocabulary is a BPE trained on `sentence`;
    seed torch first for the same weights every time."""
    import ctranslate2
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    root = Path(root)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([sentence] * 10, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens(_SPECIAL)
    hf = root / "whisper_hf"
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(hf)
    eot, sot = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|startoftranscript|>")
    tokens = dict(decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, bos_token_id=eot,
                  suppress_tokens=[], begin_suppress_tokens=[eot])
    # Whisper's real vocabulary is 51865 tokens; ours is small, which only shrinks the output layer.
    cfg = transformers.WhisperConfig(vocab_size=tok.get_vocab_size() + _TIMESTAMPS, num_mel_bins=80,
                                     **tokens, **_SIZES[size])
    model = transformers.WhisperForConditionalGeneration(cfg)
    model.generation_config = transformers.GenerationConfig(
        **tokens, no_timestamps_token_id=tok.token_to_id("<|notimestamps|>"), max_length=448)
    model.save_pretrained(hf)
    (hf / "preprocessor_config.json").write_text(json.dumps(
        {"feature_size": 80, "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30, "n_fft": 400}))
    out = root / "whisper_ct2"
    ctranslate2.converters.TransformersConverter(
        str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(str(out))
    return model, out
