"""Inference mode "release": the authors' released weights give the authors' outputs on every
guidance path (label, text, image).

The release's four networks are built here from the paper's equations and the reference layout
(module names and shapes, docs/RELEASE.md), trained "as the release trains": each stage's file
holds frozen copies of the earlier modules, the CLIP stage continues the label model's E_fuse,
and its audio-only intensity MLP stays at initialisation. They are saved with torch.save of
`state_dict()`, imported, and run through the Animator in release mode; an independent forward
written below from the state dicts (attention by hand) must agree to 1e-5 at every stage.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import savgol_filter
from torch import nn

from medtalk_core import checkpoint
from medtalk_core.audio import num_frames
from medtalk_core.backbones import Backbones
from medtalk_core.guidance import GuidanceSpec
from medtalk_core.inference import Animator
from medtalk_core.release_import import import_release
from medtalk_core.rig import clamp, emotion_id

D_AUDIO, D_TEXT, D_CLIP, H = 768, 768, 512, 256  # wav2vec2 / emotion2vec, RoBERTa, CLIP ViT-B/32, hidden


# --- the release's layout, from the paper ----------------------------------------------------
class Enc(nn.Module):  # Encoder(in, hidden, out): fc1 -> ReLU -> fc2, per frame
    def __init__(self, i: int, h: int, o: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(i, h), nn.Linear(h, o)


class Cmf(nn.Module):  # CMF: cross-attention (8 heads), norm1, norm2, linear, predictor
    def __init__(self) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(D_AUDIO, 8, dropout=0.1, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(D_AUDIO), nn.LayerNorm(D_AUDIO)
        self.linear, self.predictor = nn.Linear(D_AUDIO, D_AUDIO), nn.Linear(D_AUDIO, 1)


def labels() -> nn.Module:  # Embedding(7, 256) -> Linear(256, 512) -> LeakyReLU(0.2) -> Linear(512, 256)
    return nn.Sequential(nn.Embedding(7, 256), nn.Linear(256, 512), nn.LeakyReLU(0.2), nn.Linear(512, H))


def autoencoder() -> dict[str, nn.Module]:
    return {"emo_encoder": Enc(174, H, H), "cont_encoder": Enc(174, H, H), "decoder": Enc(2 * H, H, 174)}


FROZEN_BACKBONES = {"audio_content_encoder.encoder.layers.0.attention.k_proj.weight": (8, 8),
                    "text_encoder.embeddings.word_embeddings.weight": (8, 8),
                    "clip_encoder.text_projection.weight": (8, 8)}


def perturb(module: nn.Module, scale: float) -> None:
    """What a training stage does to a module, in effect: moves its weights."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def release_training(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """The four state dicts in training order; later files hold frozen copies of earlier modules."""
    torch.manual_seed(seed)
    ae = autoencoder()
    for m in ae.values():
        perturb(m, 0.02)
    acm = Enc(D_AUDIO, H, H)
    cmf, emb, fuse = Cmf(), labels(), Enc(H, H, H)
    for m in (acm, cmf, emb, fuse):
        perturb(m, 0.02)
    clip_text, clip_image, audio_mlp = Enc(D_CLIP, H, H), Enc(D_CLIP, H, H), Enc(D_AUDIO, H, 1)  # MLP: init only
    clip_fuse = Enc(H, H, H)
    clip_fuse.load_state_dict(fuse.state_dict())  # the CLIP stage starts from the label model's E_fuse ...
    perturb(clip_fuse, 0.05)  # ... and trains it further
    for m in (clip_text, clip_image):
        perturb(m, 0.02)

    def state(modules: dict[str, nn.Module], backbones: tuple[str, ...]) -> dict[str, torch.Tensor]:
        out = {f"{name}.{k}": v.detach().clone() for name, m in modules.items() for k, v in m.state_dict().items()}
        for key, shape in FROZEN_BACKBONES.items():
            if key.split(".")[0] in backbones:
                out[key] = torch.zeros(shape)
        return out

    return {
        "cross_recon.pth": state(ae, ()),
        "audio_cont.pth": state({**ae, "audio_content_map": acm}, ("audio_content_encoder",)),
        "audio_semantic.pth": state({**ae, "audio_content_map": acm, "fusion_predictor": cmf,
                                     "emotion_embedding": emb, "semantic_emotion_map": fuse},
                                    ("audio_content_encoder", "text_encoder")),
        "clip_emotion.pth": state({**ae, "audio_content_map": acm, "fusion_predictor": audio_mlp,
                                   "clip_text_map": clip_text, "clip_image_map": clip_image,
                                   "semantic_emotion_map": clip_fuse}, ("audio_content_encoder", "clip_encoder")),
    }


# --- stand-in backbones of the release's sizes (their own adapters are tested elsewhere) -------
class FrameFeatures:
    """Deterministic per-frame features of the audio: frame statistics through a fixed projection."""

    def __init__(self, dim: int, seed: int) -> None:
        self.name, self.dim = f"frames{seed}", dim
        self._w = torch.randn(4, dim, generator=torch.Generator().manual_seed(seed))

    def features(self, audio: np.ndarray) -> torch.Tensor:
        t = num_frames(len(audio))
        frames = torch.from_numpy(audio[: t * 266].reshape(t, 266).astype(np.float32))
        stats = torch.stack([frames.mean(1), frames.std(1), frames.abs().max(1).values, frames[:, 0]], dim=1)
        return torch.tanh(10 * stats @ self._w)  # (T, dim)


class WordFeatures:
    name, dim = "words", D_TEXT

    def features(self, text: str) -> torch.Tensor:  # [CLS] words [SEP], one vector per token
        tokens = ["[CLS]", *text.split(), "[SEP]"]
        return torch.stack([torch.randn(D_TEXT, generator=torch.Generator().manual_seed(sum(map(ord, w))))
                            for w in tokens])


class ClipFeatures:
    name, dim = "clip", D_CLIP

    def encode_text(self, texts):
        return torch.stack([torch.randn(D_CLIP, generator=torch.Generator().manual_seed(len(t))) for t in texts])

    def encode_image(self, images):
        return torch.stack([torch.randn(D_CLIP, generator=torch.Generator().manual_seed(1000 + int(np.asarray(i).sum())))
                            for i in images])


def stand_ins() -> Backbones:
    return Backbones(FrameFeatures(D_AUDIO, 1), FrameFeatures(D_AUDIO, 2), None, WordFeatures(), ClipFeatures())


# --- the independent forward, from the state dicts ---------------------------------------------
def enc(x: torch.Tensor, s: dict[str, torch.Tensor], m: str) -> torch.Tensor:
    return F.linear(F.relu(F.linear(x, s[f"{m}.fc1.weight"], s[f"{m}.fc1.bias"])), s[f"{m}.fc2.weight"], s[f"{m}.fc2.bias"])


def layer_norm(x: torch.Tensor, s: dict[str, torch.Tensor], m: str) -> torch.Tensor:
    mu, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + 1e-5) * s[f"{m}.weight"] + s[f"{m}.bias"]


def cmf(q: torch.Tensor, kv: torch.Tensor, s: dict[str, torch.Tensor]) -> torch.Tensor:
    """Fig. 2(b): 8-head cross-attention, query = audio emotion frames (T, 768), key = value = tokens (L, 768)."""
    p = "fusion_predictor."
    wq, wk, wv = s[p + "cross_attn.in_proj_weight"].chunk(3)
    bq, bk, bv = s[p + "cross_attn.in_proj_bias"].chunk(3)
    heads, d = 8, D_AUDIO // 8
    qh = F.linear(q, wq, bq).view(-1, heads, d).transpose(0, 1)  # (8, T, 96)
    kh = F.linear(kv, wk, bk).view(-1, heads, d).transpose(0, 1)  # (8, L, 96)
    vh = F.linear(kv, wv, bv).view(-1, heads, d).transpose(0, 1)
    attn = torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(d), dim=-1) @ vh  # (8, T, 96)
    attn = F.linear(attn.transpose(0, 1).reshape(-1, D_AUDIO), s[p + "cross_attn.out_proj.weight"],
                    s[p + "cross_attn.out_proj.bias"])
    x = layer_norm(q + attn, s, p + "norm1")
    x = layer_norm(x + F.linear(x, s[p + "linear.weight"], s[p + "linear.bias"]), s, p + "norm2")
    return F.linear(x, s[p + "predictor.weight"], s[p + "predictor.bias"])[:, 0]  # (T,)


def release_forward(states, audio: np.ndarray, path: str, guidance) -> dict[str, torch.Tensor]:
    """Every stage of the release's demo for one clip: label (emotion id), text or image guidance."""
    b = stand_ins()
    content, emo_feats = b.audio_content.features(audio), b.audio_emotion.features(audio)  # (T, 768) x 2
    sem, clip = states["audio_semantic.pth"], states["clip_emotion.pth"]
    out = {"content": enc(content, sem, "audio_content_map")}  # ACM, (T, 256)
    if path == "label":
        e = sem["emotion_embedding.0.weight"][guidance]
        e = F.leaky_relu(F.linear(e, sem["emotion_embedding.1.weight"], sem["emotion_embedding.1.bias"]), 0.2)
        out["guidance"] = F.linear(e, sem["emotion_embedding.3.weight"], sem["emotion_embedding.3.bias"])  # (256,)
        out["intensity"] = cmf(emo_feats, b.text.features(""), sem)  # (T,)
        fuse = sem
    else:
        feats = b.guidance.encode_text([guidance]) if path == "text" else b.guidance.encode_image([guidance])
        out["guidance"] = enc(feats[0], clip, "clip_text_map" if path == "text" else "clip_image_map")
        out["intensity"] = enc(emo_feats, clip, "fusion_predictor")[:, 0]  # the audio-only MLP
        fuse = clip
    g = out["guidance"]
    out["emotion"] = enc(g * (out["intensity"][:, None] / (g.norm() + 1e-8)), fuse, "semantic_emotion_map")  # eq. 9
    out["rig"] = enc(torch.cat((out["emotion"], out["content"]), dim=-1), sem, "decoder")  # (T, 174), emotion first
    return out


# --- the test ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    states = release_training()
    folder = tmp_path_factory.mktemp("weights")
    for name, state in states.items():
        torch.save(state, folder / name)
    out = tmp_path_factory.mktemp("ckpt") / "medtalk-release"
    report = import_release(folder, out)
    assert not report.missing and not report.unknown
    assert report.sources["semantic_emotion_map"] == "audio_semantic.pth"
    assert report.sources["clip_semantic_emotion_map"] == "clip_emotion.pth"
    return states, out


def speech(seconds: float = 0.8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


FACE = np.full((8, 8, 3), 7, np.uint8)
PATHS = [("label", "happy", emotion_id("happy")), ("text", GuidanceSpec(text="a tired smile"), "a tired smile"),
         ("image", GuidanceSpec(image=FACE), FACE)]


@pytest.mark.parametrize("path,spec,raw", PATHS, ids=[p[0] for p in PATHS])
def test_release_mode_reproduces_every_stage_of_every_guidance_path(imported, path, spec, raw) -> None:
    states, ckpt = imported
    animator = Animator(checkpoint.load(ckpt), stand_ins(), torch.device("cpu"), mode="release")
    audio = speech()
    ref = release_forward(states, audio, path, raw)
    m, b = animator.model, animator.backbones
    with torch.no_grad():  # stage by stage, through the imported model
        content = m.content_from_audio(b.audio_content.features(audio)[None])[0]
        assert torch.allclose(content, ref["content"], atol=1e-5)
        g = animator.guidance(spec)
        assert torch.allclose(g, ref["guidance"] / ref["guidance"].norm(), atol=1e-5)  # the direction is all eq. 9 keeps
        tokens = animator._text(audio, "", animator.guidance_path(spec))
        intensity = m.intensity(b.audio_emotion.features(audio)[None], None if tokens is None else tokens[None])[0]
        assert torch.allclose(intensity, ref["intensity"], atol=1e-5)
        clip = torch.tensor([path != "label"])
        emotion = m.emotion_from_guidance(g[None], intensity[None], clip)[0]
        assert torch.allclose(emotion, ref["emotion"], atol=1e-5)
    raw_rig = animator.animate(audio, spec, transcript="", smooth=False)
    assert np.allclose(raw_rig, ref["rig"].numpy(), atol=1e-5)
    assert not np.allclose(raw_rig, clamp(raw_rig))  # values outside the controller ranges stay: no clamp
    smoothed = animator.animate(audio, spec, transcript="")  # words: see test_bert_release_tokens_*
    assert np.allclose(smoothed, savgol_filter(ref["rig"].numpy(), 5, 2, axis=0, mode="nearest"), atol=1e-5)


def test_project_mode_differs_only_where_documented(imported) -> None:
    states, ckpt = imported
    project = Animator(checkpoint.load(ckpt), stand_ins(), torch.device("cpu"))
    release = Animator(checkpoint.load(ckpt), stand_ins(), torch.device("cpu"), mode="release")
    audio = speech(seed=1)
    # label path, no words: the untrained audio-only head is never used; the CMF reads the no-words input
    ours = project.animate(audio, "happy", transcript="", smooth=False)
    assert np.allclose(ours, clamp(project.animate(audio, "happy", transcript="[UNK]", smooth=False)))
    assert np.array_equal(ours, clamp(ours))  # clamped
    # text path: the project mode keeps the CLIP model's E_fuse but picks the head by the words
    spec = GuidanceSpec(text="a tired smile")
    unclamped = release.animate(audio, spec, transcript="", smooth=False)
    assert not np.allclose(clamp(unclamped), project.animate(audio, spec, transcript="", smooth=False), atol=1e-3)
    assert release.resampler == "soxr" and project.resampler == "poly"
    # the CLIP-stage E_fuse really is a different module from the label one, and each path uses its own
    with torch.no_grad():
        f = torch.randn(1, 5, H)
        label_e = release.model.emotion_from_guidance(f, torch.ones(1, 5), torch.tensor([False]))
        clip_e = release.model.emotion_from_guidance(f, torch.ones(1, 5), torch.tensor([True]))
    assert not torch.allclose(label_e, clip_e, atol=1e-4)
