"""What a stereo frame gives a robot, from the network's disparity and the calibration: one function for the node,
psmnet-infer and the benchmark, so that what is published, written and timed cannot disagree.

Convention for messages and files alike (stereo_msgs/DisparityImage's): the disparity is corrected for the
principal points, d' = d + (cx_right - cx_left) where d = x_left - x_right is what the network estimates,
so that Z = fx * B / d'. For most rigs cx_right = cx_left and d' = d.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import StereoCalibration
from .errors import InputError
from .geometry import depth_to_points, disparity_to_depth


def depth_limits_problem(min_depth_m: float, max_depth_m: float) -> tuple[str, str] | None:
    """What is wrong with a pair of depth limits (metres; max 0 = no limit): ("min" or "max", the reason), or None."""
    if not (np.isfinite(min_depth_m) and min_depth_m >= 0):
        return "min", "must be a finite number >= 0 (metres)"
    if not (np.isfinite(max_depth_m) and max_depth_m >= 0):
        return "max", "must be a finite number >= 0 (metres; 0 = no limit)"
    if max_depth_m and max_depth_m <= min_depth_m:
        return "max", f"must exceed the minimum depth ({min_depth_m} m) or be 0 (no limit)"
    return None


def check_depth_limits(min_depth_m: float, max_depth_m: float) -> None:
    """InputError naming the limit unless :func:`depth_limits_problem` finds nothing."""
    problem = depth_limits_problem(min_depth_m, max_depth_m)
    if problem:
        which, reason = problem
        raise InputError(f"{which}imum depth {min_depth_m if which == 'min' else max_depth_m} {reason}")


def corrected_disparity(network_disparity: np.ndarray, calibration: StereoCalibration | None,
                        out: np.ndarray | None = None) -> np.ndarray:
    """d' = d + (cx_right - cx_left): the published disparity of a network (or any x_left - x_right)
    disparity, float32 pixels; unchanged without a calibration. ``out``: a float32 array to write into (returned)."""
    doffs = np.float32(calibration.doffs if calibration else 0.0)
    return np.add(np.asarray(network_disparity, dtype=np.float32), doffs, out=out)


def uncorrected_disparity(disparity: np.ndarray, calibration: StereoCalibration | None) -> np.ndarray:
    """The inverse of :func:`corrected_disparity`: x_left - x_right from a published d' (float32 pixels),
    as ground truth and the network count it."""
    doffs = np.float32(calibration.doffs if calibration else 0.0)
    return np.asarray(disparity, dtype=np.float32) - doffs


def disparity_range(calibration: StereoCalibration | None, max_network_disparity: float) -> tuple[float, float]:
    """(low, high) pixels of the published disparity d': the network's [0, max_network_disparity] shifted by
    the principal-point offset. DisparityImage's min/max_disparity and the colour images' range."""
    low = calibration.doffs if calibration else 0.0
    return low, low + max_network_disparity


@dataclass(frozen=True)
class StereoProducts:
    """One frame's products, HxW (HxWx3 for points), float32, NaN where invalid.

    disparity: d' in pixels; depth: metres along the optical axis (NaN also where d' <= 0);
    points: metres in the left optical frame (NaN also outside the depth limits). depth and points
    are None when not asked for.
    """

    disparity: np.ndarray
    depth: np.ndarray | None = None
    points: np.ndarray | None = None


def stereo_products(network_disparity: np.ndarray, calibration: StereoCalibration, *, depth: bool = True,
                    points: bool = True, min_depth_m: float = 0.0, max_depth_m: float = 0.0,
                    invalid: np.ndarray | None = None, disparity_out: np.ndarray | None = None,
                    depth_out: np.ndarray | None = None) -> StereoProducts:
    """The corrected disparity, and on request depth and points, of an HxW network disparity (pixels).

    min_depth_m / max_depth_m (0 = no limit; :func:`check_depth_limits`): points nearer / farther are NaN
    (the depth image keeps them). invalid: optional HxW bool mask of pixels to mark invalid (NaN) in all three.
    disparity_out / depth_out: HxW float32 arrays to compute the disparity / depth into (a message's data field).
    """
    check_depth_limits(min_depth_m, max_depth_m)
    network_disparity = np.asarray(network_disparity)
    if network_disparity.shape[::-1] != calibration.size:
        raise InputError(f"disparity is {network_disparity.shape[1]}x{network_disparity.shape[0]} px but the camera "
                         f"is {calibration.size[0]}x{calibration.size[1]} px")
    disparity = corrected_disparity(network_disparity, calibration, out=disparity_out)
    if invalid is not None:
        disparity[invalid] = np.nan
    if not (depth or points):
        return StereoProducts(disparity)
    z = disparity_to_depth(disparity, calibration, out=depth_out)
    if not points:
        return StereoProducts(disparity, z)
    xyz = depth_to_points(z, calibration)
    xyz[~depth_within(z, min_depth_m, max_depth_m)] = np.nan
    return StereoProducts(disparity, z if depth else None, xyz)


def depth_within(depth: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """HxW bool: where the depth (metres) is not outside the limits (max 0 = no limit); NaN depth counts as within
    (it is invalid anyway)."""
    outside = depth < min_depth_m
    if max_depth_m:
        outside |= depth > max_depth_m
    return ~outside
