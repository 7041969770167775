"""The messages of one stereo frame, built from :func:`~psmnet_ros.core.stereo_products.stereo_products`:
what psmnet_node publishes and what psmnet-bench times as the node's overhead."""
from __future__ import annotations

import numpy as np

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.colorize import colorize
from psmnet_ros.core.stereo_products import StereoProducts, stereo_products
from psmnet_ros.ros.conversions import disparity_msg, float_image_msg, pointcloud2_msg, rgb_image_msg

DELTA_D = 1.0 / 16.0
"""DisparityImage.delta_d (pixels). The soft argmin is continuous; 1/16 px is what SGBM and
stereo_image_proc report, a conservative bound on the useful resolution."""
OUTPUTS = ("disparity", "depth", "points2", "disparity/image_color", "confidence")
"""Output topics, relative to the node's namespace."""
INVALID_BELOW_MIN = 1.0
"""An invalid pixel's value in a DisparityImage: this far below min_disparity (pixels). The message
definition: "any disparity less than min_disparity is invalid"; stereo_image_proc writes the same."""


def frame_messages(network_disparity: np.ndarray, left_rgb: np.ndarray, camera: StereoCalibration, header,
                   max_network_disparity: float, wanted: set[str], min_depth_m: float = 0.0,
                   max_depth_m: float = 0.0, confidence: np.ndarray | None = None,
                   confidence_threshold: float = 0.0) -> tuple[dict, StereoProducts]:
    """({topic: message} for the ``wanted`` :data:`OUTPUTS` of one frame, the products they hold);
    nothing else is computed.

    network_disparity: HxW pixels as the estimator returns it; left_rgb: HxWx3 uint8 (point colours);
    max_network_disparity: the largest disparity the network can output for this width (pixels), which
    with the principal-point offset gives the DisparityImage's [min_disparity, max_disparity] and the
    colour image's range. confidence: HxW in [0, 1] (needed for the "confidence" output and a threshold above
    0); pixels below ``confidence_threshold`` are invalid: below min_disparity in the DisparityImage (by
    INVALID_BELOW_MIN), NaN in depth and points2, black in the colour image. Every message carries ``header``.
    """
    invalid = confidence < confidence_threshold if confidence_threshold > 0 and confidence is not None else None
    products: StereoProducts = stereo_products(
        network_disparity, camera, depth="depth" in wanted or "points2" in wanted, points="points2" in wanted,
        min_depth_m=min_depth_m, max_depth_m=max_depth_m, invalid=invalid)
    low, high = camera.doffs, camera.doffs + max_network_disparity
    width, height = camera.size
    messages = {}
    if "disparity" in wanted:
        published = products.disparity if invalid is None else \
            np.where(invalid, np.float32(low - INVALID_BELOW_MIN), products.disparity)
        messages["disparity"] = disparity_msg(published, header, camera.fx, camera.baseline_m, low, high,
                                              DELTA_D, (0, 0, width, height))
    if "depth" in wanted:
        messages["depth"] = float_image_msg(products.depth, header)
    if "points2" in wanted:
        messages["points2"] = pointcloud2_msg(products.points, left_rgb, header)
    if "disparity/image_color" in wanted:
        messages["disparity/image_color"] = rgb_image_msg(colorize(products.disparity, low, high), header)
    if "confidence" in wanted and confidence is not None:
        messages["confidence"] = float_image_msg(confidence, header)
    return messages, products
