"""OpenCV semi-global block matching (cv2.StereoSGBM) as a classical baseline for PSMNet.

ROS-free: RGB arrays in, disparity in pixels out, the same contract as the
network's estimator, so both can be scored by :mod:`psmnet_ros.core.metrics`
on the same pair.
"""
from __future__ import annotations

import cv2
import numpy as np

from .errors import InputError

SGBM_NUM_DISPARITIES = 64
SGBM_BLOCK_SIZE = 5
SGBM_UNIQUENESS_RATIO = 10
SGBM_SPECKLE_WINDOW_SIZE = 100
SGBM_SPECKLE_RANGE_PX = 2
SGBM_DISP12_MAX_DIFF_PX = 1
SGBM_FIXED_POINT_SCALE = 16      # StereoSGBM returns int16 disparity * 16 (4 fractional bits)


def _check_image(name: str, image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"SGBM needs HxWx3 uint8 RGB images; {name} is {image.dtype} of shape {image.shape}")
    return np.ascontiguousarray(image)


def sgbm_disparity(left: np.ndarray, right: np.ndarray, num_disparities: int = SGBM_NUM_DISPARITIES,
                   block_size: int = SGBM_BLOCK_SIZE, min_disparity: int = 0) -> np.ndarray:
    """Disparity of a rectified pair by OpenCV StereoSGBM, HxW float32 pixels, NaN where SGBM has none.

    ``left``/``right``: HxWx3 uint8 RGB of one size (channel order does not
    matter: SGBM sums its matching cost over the channels). The disparity d of
    left pixel (x, y) means it matches right pixel (x - d, y); it lies in
    [min_disparity, min_disparity + num_disparities - 1] with 1/16 px steps.

    Parameters, chosen the way stereo_image_proc users run SGBM rather than tuned
    on any evaluation pair:

    - ``num_disparities`` 64 (a positive multiple of 16; 64 is also
      stereo_image_proc's default disparity range): covers the Middlebury
      Motorcycle pair as scikit-image ships it (7..60 px). With min_disparity 0,
      SGBM leaves the leftmost num_disparities columns of the left image
      without a value (there the whole range does not fit in the right image),
      so a wider range than the scene needs costs density;
    - ``block_size`` 5 (odd), P1 = 8 * 3 * block_size**2 and
      P2 = 32 * 3 * block_size**2 (the smoothness penalties OpenCV's
      documentation and samples give for 3-channel images);
    - uniquenessRatio 10 %, speckle filtering of regions under 100 px whose
      disparity varies by at most 2 px, disp12MaxDiff 1 px (left-right
      consistency check), the default 5-direction MODE_SGBM.

    Pixels SGBM rejects (no match, not unique, left-right inconsistent,
    speckles; OpenCV marks them (min_disparity - 1) * 16) are NaN.
    """
    left = _check_image("left", left)
    right = _check_image("right", right)
    if left.shape != right.shape:
        raise InputError(f"SGBM needs left and right images of one size, got {left.shape[1]}x{left.shape[0]} "
                         f"and {right.shape[1]}x{right.shape[0]} (WxH)")
    if isinstance(num_disparities, bool) or not isinstance(num_disparities, (int, np.integer)) \
            or num_disparities < 16 or num_disparities % 16:
        raise InputError(f"SGBM numDisparities must be a positive multiple of 16, got {num_disparities!r}")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1 or block_size % 2 == 0:
        raise InputError(f"SGBM blockSize must be a positive odd number, got {block_size!r}")
    if isinstance(min_disparity, bool) or not isinstance(min_disparity, (int, np.integer)):
        raise InputError(f"SGBM minDisparity must be an integer, got {min_disparity!r}")
    height, width = left.shape[:2]
    if width - (min_disparity + num_disparities) <= block_size // 2:
        raise InputError(f"SGBM needs images wider than minDisparity + numDisparities + blockSize // 2 = "
                         f"{min_disparity + num_disparities + block_size // 2} px, got {width}x{height} (WxH)")
    channels = left.shape[2]
    matcher = cv2.StereoSGBM_create(
        minDisparity=int(min_disparity), numDisparities=int(num_disparities), blockSize=int(block_size),
        P1=8 * channels * block_size ** 2, P2=32 * channels * block_size ** 2,
        disp12MaxDiff=SGBM_DISP12_MAX_DIFF_PX, uniquenessRatio=SGBM_UNIQUENESS_RATIO,
        speckleWindowSize=SGBM_SPECKLE_WINDOW_SIZE, speckleRange=SGBM_SPECKLE_RANGE_PX,
        mode=cv2.StereoSGBM_MODE_SGBM)
    fixed = matcher.compute(left, right)
    disparity = fixed.astype(np.float32) / SGBM_FIXED_POINT_SCALE
    disparity[fixed < min_disparity * SGBM_FIXED_POINT_SCALE] = np.nan
    return disparity
