"""`medtalk import-release`: the authors' four state dicts, built here from the release's module
names and shapes, converted into our paper-profile checkpoint and checked number for number."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from livelink_bridge.cli import main
from medtalk_core import checkpoint
from medtalk_core.errors import CheckpointError
from medtalk_core.release_import import STAGE_FILES, import_release, paper_backbones

# The release's modules (SJTU-Lucy/MEDTalk models/*.py, layers/*.py) at its default dims.
ENCODER = lambda i, h, o: {"fc1.weight": (h, i), "fc1.bias": (h,), "fc2.weight": (o, h), "fc2.bias": (o,)}  # noqa: E731
AUTOENCODER = {"emo_encoder": ENCODER(174, 256, 256), "cont_encoder": ENCODER(174, 256, 256),
               "decoder": ENCODER(512, 256, 174)}
ACM = {"audio_content_map": ENCODER(768, 256, 256)}
CMF = {"cross_attn.in_proj_weight": (2304, 768), "cross_attn.in_proj_bias": (2304,),
       "cross_attn.out_proj.weight": (768, 768), "cross_attn.out_proj.bias": (768,), "norm1.weight": (768,),
       "norm1.bias": (768,), "norm2.weight": (768,), "norm2.bias": (768,), "linear.weight": (768, 768),
       "linear.bias": (768,), "predictor.weight": (1, 768), "predictor.bias": (1,)}
LABELS = {"0.weight": (7, 256), "1.weight": (512, 256), "1.bias": (512,), "3.weight": (256, 512), "3.bias": (256,)}
WAV2VEC2 = {"audio_content_encoder.feature_extractor.conv_layers.0.conv.weight": (512, 1, 10),
            "audio_content_encoder.encoder.layers.0.attention.k_proj.weight": (768, 768)}
BERT = {"text_encoder.embeddings.word_embeddings.weight": (21128, 8)}  # shortened: only skipped
CLIP = {"clip_encoder.text_projection.weight": (512, 512), "clip_encoder.logit_scale": ()}
RELEASE = {
    "cross_recon.pth": AUTOENCODER,
    "audio_cont.pth": {**AUTOENCODER, **ACM, "": WAV2VEC2},
    "audio_semantic.pth": {**AUTOENCODER, **ACM, "fusion_predictor": CMF, "emotion_embedding": LABELS,
                           "semantic_emotion_map": ENCODER(256, 256, 256), "": {**WAV2VEC2, **BERT}},
    "clip_emotion.pth": {**AUTOENCODER, **ACM, "fusion_predictor": ENCODER(768, 256, 1),
                         "clip_text_map": ENCODER(512, 256, 256), "clip_image_map": ENCODER(512, 256, 256),
                         "semantic_emotion_map": ENCODER(256, 256, 256), "": {**WAV2VEC2, **CLIP}},
}


def release_states(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Random tensors in the release's layout; frozen modules are shared copies, as after training."""
    gen = torch.Generator().manual_seed(seed)
    shared: dict[str, torch.Tensor] = {}
    states: dict[str, dict[str, torch.Tensor]] = {}
    for name, modules in RELEASE.items():
        state = {}
        for module, params in modules.items():
            for param, shape in params.items():
                key = f"{module}.{param}" if module else param
                frozen = module in AUTOENCODER or module in ACM or not module
                if frozen and key in shared:
                    state[key] = shared[key].clone()
                    continue
                state[key] = torch.randn(shape, generator=gen) * 0.05
                if frozen:
                    shared[key] = state[key]
        states[name] = state
    return states


def write_release(folder: Path, states: dict[str, dict[str, torch.Tensor]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, state in states.items():
        torch.save(state, folder / name)
    return folder


def encoder(x: torch.Tensor, state: dict[str, torch.Tensor], module: str) -> torch.Tensor:
    """The release's Encoder/Decoder forward, from its own tensors."""
    h = F.relu(F.linear(x, state[f"{module}.fc1.weight"], state[f"{module}.fc1.bias"]))
    return F.linear(h, state[f"{module}.fc2.weight"], state[f"{module}.fc2.bias"])


def test_import_maps_every_module_and_reproduces_release_outputs(tmp_path: Path) -> None:
    states = release_states()
    report = import_release(write_release(tmp_path / "weights", states), tmp_path / "ckpt")
    assert report.files == list(STAGE_FILES) and not report.missing and not report.unknown
    assert report.sources["audio_intensity"] == "clip_emotion.pth"
    assert report.sources["emo_encoder"] == "cross_recon.pth"
    assert report.skipped_backbone_tensors["wav2vec2 (facebook/wav2vec2-base-960h)"] == 3 * len(WAV2VEC2)
    assert report.sources["semantic_emotion_map"] == "audio_semantic.pth"  # the label path's E_fuse
    assert report.sources["clip_semantic_emotion_map"] == "clip_emotion.pth"  # the text/image paths'
    assert report.differing_copies == []  # frozen copies agree; the two E_fuse are kept apart

    loaded = checkpoint.load(tmp_path / "ckpt")
    assert loaded.stage == "release" and loaded.backbones == paper_backbones()
    assert loaded.extra["release_import"]["sources"] == report.sources
    model, sem, clip = loaded.model, states["audio_semantic.pth"], states["clip_emotion.pth"]
    assert torch.equal(model.audio_intensity.fc1.weight, clip["fusion_predictor.fc1.weight"])
    assert torch.equal(model.fusion_predictor.cross_attn.in_proj_weight, sem["fusion_predictor.cross_attn.in_proj_weight"])
    assert torch.equal(model.semantic_emotion_map.fc2.bias, sem["semantic_emotion_map.fc2.bias"])

    # the release's label path (AudioSemanticNet.forward_validate) computed from its own tensors
    torch.manual_seed(1)
    wav2vec = torch.randn(1, 30, 768)  # (B, T, 768) content features
    intensity = torch.rand(1, 30)  # (B, T)
    emb = sem["emotion_embedding.0.weight"][3]  # happy
    emb = F.leaky_relu(F.linear(emb, sem["emotion_embedding.1.weight"], sem["emotion_embedding.1.bias"]), 0.2)
    emb = F.linear(emb, sem["emotion_embedding.3.weight"], sem["emotion_embedding.3.bias"])  # (256,)
    emo = encoder(emb * (intensity[..., None] / (emb.norm() + 1e-8)), sem, "semantic_emotion_map")  # (1, T, 256)
    cont = encoder(wav2vec, sem, "audio_content_map")  # (1, T, 256)
    expected = encoder(torch.cat((emo, cont), dim=2), sem, "decoder")  # (1, T, 174)
    with torch.no_grad():
        g = model.guidance_from_label(torch.tensor([3]))
        ours = model.decode(model.emotion_from_guidance(g, intensity), model.content_from_audio(wav2vec))
        assert torch.allclose(ours, expected, atol=1e-5)
        # the CLIP model's audio-only intensity MLP (its `fusion_predictor`)
        q = torch.randn(1, 30, 768)
        assert torch.allclose(model.intensity(q), encoder(q, clip, "fusion_predictor")[..., 0], atol=1e-5)


def test_demo_files_only_keep_both_fuse_maps(tmp_path: Path) -> None:
    states = release_states()
    demo = {k: states[k] for k in ("audio_semantic.pth", "clip_emotion.pth")}  # what the release's demos load
    report = import_release(write_release(tmp_path / "w", demo), tmp_path / "ckpt")
    assert report.files == ["audio_semantic.pth", "clip_emotion.pth"] and not report.missing
    assert report.sources["emo_encoder"] == "audio_semantic.pth"  # a frozen copy stands in for cross_recon.pth
    loaded = checkpoint.load(tmp_path / "ckpt")
    assert loaded.model_config.clip_fuse and loaded.extra["untrained_modules"] == ["audio_intensity"]
    model = loaded.model
    assert torch.equal(model.semantic_emotion_map.fc1.weight, states["audio_semantic.pth"]["semantic_emotion_map.fc1.weight"])
    assert torch.equal(model.clip_semantic_emotion_map.fc1.weight,
                       states["clip_emotion.pth"]["semantic_emotion_map.fc1.weight"])


def test_unknown_missing_and_misshapen_keys_are_listed_by_name(tmp_path: Path) -> None:
    states = release_states()
    bad = dict(states)
    bad["audio_semantic.pth"] = {**states["audio_semantic.pth"], "style_head.weight": torch.zeros(3),
                                 "decoder.fc3.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"audio_semantic.pth: style_head.weight.*") as info:
        import_release(write_release(tmp_path / "a", bad), tmp_path / "ca")
    assert "audio_semantic.pth: decoder.fc3.weight" in str(info.value)
    assert not (tmp_path / "ca").exists()

    only_ae = {"cross_recon.pth": states["cross_recon.pth"]}
    with pytest.raises(CheckpointError, match="audio_content_map.fc1.weight.*clip_text_map"):
        import_release(write_release(tmp_path / "b", only_ae), tmp_path / "cb")
    report = import_release(tmp_path / "b", tmp_path / "cb", allow_missing=True)
    assert "audio_intensity.fc2.bias" in report.missing and len(report.missing) == 53 - 12  # all but the autoencoder
    assert checkpoint.load(tmp_path / "cb").extra["release_import"]["missing"] == report.missing

    narrow = {"cross_recon.pth": {**states["cross_recon.pth"], "decoder.fc1.weight": torch.zeros(128, 512)}}
    with pytest.raises(CheckpointError, match=r"decoder.fc1.weight \(128, 512\) \(ours \(256, 512\)\)"):
        import_release(write_release(tmp_path / "c", narrow), tmp_path / "cc", allow_missing=True)


def test_pickled_objects_are_refused_and_empty_folders_named(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="no release weights.*cross_recon.pth"):
        import_release(folder, tmp_path / "out")
    torch.save({"decoder.fc1.weight": torch.zeros(1), "args": Path("x")}, folder / "cross_recon.pth")
    with pytest.raises(CheckpointError, match="refusing to load"):
        import_release(folder, tmp_path / "out")


def test_cli_import_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = write_release(tmp_path / "weights", release_states())
    out = tmp_path / "medtalk-release"
    assert main(["import-release", "--in", str(weights), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "audio_intensity" in printed and "clip_emotion.pth" in printed and str(out) in printed
    assert main(["import-release", "--in", str(weights), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["import-release", "--in", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and len(err.strip().splitlines()) == 1


def test_paper_profile_config_points_at_the_imported_checkpoint() -> None:
    from livelink_bridge.daemon_config import load_daemon_config

    cfg = load_daemon_config(Path(__file__).resolve().parents[1] / "configs" / "paper.yaml")
    assert cfg.model.checkpoint == "checkpoints/medtalk-release" and cfg.model.transcribe
    names = {kind: getattr(paper_backbones(), kind).name for kind in
             ("audio_content", "audio_emotion", "transcriber", "text", "guidance")}
    assert names == {"audio_content": "wav2vec2", "audio_emotion": "emotion2vec", "transcriber": "faster_whisper",
                     "text": "bert", "guidance": "clip_hf"}
    from medtalk_core.backbones import build_backbones

    built = build_backbones(paper_backbones())  # constructors only: nothing loads or downloads yet
    assert built.audio_content.settings.mode == "release" and built.guidance.name.startswith("hf_clip")
