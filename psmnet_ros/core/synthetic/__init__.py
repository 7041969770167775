"""Generated stereo scenes with exact ground truth, for training without a downloaded dataset.

Layered scenes (slanted planes cut into ellipses, boxes and thin bars, textured with photographs
scikit-image ships and procedural patterns) rendered exactly in both views; see ``scenes`` and
``render``. ROS-free; renders on the GPU when given one.
"""
from .dataset import DEFAULT_MAX_DISPARITY, SyntheticStereo, max_disparity_for
from .render import render, shade_view
from .scenes import GENERATOR_VERSION, draw_scene, scene_rng

__all__ = ["DEFAULT_MAX_DISPARITY", "GENERATOR_VERSION", "SyntheticStereo", "draw_scene", "max_disparity_for",
           "render", "scene_rng", "shade_view"]
