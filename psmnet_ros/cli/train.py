"""psmnet-train: train PSMNet on SceneFlow or generated scenes, or fine-tune it on KITTI.

    psmnet-train --dataset sceneflow --root SCENEFLOW_DIR --out-dir runs/sceneflow
    psmnet-train --dataset synthetic --out-dir runs/synthetic --release weights.tar
    psmnet-train --dataset kitti2015 --root KITTI2015_DIR --init runs/sceneflow/last.tar
    psmnet-train --dataset kitti2015 --root KITTI2015_DIR --resume runs/kitti2015/last.tar
"""
from __future__ import annotations

import argparse
import os
import re
import sys

import torch
from torch.utils.data import Subset

from ..core.dataset_registry import DATASETS, dataset_entry, open_dataset
from ..core.errors import InputError, one_line_errors
from ..core.model_loading import load_model
from ..core.psmnet import VARIANTS, build_model
from ..core.synthetic.dataset import VALIDATION_SCENES
from ..core.training import Trainer, check_crop, load_run, recipe_for, release_weights, training_source

PROG = "psmnet-train"
EPILOG = """\
recipes (the official main.py and finetune.py; any option given overrides them):
  sceneflow            10 epochs from scratch, lr 1e-3 constant
  synthetic            training on generated scenes (no download): 100 epochs of 800 generated
                       scenes (psmnet_ros.core.synthetic, rendered on --device), batch 8,
                       lr 1e-3 for epochs 1-80, 1e-4 after; needs no --root. Validation: 16
                       held-out generated scenes (--val-limit).
  kitti2015, kitti2012 300 epochs from --init (a SceneFlow model, official .tar accepted),
                       lr 1e-3 for epochs 1-200, 1e-4 from epoch 201
  middlebury           the KITTI recipe on scikit-image's one Motorcycle pair (train and val
                       splits are that pair: an over-fitting check); needs no --root
  all: Adam betas (0.9, 0.999), batch 12 (synthetic 8), random 256x512 crops, loss 0.5/0.7/1.0 x smooth L1
  of the three outputs (basic variant: 1.0 x its one output) on pixels with 0 < gt < maxdisp.

Each epoch writes OUT_DIR/last.tar, OUT_DIR/checkpoint_epoch_NNN.tar and, when the validation
metric (EPE for sceneflow, D1 for KITTI) improves, OUT_DIR/best.tar; all load with
psmnet-infer --checkpoint. Validation: EPE and D1 on the "val" split (SceneFlow: FlyingThings3D
TEST; KITTI: the last 40 training frames), full images, pixels with 0 < gt < maxdisp.
TensorBoard: tensorboard --logdir OUT_DIR/tensorboard
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=tuple(DATASETS), help="which recipe and reader")
    parser.add_argument("--root", help="dataset root folder (not for synthetic and middlebury)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="CKPT", help="continue the run saved in CKPT (e.g. OUT_DIR/last.tar) "
                                                        "after its epoch, optimizer state included")
    start.add_argument("--init", metavar="WEIGHTS", help="start a new run from these weights: a checkpoint file or "
                                                         "a weights name (e.g. kitti2015, checked by sha256), "
                                                         "as psmnet-infer's --checkpoint takes them")
    recipe = parser.add_argument_group("recipe (default: the dataset's, or the resumed run's)")
    recipe.add_argument("--epochs", type=int, help="last epoch to train (sceneflow 10, kitti 300)")
    recipe.add_argument("--batch-size", type=int, help="images per optimizer step (12)")
    recipe.add_argument("--lr", type=float, help="base learning rate (1e-3)")
    recipe.add_argument("--lr-drop-epoch", type=int,
                        help="last epoch at the base lr, 10x lower after; 0 = never (sceneflow 0, kitti 200)")
    recipe.add_argument("--crop", help="training crop HxW in pixels, multiples of 16, >= 256 (256x512)")
    recipe.add_argument("--seed", type=int, help="seed of the initialization, shuffling and crops (1)")
    recipe.add_argument("--scenes-per-epoch", type=int, help="generated scenes an epoch (synthetic: 800)")
    model = parser.add_argument_group("model (new runs only; default: --init's checkpoint, else the official)")
    model.add_argument("--variant", choices=VARIANTS, help="stackhourglass (default) or basic")
    model.add_argument("--maxdisp", type=int, help="disparity range in pixels (192)")
    model.add_argument("--align-corners", dest="align_corners", action=argparse.BooleanOptionalAction,
                       default=None, help="upsampling mode of the official code (default True)")
    run = parser.add_argument_group("run")
    run.add_argument("--micro-batch", type=int, help="images per forward pass; gradients are accumulated so "
                                                     "one step still sees the whole batch, BatchNorm statistics "
                                                     "are per micro-batch (default: batch size)")
    run.add_argument("--amp", action="store_true", help="mixed precision: float16 + GradScaler on CUDA, "
                                                        "bfloat16 on the CPU")
    run.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                     help="cpu or cuda[:N] (default: %(default)s)")
    run.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                     help="data-loading processes (default: %(default)s)")
    run.add_argument("--out-dir", help="checkpoints go here (default: --resume's folder, else runs/DATASET)")
    run.add_argument("--logdir", help="TensorBoard logs (default: OUT_DIR/tensorboard)")
    run.add_argument("--train-split", default="train",
                     help="train, all, or (KITTI) a file listing frame names (default: %(default)s)")
    run.add_argument("--val-split", default="val",
                     help="val, all, or (KITTI) a file listing frame names (default: %(default)s)")
    run.add_argument("--limit", type=int, help="train on the first N frames only")
    run.add_argument("--val-limit", type=int, help="validate on the first N frames only; 0 = no validation")
    run.add_argument("--save-every", type=int, default=1,
                     help="write checkpoint_epoch_NNN.tar every N epochs; last.tar is written every epoch")
    run.add_argument("--release", metavar="PATH",
                     help="after training, write last.tar's weights in float16 with the run's record to PATH "
                          "(a third of the size; --checkpoint and --resume load it)")
    return parser


def parse_crop(text: str) -> tuple[int, int]:
    """(height, width) from "HxW" of a usable crop; InputError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise InputError(f"--crop must look like HEIGHTxWIDTH, e.g. 256x512, got {text!r}")
    check_crop(int(match[1]), int(match[2]))
    return int(match[1]), int(match[2])


SMALLEST = {"epochs": 1, "batch_size": 1, "micro_batch": 1, "limit": 1, "save_every": 1, "workers": 0,
            "val_limit": 0, "lr_drop_epoch": 0, "scenes_per_epoch": 1}


def _check_numbers(args: argparse.Namespace) -> None:
    for name, smallest in SMALLEST.items():
        value = getattr(args, name)
        if value is not None and value < smallest:
            raise InputError(f"--{name.replace('_', '-')} must be >= {smallest}, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise InputError(f"--lr must be positive, got {args.lr}")


def _first(samples, limit: int | None):
    return samples if limit is None else Subset(samples, range(min(limit, len(samples))))


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _check_numbers(args)
    entry = dataset_entry(args.dataset)
    synthetic = entry.generated
    if not entry.needs_root and args.root:
        raise InputError(f"--dataset {args.dataset} {'generates its scenes' if synthetic else 'needs no folder'}: "
                         "leave out --root")
    if entry.needs_root and not (args.root and os.path.isdir(args.root)):
        raise InputError(f"dataset root {args.root} is not a directory" if args.root else
                         f"--dataset {args.dataset} needs --root (the dataset folder)")
    if not synthetic and args.scenes_per_epoch is not None:
        raise InputError("--scenes-per-epoch is for --dataset synthetic only")
    if synthetic and args.limit is not None:
        raise InputError("--limit counts dataset frames; for --dataset synthetic use --scenes-per-epoch")
    crop = parse_crop(args.crop) if args.crop else None
    out_dir = args.out_dir or _default_out_dir(args)
    last = os.path.join(out_dir, "last.tar")
    if os.path.exists(last) and os.path.abspath(last) != os.path.abspath(args.resume or ""):
        raise InputError(f"{out_dir} already holds a run: continue it with --resume {last} or choose another "
                         f"--out-dir")
    overrides = {"epochs": args.epochs, "lr": args.lr, "lr_drop_epoch": args.lr_drop_epoch,
                 "batch_size": args.batch_size, "crop": crop, "seed": args.seed,
                 "scenes_per_epoch": args.scenes_per_epoch}
    train_samples = val_samples = None
    if not synthetic:
        train_samples = _first(open_dataset(args.dataset, args.root, args.train_split), args.limit)
        if args.val_limit != 0:
            val_samples = _first(open_dataset(args.dataset, args.root, args.val_split), args.val_limit)
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k in ("variant", "maxdisp", "align_corners")
                 if getattr(args, k) is not None]
        if given:
            raise InputError(f"{', '.join(given)} cannot change when resuming: the model comes from {args.resume}")
        model, recipe, saved = load_run(args.resume, args.dataset, overrides)
    else:
        recipe = recipe_for(args.dataset, **overrides)
        torch.manual_seed(recipe.seed)
        model = _new_model(args)
    data = training_source(recipe, model.maxdisp, train_samples, args.workers)
    if synthetic:
        val_samples = data.validation(VALIDATION_SCENES if args.val_limit is None else args.val_limit)
    trainer = Trainer(model, recipe, data, val_samples, out_dir=out_dir, device=args.device, amp=args.amp,
                      micro_batch=args.micro_batch, logdir=args.logdir or os.path.join(out_dir, "tensorboard"),
                      save_every=args.save_every)
    if args.resume:
        trainer.restore(saved)
        print(f"resuming {args.resume} after epoch {trainer.state.epoch}", file=sys.stderr)
    elif not args.init and args.dataset.startswith("kitti"):
        print(f"{PROG}: warning: fine-tuning on {args.dataset} from random weights; the paper starts from a "
              f"SceneFlow model (--init CKPT)", file=sys.stderr)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        done = trainer.state.epoch
        kept = f"{last} holds epoch {done}" if done else "no epoch was completed"
        print(f"{PROG}: interrupted during epoch {done + 1}; {kept}", file=sys.stderr)
        return 130
    if args.release:
        release_weights(last, args.release)
        print(f"released the weights of epoch {trainer.state.epoch} to {args.release}", file=sys.stderr)
    return 0


def _default_out_dir(args: argparse.Namespace) -> str:
    """--resume's folder (unless it is a released file), else runs/DATASET."""
    if args.resume and os.path.basename(args.resume) == "last.tar":
        return os.path.dirname(args.resume)
    return os.path.join("runs", args.dataset)


def _new_model(args: argparse.Namespace) -> torch.nn.Module:
    """The model of a new run: --init's weights, else the official random initialization."""
    if args.init:
        loaded = load_model(args.init, variant=args.variant, maxdisp=args.maxdisp, align_corners=args.align_corners)
        if loaded.random:
            raise InputError("--init random is the official initialization: leave out --init (--seed seeds it)")
        return loaded.model
    return build_model(args.variant or "stackhourglass", args.maxdisp or 192,
                       True if args.align_corners is None else args.align_corners)


if __name__ == "__main__":
    sys.exit(main())
