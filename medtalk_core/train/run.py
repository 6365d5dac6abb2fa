"""One training run: recipe + output folder -> the requested stages, each writing a checkpoint.

Stages run in the paper's order, each starting from the weights the previous one wrote into
the same output folder (or from `init`, a checkpoint to start from). Earlier outputs are never
deleted: a stage whose checkpoint already exists is refused, or skipped with `resume`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .. import checkpoint
from ..backbones import Backbones, build_backbone
from ..data.emoface import EmoFaceDataset
from ..devices import resolve_device
from ..errors import MedtalkError
from ..model import MEDTalk, load_model_config
from .batching import ClipFeatures
from .features import FeatureCache
from .guidance_data import build_triples
from .losses import Variant
from .recipe import STAGES, TrainRecipe
from .trainer import Trainer, TrainData, plan_stage, read_resume_state

logger = logging.getLogger(__name__)

ALL = "all"


@dataclass(frozen=True)
class StageResult:
    stage: str
    seconds: float  # wall time of the stage (feature extraction not included)
    final_train_loss: float
    final_val_loss: float | None
    checkpoint: Path


def resolve_stages(stage: str) -> list[str]:
    if stage == ALL:
        return list(STAGES)
    if stage not in STAGES and stage != "end_to_end":
        raise MedtalkError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)} or all")
    return [stage]


def build_model(recipe: TrainRecipe) -> MEDTalk:
    cfg = load_model_config(recipe.model)
    if recipe.encoder is not None:
        cfg = dataclasses.replace(cfg, encoder=recipe.encoder)
    if recipe.future_frames is not None:
        cfg = dataclasses.replace(cfg, future_frames=recipe.future_frames)
    return MEDTalk(cfg)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _starting_weights(model: MEDTalk, out_dir: Path, first: str, init: Path | None) -> None:
    """Load the weights the first stage to run builds on: the previous stage's output, or `init`."""
    order = list(STAGES)
    previous = order[: order.index(first)] if first in order else []
    done = [s for s in previous if (out_dir / s / checkpoint.CONFIG_NAME).is_file()]
    source = out_dir / done[-1] if done else init
    if source is None:
        if first in ("cross_recon", "end_to_end"):
            return
        raise MedtalkError(f"stage {first} builds on the earlier stages: run them into {out_dir} first "
                           f"(--stage all), or give a checkpoint to start from with --init")
    loaded = checkpoint.load(source)
    # future_frames only moves the convolutions' padding, so the weights carry over either way
    if dataclasses.replace(loaded.model_config, future_frames=model.cfg.future_frames) != model.cfg:
        raise MedtalkError(f"checkpoint {source} was built with another model config than this recipe's")
    model.load_state_dict(loaded.model.state_dict())
    logger.info("starting from %s (stage %s)", source, loaded.stage)


def _check_outputs(out_dir: Path, stages: list[str], resume: bool) -> list[str]:
    """Stages still to run; an existing stage output is an error without --resume (never overwritten)."""
    todo = []
    for stage in stages:
        if (out_dir / stage / checkpoint.CONFIG_NAME).is_file():
            if not resume:
                raise MedtalkError(f"{out_dir / stage} already holds a trained {stage} stage; "
                                   f"choose another --out, or --resume to continue after it")
            logger.info("stage %s already done in %s: skipped", stage, out_dir)
            continue
        todo.append(stage)
    return todo


def load_data(recipe: TrainRecipe, backbones: Backbones, cache_dir: Path | None, need_guidance: bool) -> TrainData:
    """Scan the dataset, compute (or read cached) backbone features, and guidance triples if needed."""
    if not recipe.data.root:
        raise MedtalkError("the recipe names no dataset: set data.root or pass --data")
    train_set = EmoFaceDataset(recipe.data.roots, split=recipe.data.train_split)
    cache = FeatureCache(backbones, recipe.backbones, cache_dir)
    t0 = time.perf_counter()
    train = cache.all(train_set)
    if recipe.augment.copies > 0:
        train = augmented_features(cache, train_set, recipe)
    val = []
    if recipe.data.val_split is not None:
        try:
            val = cache.all(EmoFaceDataset(recipe.data.roots, split=recipe.data.val_split))
        except MedtalkError as exc:  # no such split: train without validation rather than fail
            logger.warning("no validation set (%s)", exc)
    logger.info("features of %d training and %d validation clips in %.1f s (%s)", len(train), len(val),
                time.perf_counter() - t0, train_set.summary())
    data = TrainData(train_set, train, val)
    if need_guidance:
        size = recipe.guidance.image_size
        data.guidance = build_triples(train, backbones.guidance, size, recipe.seed)
        data.val_guidance = build_triples(val, backbones.guidance, size, recipe.seed) if val else None
    return data


def augmented_features(cache: FeatureCache, dataset: EmoFaceDataset, recipe: TrainRecipe) -> list[ClipFeatures]:
    """Every training clip with its augmented renditions; babble is drawn from other training clips."""
    rng = random.Random(recipe.seed)
    pool = [dataset[i].audio for i in sorted(rng.sample(range(len(dataset)), min(40, len(dataset))))]
    t0 = time.perf_counter()
    out = [cache.augmented(dataset, i, recipe.augment, recipe.seed, pool) for i in range(len(dataset))]
    logger.info("%d augmented renditions of %d clips in %.1f s", recipe.augment.copies * len(out), len(out),
                time.perf_counter() - t0)
    return out


def guidance_available(recipe: TrainRecipe) -> bool:
    """The guidance stage needs CLIP-space features of descriptions and images, not the lexicon."""
    return recipe.backbones.guidance.name not in ("none", "lexicon")


class _NullProgress:
    def start_stage(self, stage: str, batches: int) -> None: ...
    def advance(self) -> None: ...
    def epoch(self, phase: str, done: int, total: int, loss: float | None) -> None: ...


@contextmanager
def rich_progress(enabled: bool) -> Iterator[object]:
    """A rich progress bar per stage: phase, epoch, last epoch's loss, elapsed and ETA."""
    if not enabled:
        yield _NullProgress()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("epoch {task.fields[epoch]}"),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns) as bar:
        class _Rich:
            task = None

            def start_stage(self, stage: str, batches: int) -> None:
                self.stage = stage
                self.task = bar.add_task(stage, total=batches, epoch="0", loss="-")

            def advance(self) -> None:
                bar.advance(self.task)

            def epoch(self, phase: str, done: int, total: int, loss: float | None) -> None:
                bar.update(self.task, description=f"{self.stage}/{phase}" if phase != self.stage else self.stage,
                           epoch=f"{done}/{total}", loss="-" if loss is None else f"{loss:.5f}")

        yield _Rich()


def train(recipe: TrainRecipe, out_dir: str | Path, stage: str = ALL, resume: bool = False,
          init: str | Path | None = None, variant: Variant = Variant(), show_progress: bool = False,
          cache_dir: str | Path | None = None) -> list[StageResult]:
    """Run `stage` (or all) of `recipe` into `out_dir`; returns what each stage did."""
    out_dir = Path(out_dir)
    torch.set_num_threads(recipe.threads)
    seed_everything(recipe.seed)
    stages = resolve_stages(stage)
    if stage == ALL and not guidance_available(recipe):
        logger.warning("guidance stage skipped: backbones.guidance is %r, not a CLIP model, so there are no "
                       "image/description features to train P_text / P_image on", recipe.backbones.guidance.name)
        stages.remove("guidance")
    elif "guidance" in stages and not guidance_available(recipe):
        raise MedtalkError("the guidance stage needs a CLIP guidance backbone: set backbones.guidance.name to "
                           "open_clip or clip_hf in the recipe")
    todo = _check_outputs(out_dir, stages, resume)
    if not todo:
        logger.info("nothing to do: every requested stage is already in %s", out_dir)
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    _record_recipe(out_dir, recipe)

    device = resolve_device(recipe.device)
    model = build_model(recipe)
    _starting_weights(model, out_dir, todo[0], Path(init) if init else None)
    model.to(device)
    backbones = _feature_backbones(recipe, with_guidance="guidance" in todo)
    data = load_data(recipe, backbones, Path(cache_dir) if cache_dir else out_dir / "feature_cache", "guidance" in todo)

    state = read_resume_state(out_dir) if resume else None
    results = []
    with rich_progress(show_progress) as progress:
        trainer = Trainer(recipe, model, data, out_dir, recipe.backbones, variant,
                          progress=progress.epoch, on_batch=progress.advance)
        for name in todo:
            plan = plan_stage(recipe, name)
            total = sum(trainer.batches_per_epoch(p) * n for p, n in plan.phases if n > 0)
            progress.start_stage(name, total)
            t0 = time.perf_counter()
            history = trainer.run_stage(name, resume=state is not None and state["stage"] == name)
            seconds = time.perf_counter() - t0
            last = history.records[-1] if history.records else None
            results.append(StageResult(name, seconds, last.train_loss if last else float("nan"),
                                       last.val_loss if last else None, out_dir / name))
            logger.info("stage %s done in %.1f s: train loss %.5f", name, seconds, results[-1].final_train_loss)
    _write_summary(out_dir, results)
    return results


def _feature_backbones(recipe: TrainRecipe, with_guidance: bool) -> Backbones:
    """The backbones training reads (the transcriber only runs for clips without a TXT/ transcript)."""
    b = recipe.backbones
    guidance = build_backbone("guidance", b.guidance) if with_guidance else None
    return Backbones(build_backbone("audio_content", b.audio_content), build_backbone("audio_emotion", b.audio_emotion),
                     build_backbone("transcriber", b.transcriber), build_backbone("text", b.text), guidance)


def _record_recipe(out_dir: Path, recipe: TrainRecipe) -> None:
    """OUT/recipe.json; a later run with a different recipe writes recipe-2.json, ... (never overwrites)."""
    text = json.dumps(dataclasses.asdict(recipe), indent=1, default=str)
    path, n = out_dir / "recipe.json", 1
    while path.is_file() and path.read_text(encoding="utf-8") != text:
        n += 1
        path = out_dir / f"recipe-{n}.json"
    path.write_text(text, encoding="utf-8")


def _write_summary(out_dir: Path, results: list[StageResult]) -> None:
    """Append this run's stage times to OUT/summary.json (earlier runs' entries are kept)."""
    path = out_dir / "summary.json"
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    entries += [{"stage": r.stage, "seconds": round(r.seconds, 2), "final_train_loss": r.final_train_loss,
                 "final_val_loss": r.final_val_loss, "checkpoint": str(r.checkpoint)} for r in results]
    path.write_text(json.dumps(entries, indent=1), encoding="utf-8")
