"""Training: the paper's four stages (cross_recon, acm, fim, guidance), one loop for all.

`run.train(recipe, out_dir, stage)` is the entry point (`medtalk train` calls it); `recipe`
holds the typed recipe, `losses` the equations, `trainer` the loop, `features` the per-clip
backbone cache, `guidance_data` the synthetic (description, image, rig) triples.
"""

from .losses import Variant
from .recipe import STAGES, TrainRecipe, load_recipe
from .run import StageResult, train

__all__ = ["STAGES", "StageResult", "TrainRecipe", "Variant", "load_recipe", "train"]
