"""Training stages on a tiny EmoFace-layout set made from arrays: what each stage freezes,
that the loss falls, CSV + PNG + checkpoint outputs, resume, and the guidance stage with a
tiny random open_clip model."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from medtalk_core import checkpoint
from medtalk_core.audio import SAMPLE_RATE, write_audio
from medtalk_core.backbones import BackboneConfig, BackboneSpec
from medtalk_core.data.emoface import EmoFaceDataset
from medtalk_core.errors import MedtalkError
from medtalk_core.model import MEDTalk, trainable_modules
from medtalk_core.rig import EMOTIONS, NUM_CONTROLS, s_emo, s_lip
from medtalk_core.train import TrainRecipe, Variant, train
from medtalk_core.train.features import FeatureCache
from medtalk_core.train.recipe import DataConfig, load_recipe
from medtalk_core.train.trainer import Trainer, TrainData, set_stage_trainable

USED_EMOTIONS = ("angry", "happy", "sad")
TINY_MODEL = {
    "hidden_dim": 32, "latent_dim": 16, "label_dim": 16, "content_feat_dim": 80, "emotion_feat_dim": 24,
    "text_feat_dim": 16, "clip_dim": 32, "fusion_dim": 24, "fusion_heads": 2, "encoder": "mlp",
    "content_frontend_layers": 1, "content_frontend_dim": 16, "emotion_frontend_layers": 1,
}


def _write_dataset(root: Path) -> Path:
    """3 sentences x 3 emotions (train) + 1 sentence x 3 emotions (val); 0.4-0.6 s each.
    Lip channels follow the sentence's audio envelope, emotion channels the label."""
    rng = np.random.default_rng(0)
    for d in ("WAV", "CTR", "TXT"):
        (root / d).mkdir(parents=True)
    lip, emo = list(s_lip())[:20], list(s_emo())[:20]
    rows = ["name,emotion,content_id,speaker,split"]
    for s in range(4):
        frames = 24 + 6 * s
        t = np.arange(frames) / 60.0
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (2 + s) * t)  # (T,)
        for e, emotion in enumerate(USED_EMOTIONS):
            name = f"{emotion}_s{s:02d}"
            n = int(round(frames * SAMPLE_RATE / 60))
            tt = np.arange(n) / SAMPLE_RATE
            env = np.interp(tt, t, envelope)
            audio = (0.2 + 0.1 * e) * env * np.sin(2 * np.pi * (150 + 40 * e) * tt) + 0.01 * rng.standard_normal(n)
            write_audio(root / "WAV" / f"{name}.wav", audio.astype(np.float32))
            rig = np.zeros((frames, NUM_CONTROLS), np.float32)
            rig[:, lip] = 0.4 * envelope[:, None]
            rig[:, emo] += 0.3 * (e + 1) / 3 * (0.8 + 0.2 * envelope[:, None])
            np.savetxt(root / "CTR" / f"{name}.txt", rig, delimiter=",", fmt="%.5f")
            (root / "TXT" / f"{name}.txt").write_text(f"sentence {s} {emotion} words", encoding="utf-8")
            rows.append(f"{name},{emotion},s{s:02d},spk,{'val' if s == 3 else 'train'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("tiny_set"))


@pytest.fixture(scope="module")
def model_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "test_tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_MODEL), encoding="utf-8")
    return path


def _recipe(data: Path, model_yaml: Path, **stage_epochs) -> TrainRecipe:
    from medtalk_core.train.recipe import CrossReconConfig, OptimConfig, StageConfig

    fast = OptimConfig(lr=3e-3, gamma=0.9, step_size=10)
    return TrainRecipe(
        data=DataConfig(root=str(data), max_frames=32),
        model=str(model_yaml), batch_size=4, threads=1, device="cpu",
        backbones=BackboneConfig(text=BackboneSpec("hashed", options={"dim": 16}), transcriber=BackboneSpec("none"),
                                 guidance=BackboneSpec("none")),
        cross_recon=CrossReconConfig(self_epochs=stage_epochs.get("self", 2), overlap_emotion_epochs=1,
                                     overlap_content_epochs=1, cycle_epochs=1, optim=fast),
        acm=StageConfig(epochs=stage_epochs.get("acm", 2), optim=fast),
        fim=StageConfig(epochs=stage_epochs.get("fim", 2), optim=fast),
    )


@pytest.fixture(scope="module")
def trained(tiny_data, model_yaml, tmp_path_factory) -> tuple[Path, TrainRecipe]:
    """cross_recon, acm, fim run once into one folder (guidance is skipped: no CLIP backbone)."""
    recipe = _recipe(tiny_data, model_yaml)
    out = tmp_path_factory.mktemp("run")
    results = train(recipe, out, stage="all")
    assert [r.stage for r in results] == ["cross_recon", "acm", "fim"]
    return out, recipe


def _trainer(recipe: TrainRecipe, model: MEDTalk, out: Path, guidance=None) -> Trainer:
    from medtalk_core.train.run import _feature_backbones

    backbones = _feature_backbones(recipe, with_guidance=False)
    dataset = EmoFaceDataset(recipe.data.root, split="train")
    feats = FeatureCache(backbones, recipe.backbones).all(dataset)
    data = TrainData(dataset, feats, [], guidance=guidance)
    return Trainer(recipe, model, data, out, recipe.backbones)


@pytest.mark.parametrize("stage,phase", [("cross_recon", "self"), ("cross_recon", "overlap_content"),
                                         ("cross_recon", "cycle"), ("acm", "acm"), ("fim", "fim"),
                                         ("end_to_end", "end_to_end")])
def test_one_step_changes_only_the_stage_modules(tiny_data, model_yaml, tmp_path, stage, phase) -> None:
    recipe = _recipe(tiny_data, model_yaml)
    torch.manual_seed(0)
    from medtalk_core.train.run import build_model

    model = build_model(recipe)
    trainer = _trainer(recipe, model, tmp_path)
    names = set(set_stage_trainable(model, stage))
    if stage != "end_to_end":
        assert names == set(trainable_modules(stage, model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    members, indices = trainer._make_batches(trainer._groups(phase, random.Random(0)), trainer.data.train,
                                             random.Random(0))[0]
    loss = trainer.loss(stage, phase, members, indices)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    for key, value in before.items():
        module = key.split(".")[0]
        if module in names:
            continue
        assert torch.equal(value, after[key]), f"{key} is frozen in {stage} but changed"
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    # every trainable module this loss reaches moved
    expected = {"cross_recon": {"emo_encoder", "cont_encoder", "decoder"},
                "acm": {"audio_content_map", "content_frontend"},
                "fim": {"fusion_predictor", "emotion_embedding", "semantic_emotion_map", "emotion_frontend",
                        "text_frontend", "audio_intensity"},
                "end_to_end": {"audio_content_map", "content_frontend", "fusion_predictor", "emotion_embedding",
                               "semantic_emotion_map", "decoder", "emotion_frontend", "text_frontend"}}[stage]
    assert all(hasattr(model, n) for n in expected)
    assert expected <= changed, f"{stage}: {expected - changed} did not train"


def test_loss_falls_within_a_few_steps(tiny_data, model_yaml, tmp_path) -> None:
    recipe = dataclasses.replace(_recipe(tiny_data, model_yaml), batch_size=9)
    torch.manual_seed(0)
    from medtalk_core.train.run import build_model

    model = build_model(recipe)
    trainer = _trainer(recipe, model, tmp_path)
    set_stage_trainable(model, "cross_recon")
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    rng = random.Random(0)
    batch = trainer._make_batches(trainer._groups("self", rng), trainer.data.train, rng)[0]
    losses = []
    for _ in range(15):
        loss = trainer.loss("cross_recon", "self", *batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_all_stages_write_checkpoint_csv_and_png(trained) -> None:
    out, recipe = trained
    for stage in ("cross_recon", "acm", "fim"):
        folder = out / stage
        rows = (folder / "loss.csv").read_text().strip().splitlines()
        assert rows[0].startswith("epoch,phase,lr,train_loss,val_loss")
        epochs = {"cross_recon": 5, "acm": 2, "fim": 2}[stage]
        assert len(rows) == 1 + epochs
        assert (folder / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        loaded = checkpoint.load(folder)
        assert loaded.stage == stage and loaded.step > 0
    phases = [line.split(",")[1] for line in (out / "cross_recon" / "loss.csv").read_text().splitlines()[1:]]
    assert phases == ["self", "self", "overlap_emotion", "overlap_content", "cycle"]
    summary = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summary] == ["cross_recon", "acm", "fim"]
    assert not (out / "resume" / "state.json").exists()


def test_stages_build_on_each_other(trained) -> None:
    """acm must leave the cross_recon modules as they were; fim leaves acm's."""
    out, _ = trained
    cross = checkpoint.load(out / "cross_recon").model.state_dict()
    acm = checkpoint.load(out / "acm").model.state_dict()
    fim = checkpoint.load(out / "fim").model.state_dict()
    for key in cross:
        if key.startswith(("emo_encoder", "cont_encoder", "decoder")):
            assert torch.equal(cross[key], acm[key]) and torch.equal(acm[key], fim[key])
        if key.startswith(("audio_content_map", "content_frontend")):
            assert torch.equal(acm[key], fim[key])
            assert not torch.equal(cross[key], acm[key]) or "bias" in key


def test_earlier_outputs_are_never_overwritten(trained) -> None:
    out, recipe = trained
    with pytest.raises(MedtalkError, match="already holds"):
        train(recipe, out, stage="acm")
    assert train(recipe, out, stage="acm", resume=True) == []  # done: skipped, nothing rewritten


def test_stage_without_its_predecessor_is_refused(tiny_data, model_yaml, tmp_path) -> None:
    with pytest.raises(MedtalkError, match="builds on the earlier stages"):
        train(_recipe(tiny_data, model_yaml), tmp_path / "fresh", stage="fim")


def test_interrupt_saves_state_and_resume_finishes(tiny_data, model_yaml, tmp_path, monkeypatch) -> None:
    recipe = _recipe(tiny_data, model_yaml, self=3)
    out = tmp_path / "run"
    from medtalk_core.train import trainer as trainer_module

    calls = {"n": 0}
    real = trainer_module.Trainer.validate

    def interrupting_validate(self, stage, phase):
        calls["n"] += 1
        if calls["n"] == 2:  # Ctrl-C during the second epoch's validation
            raise KeyboardInterrupt
        return real(self, stage, phase)

    monkeypatch.setattr(trainer_module.Trainer, "validate", interrupting_validate)
    with pytest.raises(trainer_module.StageInterrupted, match="--resume"):
        train(recipe, out, stage="cross_recon")
    state = json.loads((out / "resume" / "state.json").read_text())
    assert state["stage"] == "cross_recon" and state["epochs_done"] == 1
    assert not (out / "cross_recon" / "config.json").exists()
    resume = out / "resume"
    assert sorted(p.name for p in resume.iterdir()) == sorted(["state.json", state["weights"]])  # one unit
    (resume / "epoch0002-cut").mkdir()  # a later save cut short before its commit: never read
    (resume / "epoch0002-cut" / "model.safetensors").write_bytes(b"half")
    monkeypatch.setattr(trainer_module.Trainer, "validate", real)
    train(recipe, out, stage="cross_recon", resume=True)
    assert list(resume.iterdir()) == []  # the stage's checkpoint supersedes every resume file
    rows = (out / "cross_recon" / "loss.csv").read_text().strip().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert checkpoint.load(out / "cross_recon").stage == "cross_recon"


def test_recipes_in_configs_load_and_reject_unknown_keys(tmp_path) -> None:
    repo = Path(__file__).resolve().parents[1]
    for name in ("synthetic", "emoface"):
        recipe = load_recipe(repo / "configs" / "train" / f"{name}.yaml")
        assert recipe.cross_recon.optim.lr == pytest.approx(1e-4)
        assert recipe.fim.optim.gamma == pytest.approx(0.9)
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  root: x\n  max_frame: 10\n", encoding="utf-8")
    with pytest.raises(MedtalkError, match="unknown config key: data.max_frame"):
        load_recipe(bad)


def test_variant_static_intensity_ignores_the_intensity_heads(tiny_data, model_yaml, tmp_path) -> None:
    from medtalk_core.train.losses import emotion_path
    from medtalk_core.train.run import build_model

    recipe = _recipe(tiny_data, model_yaml)
    model = build_model(recipe).eval()
    trainer = _trainer(recipe, model, tmp_path)
    rng = random.Random(0)
    (batch,), _ = trainer._make_batches(trainer._groups("fim", rng), trainer.data.train, rng)[0]
    g = model.guidance_from_label(batch.emotion)
    static = emotion_path(model, batch, g, Variant(dynamic_intensity=False))
    assert torch.allclose(static[:, 0], static[:, -1])  # the same emotion embedding in every frame
    dynamic = emotion_path(model, batch, g, Variant())
    assert not torch.allclose(dynamic[:, 0], dynamic[:, 1])


def test_eval_cli_prints_metrics_swap_and_writes_json_and_figure(trained, tiny_data, tmp_path, capsys) -> None:
    from livelink_bridge.cli import main

    out, _ = trained
    report = tmp_path / "report.json"
    assert main(["eval", "--checkpoint", str(out / "fim"), "--data", str(tiny_data), "--split", "val",
                 "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "MLE" in printed and "swap check" in printed
    data = json.loads(report.read_text())
    assert data["metrics"]["clips"] == 3 and data["metrics"]["MLE"] > 0
    assert data["swap"]["pairs"] == 3 and data["swap"]["upper_face_change"] >= 0
    assert (tmp_path / "eval_embeddings.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_metrics_match_metrics_module_on_predictions(trained, tiny_data) -> None:
    from medtalk_core import evaluate, metrics

    out, _ = trained
    report, model, clips = evaluate.evaluate_checkpoint(out / "fim", tiny_data, "val")
    preds = evaluate.predict(model, clips)
    expected = metrics.dataset_metrics((p, c.rig.numpy()) for p, c in zip(preds, clips))
    assert report.metrics == expected
    assert all(p.shape == (c.num_frames, NUM_CONTROLS) for p, c in zip(preds, clips))


def test_swap_check_separates_a_disentangled_decoder() -> None:
    """A hand-built model whose decoder writes the emotion half only to upper-face controllers
    and the content half only to lip controllers: swapping emotion moves only the upper face."""
    from medtalk_core.evaluate import swap_check
    from medtalk_core.model import ModelConfig
    from medtalk_core.rig import s_up
    from medtalk_core.train.batching import ClipFeatures

    cfg = ModelConfig(hidden_dim=8, latent_dim=4, label_dim=4, content_feat_dim=4, emotion_feat_dim=4,
                      text_feat_dim=4, clip_dim=4, fusion_dim=4, fusion_heads=1)
    model = MEDTalk(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        # E_e reads an upper-face channel, E_c a lip channel; D writes them back where they came from
        up, lip = s_up()[0], s_lip()[0]
        model.emo_encoder.fc1.weight[0, up] = 1.0
        model.emo_encoder.fc2.weight[0, 0] = 1.0
        model.cont_encoder.fc1.weight[0, lip] = 1.0
        model.cont_encoder.fc2.weight[0, 0] = 1.0
        model.decoder.fc1.weight[0, 0] = 1.0  # emotion half, unit 0
        model.decoder.fc1.weight[1, 4] = 1.0  # content half, unit 1
        model.decoder.fc2.weight[up, 0] = 1.0
        model.decoder.fc2.weight[lip, 1] = 1.0
    clips = []
    for e in (0, 3):
        rig = torch.zeros(10, NUM_CONTROLS)
        rig[:, up] = 0.2 * (e + 1)
        rig[:, lip] = torch.linspace(0, 1, 10)
        clips.append(ClipFeatures(f"{EMOTIONS[e]}_x", rig, torch.zeros(10, 4), torch.zeros(10, 4), torch.zeros(1, 4), e))
    result = swap_check(model, clips)
    assert result["lip_change"] == pytest.approx(0.0)
    assert result["upper_face_change"] == pytest.approx(0.6 / len(s_up()))


def test_ablations_train_every_variant_with_the_same_budget(trained, tiny_data, tmp_path) -> None:
    from medtalk_core.ablations import VARIANTS, run_ablations, scale_epochs
    from medtalk_core.evaluate import feature_backbones, load_split

    _, recipe = trained
    small = scale_epochs(recipe, 0.5)
    assert small.cross_recon.self_epochs == 1 and small.acm.epochs == 1
    clips = load_split(FeatureCache(feature_backbones(recipe.backbones), recipe.backbones), tiny_data, "val")
    results = run_ablations(small, tmp_path / "abl", clips)
    assert list(results) == list(VARIANTS)
    assert all(np.isfinite([m.MLE, m.MEE, m.EIE, m.FRD]).all() for m in results.values())
    phases = [r.split(",")[1] for r in (tmp_path / "abl" / "wo_overlap" / "cross_recon" / "loss.csv")
              .read_text().splitlines()[1:]]
    assert "overlap_emotion" not in phases and len(phases) == 4  # same cross_recon budget as the full run
    assert (tmp_path / "abl" / "wo_disentangle" / "end_to_end" / "config.json").is_file()
    assert not (tmp_path / "abl" / "wo_text" / "cross_recon").exists()  # built on the full run's acm


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> BackboneSpec:
    """A randomly initialised tiny open_clip model saved to disk and loaded through the real
    OpenClipGuidance path (a local weights file and a registered architecture config)."""
    open_clip = pytest.importorskip("open_clip")
    folder = tmp_path_factory.mktemp("tiny_clip")
    arch = {"embed_dim": 32,
            "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (folder / "medtalk-test-clip.json").write_text(json.dumps(arch), encoding="utf-8")
    open_clip.add_model_config(folder / "medtalk-test-clip.json")
    torch.manual_seed(0)
    torch.save(open_clip.create_model("medtalk-test-clip", pretrained=None).state_dict(), folder / "weights.pt")
    return BackboneSpec("open_clip", path=str(folder / "weights.pt"),
                        options={"arch": "medtalk-test-clip", "arch_config": str(folder / "medtalk-test-clip.json")})


def test_guidance_stage_trains_only_projections_fuse_and_audio_head(trained, tiny_clip, tmp_path) -> None:
    out, recipe = trained
    recipe = dataclasses.replace(recipe, backbones=dataclasses.replace(recipe.backbones, guidance=tiny_clip))
    results = train(recipe, tmp_path / "g", stage="guidance", init=out / "fim")
    assert [r.stage for r in results] == ["guidance"]
    before = checkpoint.load(out / "fim").model.state_dict()
    after = checkpoint.load(tmp_path / "g" / "guidance").model.state_dict()
    trained_modules = {"clip_text_map", "clip_image_map", "semantic_emotion_map", "audio_intensity"}
    for key in before:
        if key.split(".")[0] in trained_modules:
            continue
        assert torch.equal(before[key], after[key]), f"{key} changed in the guidance stage"
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == trained_modules
    assert (tmp_path / "g" / "guidance" / "loss.png").is_file()


def test_guidance_descriptions_follow_emotion_and_strength() -> None:
    from medtalk_core.train.guidance_data import describe, reference_frame, strength_word

    rng = random.Random(0)
    assert strength_word(0.5) == "slightly " and strength_word(1.0) == "" and strength_word(2.0) == "very "
    text = describe(EMOTIONS.index("happy"), 2.0, rng)
    assert "very " in text and any(w in text for w in ("happy", "joyful", "cheerful"))
    rig = np.zeros((5, NUM_CONTROLS), np.float32)
    rig[3, 29] = 1.0  # S_int channel: frame 3 is the most intense
    assert np.array_equal(reference_frame(rig), rig[3])


def test_train_cli_runs_a_stage_and_rejects_bad_flags(tiny_data, model_yaml, tmp_path, capsys) -> None:
    from livelink_bridge.cli import main

    recipe = {"data": {"root": "unused", "max_frames": 32}, "model": str(model_yaml), "batch_size": 4, "threads": 1,
              "device": "cpu",
              "backbones": {"text": {"name": "hashed", "options": {"dim": 16}}, "transcriber": {"name": "none"},
                            "guidance": {"name": "none"}},
              "cross_recon": {"self_epochs": 1, "overlap_emotion_epochs": 0, "overlap_content_epochs": 0,
                              "cycle_epochs": 1}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["train", "--config", str(path), "--data", str(tiny_data), "--stage", "cross_recon",
                 "--out", str(out), "--no-progress"]) == 0
    assert "final checkpoint" in capsys.readouterr().out
    assert [r.split(",")[1] for r in (out / "cross_recon" / "loss.csv").read_text().splitlines()[1:]] == ["self", "cycle"]
    assert main(["train", "--config", str(path), "--resume"]) == 2  # --resume needs --out
    assert "--resume needs --out" in capsys.readouterr().err
    assert main(["eval", "--data", str(tiny_data), "--recipe", str(path)]) == 2


def test_contact_weight_weighs_frames_where_the_lips_touch() -> None:
    from medtalk_core.rig import contact_columns, controller_names, lip_contact
    from medtalk_core.train.batching import ClipFeatures, collate, masked_mse

    names = [controller_names()[i] for i in contact_columns()]
    assert names and all("lipsTogether" in n or "lipBiteD" in n for n in names)
    rig = torch.zeros(6, NUM_CONTROLS)
    rig[2, contact_columns()[0]] = 0.8  # lips together on frame 2
    rig[3, contact_columns()[-1]] = 2.0  # beyond 1: counted as 1
    assert torch.allclose(lip_contact(rig), torch.tensor([0, 0, 0.8, 1.0, 0, 0]))
    assert np.allclose(lip_contact(rig.numpy()), [0, 0, 0.8, 1.0, 0, 0])
    clip = ClipFeatures("a", rig, torch.zeros(6, 3), torch.zeros(6, 2), torch.zeros(1, 4), 0)
    short = ClipFeatures("b", rig[:4], torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(1, 4), 0)
    plain, weighted = collate([clip, short]), collate([clip, short], contact_weight=3.0)
    assert torch.equal(plain.frame_weight, plain.mask.float())
    assert torch.allclose(weighted.frame_weight[0], torch.tensor([1, 1, 3.4, 4.0, 1, 1]))
    assert torch.allclose(weighted.frame_weight[1], torch.tensor([1, 1, 3.4, 4.0, 0, 0]))  # padding stays 0
    # A weighted mean: an error on the contact frames costs more than the same error elsewhere.
    target = torch.zeros(2, 6, NUM_CONTROLS)
    at_contact, elsewhere = target.clone(), target.clone()
    at_contact[:, 3] += 1.0
    elsewhere[:, 0] += 1.0
    assert masked_mse(at_contact, target, weighted.frame_weight) > masked_mse(elsewhere, target, weighted.frame_weight)
    assert torch.isclose(masked_mse(at_contact, target, plain.mask), masked_mse(elsewhere, target, plain.mask))
    with pytest.raises(Exception, match="contact_weight"):
        TrainRecipe(contact_weight=-1.0)


def test_rounding_weight_weighs_frames_where_the_lips_round() -> None:
    from medtalk_core.rig import controller_names, lip_rounding, rounding_columns
    from medtalk_core.train.batching import ClipFeatures, collate

    names = [controller_names()[i] for i in rounding_columns()]
    assert len(names) == 8 and all("purse" in n or "towards" in n for n in names)
    rig = torch.zeros(4, NUM_CONTROLS)
    rig[1, list(rounding_columns())] = 0.5  # half rounded
    rig[2, list(rounding_columns())] = 1.5  # beyond 1: counted as 1
    assert torch.allclose(lip_rounding(rig), torch.tensor([0, 0.5, 1.0, 0]))
    assert np.allclose(lip_rounding(rig.numpy()), [0, 0.5, 1.0, 0])
    clip = ClipFeatures("a", rig, torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(1, 4), 0)
    both = collate([clip], contact_weight=3.0, rounding_weight=2.0).frame_weight[0]
    assert torch.allclose(both, torch.tensor([1, 2.0, 3.0, 1]))  # no contact here: rounding alone
    with pytest.raises(Exception, match="rounding_weight"):
        TrainRecipe(rounding_weight=-0.5)


def test_feature_cache_never_serves_a_rig_that_was_rebuilt(tiny_data, model_yaml, tmp_path) -> None:
    """Rigs rebuilt in place (after a change to the articulation) must reach training, not the cache's copy."""
    import shutil

    from medtalk_core.train.run import _feature_backbones

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    recipe = _recipe(data, model_yaml)
    backbones = _feature_backbones(recipe, with_guidance=False)
    cache = tmp_path / "cache"
    dataset = EmoFaceDataset(data, split="train")
    first = FeatureCache(backbones, recipe.backbones, cache).get(dataset, 0)
    files = sorted(cache.rglob("*.safetensors"))
    again = FeatureCache(backbones, recipe.backbones, cache).get(EmoFaceDataset(data, split="train"), 0)
    assert torch.equal(again.rig, first.rig) and sorted(cache.rglob("*.safetensors")) == files  # read from disk
    rig_path = dataset.clips[0].rig_path
    rebuilt = np.loadtxt(rig_path, delimiter=",", dtype=np.float32) * 0.5 + 0.01
    np.savetxt(rig_path, rebuilt, fmt="%.5f", delimiter=",")
    fresh = FeatureCache(backbones, recipe.backbones, cache).get(EmoFaceDataset(data, split="train"), 0)
    assert torch.allclose(fresh.rig, torch.as_tensor(rebuilt[: fresh.num_frames]), atol=1e-5)
    assert not torch.allclose(fresh.rig, first.rig)
