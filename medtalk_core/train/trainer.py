"""The training loop, shared by the four stages (and the end-to-end ablation).

One `stage` setting chooses what is frozen (`model.set_trainable`) and which loss runs; the
loop itself is the same for all: Adam + StepLR per stage, one epoch = one pass over the
stage's items, a validation loss per epoch, a CSV + PNG of the curves, and a resumable state
written after every epoch and on Ctrl-C.

Output folder:
    OUT/<stage>/model.safetensors, config.json     checkpoint after the stage (medtalk_core.checkpoint)
    OUT/<stage>/loss.csv, loss.png                 per-epoch losses
    OUT/resume/                                    state of the stage in progress (removed when it ends):
                                                   state.json names its weights folder, see _save_resume
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from .. import checkpoint
from ..backbones import BackboneConfig
from ..config import to_mapping
from ..errors import MedtalkError
from ..model import MEDTalk, set_trainable
from ..data.emoface import EmoFaceDataset
from .batching import Batch, ClipFeatures, collate, crop_group, pick_rendition
from .guidance_data import GuidanceFeatures
from .history import EpochRecord, LossHistory
from .losses import (Variant, acm_loss, cycle_exchange, end_to_end_loss, fim_loss, frozen_targets, guided_loss,
                     overlap_exchange, self_reconstruction)
from .recipe import CROSS_RECON_PHASES, OptimConfig, TrainRecipe

logger = logging.getLogger(__name__)

# Modules the end-to-end ablation trains: the whole audio -> rig path, decoder included.
END_TO_END_MODULES = ("content_frontend", "audio_content_map", "emotion_frontend", "text_frontend",
                      "fusion_predictor", "emotion_embedding", "semantic_emotion_map", "audio_intensity", "decoder")
AUDIO_STAGES = ("acm", "fim", "end_to_end")  # stages that read audio features (augmented when configured)
_PAIR_KIND = {"overlap_emotion": "same_emotion", "overlap_content": "same_content", "cycle": "arbitrary"}


@dataclass(frozen=True)
class StagePlan:
    name: str  # cross_recon | acm | fim | guidance | end_to_end
    phases: tuple[tuple[str, int], ...]  # (phase, epochs) in order; epochs 0 skips the phase
    optim: OptimConfig

    @property
    def epochs(self) -> int:
        return sum(n for _, n in self.phases)


def plan_stage(recipe: TrainRecipe, stage: str) -> StagePlan:
    if stage == "cross_recon":
        epochs = recipe.cross_recon.phase_epochs()
        return StagePlan(stage, tuple((p, epochs[p]) for p in CROSS_RECON_PHASES), recipe.cross_recon.optim)
    if stage == "end_to_end":  # w/o disentangle gets the budget of the two stages it replaces
        return StagePlan(stage, ((stage, recipe.acm.epochs + recipe.fim.epochs),), recipe.fim.optim)
    cfg = getattr(recipe, stage)
    return StagePlan(stage, ((stage, cfg.epochs),), cfg.optim)


def set_stage_trainable(model: MEDTalk, stage: str) -> list[str]:
    """Freeze everything but the modules `stage` trains; returns their names."""
    if stage != "end_to_end":
        return set_trainable(model, stage)
    model.requires_grad_(False)
    names = [n for n in END_TO_END_MODULES if hasattr(model, n)]
    for name in names:
        getattr(model, name).requires_grad_(True)
    return names


@dataclass
class TrainData:
    """The cached features a run trains on; `guidance` only for the guidance stage."""

    dataset: EmoFaceDataset  # training split, for its pairings
    train: list[ClipFeatures]  # in dataset order
    val: list[ClipFeatures] = field(default_factory=list)
    guidance: list[GuidanceFeatures] | None = None  # aligned with `train`
    val_guidance: list[GuidanceFeatures] | None = None  # aligned with `val`


ProgressFn = Callable[[str, int, int, float | None], None]  # (phase, epoch done, epochs, last loss)


class StageInterrupted(MedtalkError):
    """Ctrl-C during training: the state was saved; `--resume` continues."""


class Trainer:
    def __init__(self, recipe: TrainRecipe, model: MEDTalk, data: TrainData, out_dir: Path,
                 backbones: BackboneConfig, variant: Variant = Variant(), progress: ProgressFn | None = None,
                 on_batch: Callable[[], None] | None = None) -> None:
        self.recipe = recipe
        self.model = model
        self.data = data
        self.out_dir = Path(out_dir)
        self.variant = variant
        self.backbones = backbones  # recorded in every checkpoint so that it rebuilds its own inputs
        self.steps = 0  # optimiser steps in the current stage
        self.progress = progress
        self.on_batch = on_batch  # called after every optimiser step (progress bars)
        self.device = next(model.parameters()).device

    # --- items and batches ------------------------------------------------------------------
    def _groups(self, phase: str, rng: random.Random) -> list[tuple[int, ...]]:
        """Indices into data.train for one epoch: single clips, or pairs for the exchange phases."""
        n = len(self.data.train)
        if phase not in _PAIR_KIND:
            order = list(range(n))
            rng.shuffle(order)
            return [(i,) for i in order]
        pairs = self.data.dataset.pairs(_PAIR_KIND[phase], rng)
        if phase == "overlap_content":  # (a, b) and (b, a) are the same exchange
            pairs = [(a, b) for a, b in pairs if a < b]
        if not pairs:
            raise MedtalkError(f"phase {phase}: the training set has no {_PAIR_KIND[phase]} pairs "
                               f"(it needs the same sentence in several emotions, or several sentences per emotion)")
        return pairs[:n]  # an epoch of pairs costs about as much as an epoch of clips

    def _epoch_clips(self, stage: str, rng: random.Random) -> list[ClipFeatures]:
        """The training clips one epoch sees: the audio stages draw clean or augmented audio per clip."""
        if stage not in AUDIO_STAGES:
            return self.data.train
        return [pick_rendition(c, self.recipe.augment.clean_share, rng) for c in self.data.train]

    def batches_per_epoch(self, phase: str) -> int:
        n = len(self._groups(phase, random.Random(0)))
        return -(-n // self.recipe.batch_size)

    def _make_batches(self, groups: list[tuple[int, ...]], clips: list[ClipFeatures],
                      rng: random.Random) -> list[tuple[list[Batch], list[int]]]:
        out = []
        size = self.recipe.batch_size
        for start in range(0, len(groups), size):
            chunk = groups[start:start + size]
            cropped = [crop_group([clips[i] for i in g], self.recipe.data.max_frames, rng) for g in chunk]
            members = [collate([c[k] for c in cropped], self.recipe.contact_weight, self.recipe.rounding_weight).to(self.device)
                       for k in range(len(chunk[0]))]
            out.append((members, [g[0] for g in chunk]))
        return out

    # --- one loss -----------------------------------------------------------------------------
    def _guidance_tensors(self, indices: list[int], val: bool) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.data.val_guidance if val else self.data.guidance
        if feats is None:
            raise MedtalkError("the guidance stage needs a guidance backbone (backbones.guidance is 'none')")
        text = torch.stack([feats[i].text for i in indices]).to(self.device)  # (B, clip_dim)
        image = torch.stack([feats[i].image for i in indices]).to(self.device)
        return text, image

    def loss(self, stage: str, phase: str, batches: list[Batch], indices: list[int], val: bool = False) -> torch.Tensor:
        r, m, v = self.recipe, self.model, self.variant
        if stage == "cross_recon":
            if phase == "self" or val:  # validation: plain reconstruction of held-out clips
                return self_reconstruction(m, batches[0])[0]
            if phase == "cycle":
                return cycle_exchange(m, batches[0], batches[1])[0]
            return overlap_exchange(m, batches[0], batches[1], "emotion" if phase == "overlap_emotion" else "content")[0]
        batch = batches[0]
        if stage == "acm":
            return acm_loss(m, batch, r.lambda_sim)[0]
        if stage == "fim":
            return fim_loss(m, batch, v, r.lambda_sim, r.lambda_int)[0]
        if stage == "end_to_end":
            return end_to_end_loss(m, batch, v, r.lambda_int)[0]
        if stage == "guidance":
            # The release trains P_text / P_image with intensity from audio alone (eq. 14). E_fuse
            # also trains here, so label guidance is kept in the loss: otherwise the labels of
            # the FIM stage would drift away from what E_fuse now expects.
            text, image = self._guidance_tensors(indices, val)
            audio = Variant(use_text=False, dynamic_intensity=v.dynamic_intensity, name="guidance")
            targets = frozen_targets(m, batch)
            losses = [guided_loss(m, batch, g, audio, r.lambda_sim, 0.0, targets)[0]
                      for g in (m.guidance_from_clip_text(text), m.guidance_from_clip_image(image),
                                m.guidance_from_label(batch.emotion))]
            return torch.stack(losses).mean()
        raise MedtalkError(f"unknown training stage {stage!r}")

    @torch.no_grad()
    def validate(self, stage: str, phase: str) -> float | None:
        if not self.data.val:
            return None
        self.model.eval()
        rng = random.Random(self.recipe.seed)  # same windows every epoch: comparable numbers
        groups = [(i,) for i in range(len(self.data.val))]
        total, count = 0.0, 0
        for members, indices in self._make_batches(groups, self.data.val, rng):
            total += float(self.loss(stage, phase, members, indices, val=True)) * len(indices)
            count += len(indices)
        self.model.train()
        return total / count

    # --- the stage ----------------------------------------------------------------------------
    def run_stage(self, stage: str, resume: bool = False) -> LossHistory:
        plan = plan_stage(self.recipe, stage)
        trainable = set_stage_trainable(self.model, stage)
        params = [p for p in self.model.parameters() if p.requires_grad]
        logger.info("stage %s: training %s (%d parameters), %d epochs", stage, ", ".join(trainable),
                    sum(p.numel() for p in params), plan.epochs)
        optimizer = torch.optim.Adam(params, lr=plan.optim.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=plan.optim.step_size, gamma=plan.optim.gamma)
        history = LossHistory(stage)
        start_epoch = 0
        self.steps = 0
        if resume:
            start_epoch, history = self._load_resume(stage, optimizer, scheduler)
        stage_dir = self.out_dir / stage
        epoch = start_epoch
        self.model.train()
        try:
            for phase, phase_start, phase_epochs in _phase_spans(plan):
                for epoch in range(max(start_epoch, phase_start), phase_start + phase_epochs):
                    t0 = time.perf_counter()
                    rng = random.Random(zlib.crc32(f"{self.recipe.seed}/{stage}/{epoch}".encode()))  # same on resume
                    total, count = 0.0, 0
                    for members, indices in self._make_batches(self._groups(phase, rng),
                                                               self._epoch_clips(stage, rng), rng):
                        loss = self.loss(stage, phase, members, indices)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        self.steps += 1
                        total += loss.item() * len(indices)
                        count += len(indices)
                        if self.on_batch is not None:
                            self.on_batch()
                    lr = optimizer.param_groups[0]["lr"]
                    scheduler.step()
                    val = self.validate(stage, phase)
                    history.add(EpochRecord(epoch + 1, phase, lr, total / max(count, 1), val, time.perf_counter() - t0))
                    history.write(stage_dir, plot=False)  # the PNG is drawn when the stage ends or stops
                    self._save_resume(stage, epoch + 1, optimizer, scheduler, history)
                    if self.progress is not None:
                        self.progress(phase, epoch + 1, plan.epochs, total / max(count, 1))
        except KeyboardInterrupt:
            # Weights after the last finished step; the epoch in progress runs again on --resume.
            done = history.records[-1].epoch if history.records else start_epoch
            history.write(stage_dir)
            self._save_resume(stage, done, optimizer, scheduler, history)
            raise StageInterrupted(f"interrupted in stage {stage} at epoch {done}/{plan.epochs}; "
                                   f"state saved in {self.out_dir / 'resume'}, continue with --resume") from None
        history.write(stage_dir)
        checkpoint.save(stage_dir, self.model, self.backbones, stage=stage, step=self.steps,
                        extra={"variant": self.variant.name, "epochs": plan.epochs, "recipe": to_mapping(self.recipe)})
        _clear_resume(self.out_dir / "resume")
        return history

    # --- resumable state ----------------------------------------------------------------------
    def _save_resume(self, stage: str, epochs_done: int, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.StepLR, history: LossHistory) -> None:
        """One atomic unit: the weights and optimiser go to a fresh folder, then `state.json`,
        which names that folder, replaces the old one in a single rename. Until that rename the
        previous state stands whole; a Ctrl-C at any point never leaves a half state behind."""
        folder = self.out_dir / "resume"
        folder.mkdir(parents=True, exist_ok=True)
        blobs = Path(tempfile.mkdtemp(prefix=f"epoch{epochs_done:04d}-", dir=folder))
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(blobs / "model.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, blobs / "optim.pt")
        state = {"stage": stage, "epochs_done": epochs_done, "steps": self.steps, "variant": self.variant.name,
                 "history": history.as_rows(), "weights": blobs.name}
        tmp = folder / "state.json.part"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, folder / "state.json")  # the commit
        _clear_resume(folder, keep=blobs.name)

    def _load_resume(self, stage: str, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.StepLR) -> tuple[int, LossHistory]:
        state = read_resume_state(self.out_dir)
        if state is None or state["stage"] != stage:
            return 0, LossHistory(stage)
        blobs = self.out_dir / "resume" / state["weights"]
        self.model.load_state_dict(load_file(str(blobs / "model.safetensors"), device=str(self.device)))
        # our own file, and weights_only refuses anything but tensors and plain containers
        optim_state = torch.load(blobs / "optim.pt", map_location=self.device, weights_only=True)
        optimizer.load_state_dict(optim_state["optimizer"])
        scheduler.load_state_dict(optim_state["scheduler"])
        self.steps = int(state["steps"])
        logger.info("resuming stage %s after epoch %d", stage, state["epochs_done"])
        return int(state["epochs_done"]), LossHistory.from_rows(stage, state["history"])


def _phase_spans(plan: StagePlan) -> list[tuple[str, int, int]]:
    """(phase, first epoch, epochs) of every phase with epochs > 0."""
    spans, start = [], 0
    for phase, epochs in plan.phases:
        if epochs > 0:
            spans.append((phase, start, epochs))
        start += epochs
    return spans


def read_resume_state(out_dir: Path) -> dict | None:
    path = Path(out_dir) / "resume" / "state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _clear_resume(folder: Path, keep: str | None = None) -> None:
    """Remove resume state: all of it once a stage's own checkpoint supersedes it (state.json
    first, so what is left is never taken for a state), else every weights folder but `keep`."""
    if keep is None:
        (folder / "state.json").unlink(missing_ok=True)
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name != keep:
                shutil.rmtree(entry)

