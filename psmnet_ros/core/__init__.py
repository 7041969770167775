"""ROS-free core: the PSMNet model, checkpoints, named weights, the estimator and stereo geometry.

Nothing here imports rclpy or ROS message packages.
"""
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .errors import CheckpointError, InputError, PSMNetError
from .estimator import StereoEstimator, load_estimator
from .model_loading import load_model
from .psmnet import VARIANTS, PSMNetBasic, PSMNetStackHourglass, build_model
from .weights import CATALOG, catalog_path

__all__ = ["CATALOG", "Checkpoint", "CheckpointError", "InputError", "PSMNetBasic", "PSMNetError",
           "PSMNetStackHourglass", "StereoEstimator", "VARIANTS", "build_model", "catalog_path", "load_checkpoint",
           "load_estimator", "load_model", "save_checkpoint"]
