"""A tiny random Emotion2vec in the ModelScope folder layout (config.yaml + model.pt) that funasr's
AutoModel and our backbone load as they load emotion2vec_base."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml


def write_tiny_emotion2vec(path: Path, embed_dim: int, depth: int, channels: int, mlp_ratio: float,
                           conv_pos_groups: int, prenet_depth: int) -> Path:
    """`channels`: width of the convolutional feature encoder (320x down: 50 Hz at 16 kHz)."""
    from funasr.register import tables

    import funasr.models.emotion2vec.model  # noqa: F401  (registers the class)

    conf = dict(
        embed_dim=embed_dim, depth=depth, num_heads=2, mlp_ratio=mlp_ratio, norm_eps=1e-5, norm_affine=True,
        encoder_dropout=0.0, post_mlp_drop=0.0, attention_dropout=0.0, activation_dropout=0.0, dropout_input=0.0,
        layerdrop=0.0, layer_norm_first=False, end_of_block_targets=False, start_drop_path_rate=0.0,
        end_drop_path_rate=0.0, average_top_k_layers=depth, clone_batch=1, normalize=True,
        modalities=dict(audio=dict(
            feature_encoder_spec=f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 + [({channels}, 2, 2)] * 2",
            extractor_mode="layer_norm", conv_pos_depth=1, conv_pos_width=16, conv_pos_groups=conv_pos_groups,
            conv_pos_pre_ln=False, start_drop_path_rate=0.0, end_drop_path_rate=0.0, prenet_depth=prenet_depth,
            prenet_layerdrop=0.0, prenet_dropout=0.0, model_depth=depth, use_alibi_encoder=True,
            local_grad_mult=1.0, num_extra_tokens=0, init_extra_token_zero=False, learned_alibi_scale=True,
            learned_alibi_scale_per_layer=True, learned_alibi_scale_per_head=True, learned_alibi=False,
            alibi_max_pos=None, num_alibi_heads=2, alibi_scale=1.0, decoder=None, mask_noise_std=0.01,
            inverse_mask=False, keep_masked_pct=0.0, mask_prob=0.0, mask_prob_min=None, mask_length=5,
            mask_dropout=0.0, add_masks=False, encoder_zero_mask=True, mask_channel_prob=0.0,
            mask_channel_length=64)))
    torch.manual_seed(0)
    model = tables.model_classes["Emotion2vec"](model_conf=conf)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "model.pt")
    (path / "config.yaml").write_text(yaml.safe_dump({"model": "Emotion2vec", "model_conf": conf}))
    return path
