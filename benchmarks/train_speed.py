"""Training speed: one epoch of each stage (each cross-reconstruction phase, ACM, FIM, guidance)
of the shipped default model's recipe, on a small synthetic set made from arrays.

    python benchmarks/train_speed.py [--device cuda] [--sentences 12] [--clip full|tiny|none]
        [--threads 2] [--table FILE --label NAME]

The set is 7 emotions x --sentences utterances of 3 s, in the EmoFace layout (speech-like audio,
lip controls on the syllable envelope, emotion controls by label), split 80 / 20 into train and
val, so every stage runs as `medtalk train` runs it. The guidance stage needs CLIP: a random
CLIP ViT-B/32 (benchmarks/random_backbones.py; `tiny` for a dry run, `none` to leave the stage out).
Feature extraction (the built-in backbones, and CLIP for the guidance triples) is timed apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_backbones  # noqa: E402
from bake import speechlike  # noqa: E402
from device_options import device_name  # noqa: E402
from md_table import append_rows  # noqa: E402

from medtalk_core.audio import FPS, SAMPLE_RATE, write_audio  # noqa: E402
from medtalk_core.backbones import BackboneSpec  # noqa: E402
from medtalk_core.devices import resolve_device  # noqa: E402
from medtalk_core.model import load_model_config  # noqa: E402
from medtalk_core.rig import EMOTIONS, NUM_CONTROLS, s_emo, s_lip  # noqa: E402

CLIP_SECONDS = 3.0


def write_set(root: Path, sentences: int) -> int:
    """EmoFace-layout set: every sentence in every emotion, frame-aligned across emotions."""
    rng = np.random.default_rng(0)
    for d in ("WAV", "CTR", "TXT"):
        (root / d).mkdir(parents=True)
    lip, emo = list(s_lip()), list(s_emo())
    rows = ["name,emotion,content_id,speaker,split"]
    frames = int(CLIP_SECONDS * FPS)
    t = np.arange(frames) / FPS
    for s in range(sentences):
        envelope = np.clip(np.sin(2 * np.pi * (3.0 + 0.2 * s) * t), 0, None)  # (T,) syllables
        audio = speechlike(CLIP_SECONDS, SAMPLE_RATE, rng)
        for e, emotion in enumerate(EMOTIONS):
            name = f"{emotion}_s{s:03d}"
            write_audio(root / "WAV" / f"{name}.wav", (0.6 + 0.1 * e) * audio)
            rig = np.zeros((frames, NUM_CONTROLS), np.float32)
            rig[:, lip] = 0.5 * envelope[:, None]
            rig[:, emo] += 0.4 * (e / len(EMOTIONS)) * (0.8 + 0.2 * envelope[:, None])
            np.savetxt(root / "CTR" / f"{name}.txt", rig, delimiter=",", fmt="%.4f")
            (root / "TXT" / f"{name}.txt").write_text(f"sentence {s} said in a {emotion} voice", encoding="utf-8")
            rows.append(f"{name},{emotion},s{s:03d},spk,{'val' if s % 5 == 4 else 'train'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return sentences * len(EMOTIONS)


def recipe_for(data: Path, scratch: Path, device: str | None, threads: int, clip: str):
    from medtalk_core.train.recipe import DataConfig, load_recipe

    base = load_recipe(Path(__file__).resolve().parents[1] / "configs" / "train" / "synthetic.yaml")
    model = base.model
    guidance = BackboneSpec("none")
    if clip != "none":
        spec, _ = random_backbones.clip(scratch, clip)
        guidance = dataclasses.replace(spec, options={"device": device})  # a CPU run keeps CLIP off the GPU too
        if clip == "tiny":  # the tiny CLIP projects to 16, the profile expects ViT-B/32's 512
            cfg = dataclasses.asdict(load_model_config(base.model))
            model = str(scratch / "model.yaml")
            Path(model).write_text(yaml.safe_dump({**cfg, "clip_dim": 16}), encoding="utf-8")
    one = dict(self_epochs=1, overlap_emotion_epochs=1, overlap_content_epochs=1, cycle_epochs=1)
    return dataclasses.replace(
        base, data=DataConfig(root=str(data), max_frames=base.data.max_frames), model=model, device=device,
        threads=threads, backbones=dataclasses.replace(base.backbones, transcriber=BackboneSpec("none"),
                                                       guidance=guidance),
        cross_recon=dataclasses.replace(base.cross_recon, **one), acm=dataclasses.replace(base.acm, epochs=1),
        fim=dataclasses.replace(base.fim, epochs=1), guidance=dataclasses.replace(base.guidance, epochs=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="torch device (default: CUDA if present)")
    parser.add_argument("--sentences", type=int, default=12, help="utterances, each in all 7 emotions")
    parser.add_argument("--clip", choices=("full", "tiny", "none"), default="full", help="CLIP for the guidance stage")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--table", help="append the rows to this markdown file")
    parser.add_argument("--label", default="", help="set name in the --table rows")
    args = parser.parse_args()

    from medtalk_core.train import train

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="medtalk_train_speed_") as tmp:
        scratch = Path(tmp)
        clips = write_set(scratch / "set", args.sentences)
        recipe = recipe_for(scratch / "set", scratch, str(device), args.threads, args.clip)
        start = time.perf_counter()
        results = train(recipe, scratch / "run", stage="all")
        total = time.perf_counter() - start
    staged = sum(r.seconds for r in results)
    name = device_name(device)
    print(f"one epoch per stage; {clips} clips of {CLIP_SECONDS:g} s; {name}; torch threads {args.threads}; "
          f"CLIP {args.clip}")
    rows = [(r.stage, f"{r.seconds:.1f}", f"{r.final_train_loss:.4f}") for r in results]
    rows.append(("features + setup", f"{total - staged:.1f}", "-"))
    rows.append(("total", f"{total:.1f}", "-"))
    for stage, seconds, loss in rows:
        print(f"{stage:<18}{seconds:>8} s   loss {loss}")
    if args.table:
        append_rows(args.table, "Training speed, one epoch per stage (benchmarks/train_speed.py)",
                    ("set", "device", "torch threads", "stage", "seconds", "final train loss"),
                    [(args.label or f"{clips} clips x {CLIP_SECONDS:g} s", name, args.threads, *row) for row in rows])


if __name__ == "__main__":
    main()
