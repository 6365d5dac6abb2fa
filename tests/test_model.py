"""MEDTalk modules: shapes, eq. 9, stage freezing, masks, release key names."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from medtalk_core.errors import ConfigError
from medtalk_core.model import MEDTalk, ModelConfig, load_model_config, norm_adjust, set_trainable, trainable_modules
from medtalk_core.model.config import PROFILE_DIR


def _inputs(cfg: ModelConfig, B: int = 2, T: int = 37, L: int = 5):
    torch.manual_seed(1)
    return (torch.randn(B, T, cfg.content_feat_dim), torch.randn(B, T, cfg.emotion_feat_dim),
            torch.randn(B, L, cfg.text_feat_dim))


@pytest.fixture(params=["mlp", "temporal"])
def tiny(request) -> MEDTalk:
    torch.manual_seed(0)
    return MEDTalk(dataclasses.replace(load_model_config("tiny"), encoder=request.param)).eval()


def test_module_shapes(tiny: MEDTalk) -> None:
    cfg = tiny.cfg
    B, T = 2, 37
    content, emotion, text = _inputs(cfg, B, T)
    rig = torch.randn(B, T, 174)
    emo, cont = tiny.encode_rig(rig)
    assert emo.shape == cont.shape == (B, T, cfg.latent_dim)
    assert tiny.decode(emo, cont).shape == (B, T, 174)
    assert tiny.content_from_audio(content).shape == (B, T, cfg.latent_dim)
    assert tiny.intensity(emotion, text).shape == (B, T)
    assert tiny.intensity(emotion, None).shape == (B, T)
    g = tiny.guidance_from_label(torch.tensor([0, 6]))
    assert g.shape == (B, cfg.hidden_dim) == (B, tiny.guidance_dim)
    assert tiny.guidance_from_clip_text(torch.randn(B, cfg.clip_dim)).shape == (B, cfg.hidden_dim)
    assert tiny.guidance_from_clip_image(torch.randn(B, cfg.clip_dim)).shape == (B, cfg.hidden_dim)
    assert tiny.emotion_from_guidance(g, torch.rand(B, T)).shape == (B, T, cfg.latent_dim)
    out = tiny(content, emotion, text, torch.ones(B, 5, dtype=torch.bool), g)
    assert out.shape == (B, T, 174) and torch.isfinite(out).all()
    per_frame = tiny(content, emotion, None, None, torch.randn(B, T, cfg.hidden_dim))
    assert per_frame.shape == (B, T, 174)


def test_norm_adjustment_eq9() -> None:
    g = torch.tensor([[3.0, 4.0]])  # norm 5
    out = norm_adjust(g, torch.tensor([[2.0, 0.5]]))  # (1, 2, 2)
    assert torch.allclose(out, torch.tensor([[[1.2, 1.6], [0.3, 0.4]]]), atol=1e-6)
    assert torch.allclose(out.norm(dim=-1), torch.tensor([[2.0, 0.5]]), atol=1e-6)
    # the 1e-8 guard: a zero feature stays zero instead of NaN
    assert torch.equal(norm_adjust(torch.zeros(1, 2), torch.ones(1, 3)), torch.zeros(1, 3, 2))


def test_intensity_head_depends_on_text(tiny: MEDTalk) -> None:
    _, emotion, text = _inputs(tiny.cfg)
    with torch.no_grad():
        before_text, before_audio = tiny.intensity(emotion, text), tiny.intensity(emotion, None)
        tiny.audio_intensity.fc2.bias.add_(1.0)  # move only the audio-only head
        assert torch.equal(tiny.intensity(emotion, text), before_text)
        assert torch.allclose(tiny.intensity(emotion, None), before_audio + 1.0, atol=1e-5)


def test_text_mask_ignores_padded_tokens(tiny: MEDTalk) -> None:
    _, emotion, text = _inputs(tiny.cfg, B=1, L=3)
    padded = torch.cat([text, torch.randn(1, 4, text.shape[-1]) * 50], dim=1)
    mask = torch.tensor([[True] * 3 + [False] * 4])
    with torch.no_grad():
        assert torch.allclose(tiny.intensity(emotion, text), tiny.intensity(emotion, padded, mask), atol=1e-5)


def test_padded_batch_equals_single_clip(tiny: MEDTalk) -> None:
    content, emotion, _ = _inputs(tiny.cfg, B=1, T=20)
    pad = 13
    content_b = torch.cat([content, torch.randn(1, pad, content.shape[-1])], dim=1)
    emotion_b = torch.cat([emotion, torch.randn(1, pad, emotion.shape[-1])], dim=1)
    mask = torch.cat([torch.ones(1, 20), torch.zeros(1, pad)], dim=1)
    g = torch.randn(1, tiny.guidance_dim)
    with torch.no_grad():
        single = tiny(content, emotion, None, None, g)
        batched = tiny(content_b, emotion_b, None, None, g, mask=mask)[:, :20]
    assert torch.allclose(single, batched, atol=1e-5)


@pytest.mark.parametrize("stage", ["cross_recon", "acm", "fim", "guidance"])
def test_stage_freezing(stage: str) -> None:
    torch.manual_seed(0)
    model = MEDTalk(load_model_config("tiny"))
    names = set_trainable(model, stage)
    assert names == trainable_modules(stage, model) and names
    before = {k: v.clone() for k, v in model.state_dict().items()}
    content, emotion, text = _inputs(model.cfg)
    rig = torch.randn(2, 37, 174)
    emo, cont = model.encode_rig(rig)
    loss = (model.decode(emo, cont) - rig).pow(2).mean()
    g = model.guidance_from_label(torch.tensor([1, 2]))
    g = g + model.guidance_from_clip_text(torch.randn(2, 512)) + model.guidance_from_clip_image(torch.randn(2, 512))
    loss = loss + model(content, emotion, text, None, g).pow(2).mean() + model(content, emotion, None, None, g).pow(2).mean()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss.backward()
    opt.step()
    for key, value in model.state_dict().items():
        trained = key.split(".")[0] in names
        assert torch.equal(value, before[key]) != trained, f"{stage}: {key} trained={trained}"


def test_unknown_stage_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown training stage"):
        trainable_modules("finetune")


def test_paper_profile_has_release_keys() -> None:
    cfg = load_model_config("paper")
    assert (cfg.hidden_dim, cfg.latent_dim, cfg.content_feat_dim, cfg.emotion_feat_dim, cfg.text_feat_dim,
            cfg.clip_dim) == (256, 256, 768, 768, 768, 512)
    keys = set(MEDTalk(cfg).state_dict())
    for key in ("emo_encoder.fc1.weight", "cont_encoder.fc2.bias", "decoder.fc1.weight", "decoder.fc2.weight",
                "audio_content_map.fc1.weight", "fusion_predictor.cross_attn.in_proj_weight",
                "fusion_predictor.norm1.weight", "fusion_predictor.norm2.bias", "fusion_predictor.linear.weight",
                "fusion_predictor.predictor.weight", "emotion_embedding.0.weight", "emotion_embedding.1.weight",
                "emotion_embedding.3.weight", "semantic_emotion_map.fc1.weight", "clip_text_map.fc1.weight",
                "clip_image_map.fc2.weight", "audio_intensity.fc1.weight"):
        assert key in keys
    assert not {k.split(".")[0] for k in keys} & {"content_frontend", "emotion_frontend", "text_frontend"}
    assert MEDTalk(cfg).state_dict()["audio_content_map.fc1.weight"].shape == (256, 768)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("hidden_dim: 32\nhiden_dim: 32\n")
    with pytest.raises(ConfigError, match="unknown config key: hiden_dim"):
        load_model_config(path)
    path.write_text("encoder: lstm\n")
    with pytest.raises(ConfigError, match="encoder"):
        load_model_config(path)
    with pytest.raises(ConfigError, match="unknown model profile"):
        load_model_config("huge")
    assert {p.stem for p in PROFILE_DIR.glob("*.yaml")} >= {"tiny", "paper"}


def test_tiny_profile_is_small() -> None:
    params = sum(p.numel() for p in MEDTalk(load_model_config("tiny")).parameters())
    assert params * 4 < 4_000_000  # a few MB of float32 weights


@pytest.mark.parametrize("encoder", ["mlp", "temporal"])
def test_future_frames_bounds_what_the_output_depends_on(encoder: str) -> None:
    """With future_frames k, frame t never depends on audio features later than t + k; centred does."""
    torch.manual_seed(0)
    base = dataclasses.replace(load_model_config("tiny"), encoder=encoder, fusion_dropout=0.0)
    content, emotion, _ = _inputs(base, B=1, T=60)
    guidance = torch.randn(1, base.hidden_dim)
    t, k = 30, 2
    later = content.clone(), emotion.clone()
    later[0][:, t + k + 1:] += torch.randn_like(later[0][:, t + k + 1:])
    later[1][:, t + k + 1:] += torch.randn_like(later[1][:, t + k + 1:])
    for future, bounded in ((k, True), (None, False)):
        torch.manual_seed(1)
        model = MEDTalk(dataclasses.replace(base, future_frames=future)).eval()
        with torch.no_grad():
            ref = model(content, emotion, None, None, guidance)
            moved = model(later[0], later[1], None, None, guidance)
        same_up_to_t = torch.allclose(ref[:, : t + 1], moved[:, : t + 1], atol=1e-6)
        assert same_up_to_t == bounded
        assert not torch.allclose(ref[:, t + k + 1:], moved[:, t + k + 1:])
