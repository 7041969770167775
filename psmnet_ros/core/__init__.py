"""ROS-free core: the PSMNet model, checkpoints, the estimator and stereo geometry.

Nothing here imports rclpy or ROS message packages.
"""
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .errors import CheckpointError, InputError, PSMNetError
from .estimator import StereoEstimator
from .pretrained import pretrained_path
from .psmnet import VARIANTS, PSMNetBasic, PSMNetStackHourglass, build_model

__all__ = ["Checkpoint", "CheckpointError", "InputError", "PSMNetBasic", "PSMNetError", "PSMNetStackHourglass",
           "StereoEstimator", "VARIANTS", "build_model", "load_checkpoint", "pretrained_path", "save_checkpoint"]
