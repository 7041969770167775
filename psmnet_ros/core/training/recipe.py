"""The paper's training recipes and their learning-rate schedule.

SceneFlow (official main.py): 10 epochs from scratch, Adam lr 1e-3 constant.
KITTI 2015 / 2012 fine-tuning (official finetune.py): 300 epochs from a SceneFlow
model, lr 1e-3 for epochs 1..200 and 1e-4 after (``epoch <= 200`` keeps 1e-3).
Both: batch 12, random 256 x 512 crops, Adam betas (0.9, 0.999). Epochs count from 1.
Synthetic (the project's own, for training without a download): generated 256 x 512 scenes
(:mod:`psmnet_ros.core.synthetic`), 800 a epoch, batch 8, lr 1e-3 for 80 epochs, then 1e-4.
Middlebury (the one Motorcycle pair, an over-fitting check): the KITTI fine-tuning recipe, best by EPE.
Every dataset of :data:`~psmnet_ros.core.dataset_registry.DATASETS` has a recipe.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..errors import InputError

ADAM_BETAS = (0.9, 0.999)
LR_DROP_FACTOR = 0.1


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run.

    lr_drop_epoch: the last epoch at the base lr (later epochs use lr x 0.1); 0 = constant lr.
    crop: (height, width) of the random training crops, pixels.
    best_metric: validation metric ("epe" or "d1", lower is better) that picks best.tar.
    scenes_per_epoch: generated scenes an epoch (the synthetic dataset only).
    """

    dataset: str
    epochs: int
    lr: float = 1e-3
    lr_drop_epoch: int = 0
    batch_size: int = 12
    crop: tuple[int, int] = (256, 512)
    seed: int = 1
    best_metric: str = "epe"
    scenes_per_epoch: int = 800

    def learning_rate(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch``."""
        if self.lr_drop_epoch and epoch > self.lr_drop_epoch:
            return self.lr * LR_DROP_FACTOR
        return self.lr

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES = {
    "sceneflow": Recipe("sceneflow", epochs=10),
    "kitti2015": Recipe("kitti2015", epochs=300, lr_drop_epoch=200, best_metric="d1"),
    "kitti2012": Recipe("kitti2012", epochs=300, lr_drop_epoch=200, best_metric="d1"),
    "synthetic": Recipe("synthetic", epochs=100, lr_drop_epoch=80, batch_size=8),
    "middlebury": Recipe("middlebury", epochs=300, lr_drop_epoch=200),
}


def recipe_for(dataset: str, base: dict | None = None, **overrides) -> Recipe:
    """The paper's recipe for ``dataset``, then the fields of ``base`` (a stored recipe),
    then ``overrides`` whose value is not None."""
    if dataset not in RECIPES:
        raise InputError(f"unknown dataset {dataset!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[dataset]
    if base:
        recipe = replace(recipe, **{k: (tuple(v) if k == "crop" else v) for k, v in base.items() if k != "dataset"})
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})


def set_learning_rate(optimizer, lr: float) -> None:
    """Set every parameter group of ``optimizer`` to ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr
