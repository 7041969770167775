"""Training and fine-tuning PSMNet with the paper's recipe (``psmnet-train``)."""
from .data import check_training_data
from .loop import Trainer, resume
from .loss import OUTPUT_WEIGHTS, loss_sum, psmnet_loss, valid_mask
from .recipe import RECIPES, Recipe, recipe_for
from .release import release_weights

__all__ = ["OUTPUT_WEIGHTS", "RECIPES", "Recipe", "Trainer", "check_training_data", "loss_sum", "psmnet_loss",
           "recipe_for", "release_weights", "resume", "valid_mask"]
