"""The paper's Table 3: train each ablated variant with the same budget and evaluate it.

Variants (paper Sec. "Ablation Study"):
- full: cross_recon (self, overlap, cycle), acm, fim.
- w/o overlap / w/o cycle: the phase is left out and its epochs go to self-reconstruction,
  so the cross-reconstruction budget stays the same.
- w/o disentangle: audio + label -> rig trained end to end (no cross-reconstruction), for the
  epochs of acm + fim.
- w/o intensity: fim with one static label embedding per clip (no eq. 9 adjustment).
- w/o text: fim with intensity from audio alone (no transcript).
w/o intensity and w/o text differ from the full model only in the fim stage, so they start
from the full run's acm checkpoint (their earlier stages would be identical).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from . import checkpoint
from .metrics import Metrics
from .train.batching import ClipFeatures
from .train.losses import Variant
from .train.recipe import CrossReconConfig, TrainRecipe
from .train.run import train

logger = logging.getLogger(__name__)

VARIANTS: tuple[str, ...] = ("w/o overlap", "w/o cycle", "w/o disentangle", "w/o intensity", "w/o text", "full")


def scale_epochs(recipe: TrainRecipe, factor: float) -> TrainRecipe:
    """The same recipe with every epoch count multiplied by `factor` (at least 1 where it was > 0)."""
    def s(n: int) -> int:
        return max(1, round(n * factor)) if n > 0 else 0

    cr = recipe.cross_recon
    return dataclasses.replace(
        recipe,
        cross_recon=dataclasses.replace(cr, self_epochs=s(cr.self_epochs), overlap_emotion_epochs=s(cr.overlap_emotion_epochs),
                                        overlap_content_epochs=s(cr.overlap_content_epochs), cycle_epochs=s(cr.cycle_epochs)),
        acm=dataclasses.replace(recipe.acm, epochs=s(recipe.acm.epochs)),
        fim=dataclasses.replace(recipe.fim, epochs=s(recipe.fim.epochs)),
    )


def _without_phases(cr: CrossReconConfig, overlap: bool, cycle: bool) -> CrossReconConfig:
    moved = (cr.overlap_emotion_epochs + cr.overlap_content_epochs if overlap else 0) + (cr.cycle_epochs if cycle else 0)
    return dataclasses.replace(
        cr, self_epochs=cr.self_epochs + moved,
        overlap_emotion_epochs=0 if overlap else cr.overlap_emotion_epochs,
        overlap_content_epochs=0 if overlap else cr.overlap_content_epochs,
        cycle_epochs=0 if cycle else cr.cycle_epochs)


def run_ablations(recipe: TrainRecipe, out_dir: str | Path, test_clips: list[ClipFeatures],
                  variants: tuple[str, ...] = VARIANTS, show_progress: bool = False) -> dict[str, Metrics]:
    """Train (or reuse, when OUT/<variant> already holds it) and evaluate every variant."""
    from .evaluate import evaluate_clips

    out_dir = Path(out_dir)
    cache = out_dir / "feature_cache"
    full_dir = out_dir / "full"
    plans: dict[str, tuple[TrainRecipe, list[str], Variant, Path | None]] = {
        "full": (recipe, ["cross_recon", "acm", "fim"], Variant(), None),
        "w/o overlap": (dataclasses.replace(recipe, cross_recon=_without_phases(recipe.cross_recon, True, False)),
                        ["cross_recon", "acm", "fim"], Variant(name="w/o overlap"), None),
        "w/o cycle": (dataclasses.replace(recipe, cross_recon=_without_phases(recipe.cross_recon, False, True)),
                      ["cross_recon", "acm", "fim"], Variant(name="w/o cycle"), None),
        "w/o disentangle": (recipe, ["end_to_end"], Variant(name="w/o disentangle"), None),
        "w/o intensity": (recipe, ["fim"], Variant(dynamic_intensity=False, name="w/o intensity"), full_dir / "acm"),
        "w/o text": (recipe, ["fim"], Variant(use_text=False, name="w/o text"), full_dir / "acm"),
    }
    order = ["full"] + [v for v in variants if v != "full"]  # the full run first: two variants build on it
    results: dict[str, Metrics] = {}
    for name in order:
        if name not in plans:
            raise ValueError(f"unknown ablation {name!r}; known: {', '.join(VARIANTS)}")
        variant_recipe, stages, variant, init = plans[name]
        folder = out_dir / name.replace("w/o ", "wo_").replace(" ", "_")
        for stage in stages:
            train(variant_recipe, folder, stage=stage, resume=True, init=init, variant=variant,
                  show_progress=show_progress, cache_dir=cache)
        model = checkpoint.load(folder / stages[-1]).model
        results[name] = evaluate_clips(model, test_clips, variant)
        logger.info("%s: %s", name, results[name])
    return {name: results[name] for name in VARIANTS if name in results}
