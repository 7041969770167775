"""Training and fine-tuning PSMNet with the paper's recipe (``psmnet-train``)."""
from .data import DatasetCrops, GeneratedScenes, check_crop, training_source
from .loop import Trainer, load_run
from .loss import OUTPUT_WEIGHTS, loss_sum, psmnet_loss, valid_mask
from .recipe import RECIPES, Recipe, recipe_for
from .release import release_weights
from .run_state import RunState

__all__ = ["OUTPUT_WEIGHTS", "RECIPES", "DatasetCrops", "GeneratedScenes", "Recipe", "RunState", "Trainer",
           "check_crop", "load_run", "loss_sum", "psmnet_loss", "recipe_for", "release_weights", "training_source",
           "valid_mask"]
