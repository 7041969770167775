"""What psmnet_node publishes: the one registry of its output topics (topic, message type, builder, whether
it is built only when subscribed), and the messages of one stereo frame built from
:func:`~psmnet_ros.core.stereo_products.stereo_products`. The node, the recorder, psmnet-bench, the GPU check
and scripts/node_cycles.py take their topics from here; psmnet-bench times :func:`frame_messages` as the
node's overhead.

Each message is built as its CDR bytes, straight from the arrays (:mod:`.serialized`), and published as such:
subscribers receive what ``serialize_message`` of the equivalent message object gives."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from sensor_msgs.msg import Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.colorize import colorize
from psmnet_ros.core.output_layout import depth_millimetres, pack_cloud
from psmnet_ros.core.stereo_products import StereoProducts, disparity_range, stereo_products
from psmnet_ros.msg import FrameStats
from psmnet_ros.ros.serialized import disparity_cdr, image_cdr, pointcloud2_cdr

DELTA_D = 1.0 / 16.0
"""DisparityImage.delta_d (pixels). The soft argmin is continuous; 1/16 px is what SGBM and
stereo_image_proc report, a conservative bound on the useful resolution."""
INVALID_BELOW_MIN = 1.0
"""An invalid pixel's value in a DisparityImage: this far below min_disparity (pixels). The message
definition: "any disparity less than min_disparity is invalid"; stereo_image_proc writes the same."""


@dataclass(frozen=True)
class OutputOptions:
    """How the outputs are laid out (the node's points_* and depth_encoding parameters; core/output_layout.py)."""

    points_decimation: int = 1      # every N-th row and column
    points_organized: bool = True   # False: only valid points, height 1
    points_fields: str = "xyzrgb"   # or "xyz"
    depth_encoding: str = "32FC1"   # or "16UC1" (millimetres, 0 invalid)


class FrameData(NamedTuple):
    """What one frame's output messages are built from."""

    products: StereoProducts
    left_rgb: np.ndarray            # HxWx3 uint8, the points' colours
    camera: StereoCalibration
    header: object                  # std_msgs/Header of the left image: every output carries it
    low: float                      # DisparityImage min_disparity / max_disparity (pixels)
    high: float
    invalid: np.ndarray | None      # HxW bool: below the confidence threshold; None: all valid
    confidence: np.ndarray | None   # HxW float32 in [0, 1]
    options: OutputOptions


@dataclass(frozen=True)
class Output:
    """One output topic of the node (relative to its namespace)."""

    topic: str
    msg_type: type
    build: Callable[[FrameData], bytes] | None  # the CDR bytes; None: built by the node itself (frame_stats)
    on_demand: bool = True          # built and published only while something subscribes
    needs: frozenset = frozenset()  # what the products must hold: "depth", "points", "confidence"


def _disparity(f: FrameData) -> bytes:
    published = f.products.disparity if f.invalid is None else \
        np.where(f.invalid, np.float32(f.low - INVALID_BELOW_MIN), f.products.disparity)
    width, height = f.camera.size
    return disparity_cdr(published, f.header, f.camera.fx, f.camera.baseline_m, f.low, f.high, DELTA_D,
                         (0, 0, width, height))


def _depth(f: FrameData) -> bytes:
    if f.options.depth_encoding == "16UC1":
        return image_cdr(depth_millimetres(f.products.depth), "16UC1", f.header)
    return image_cdr(f.products.depth, "32FC1", f.header)


def _points(f: FrameData) -> bytes:
    o = f.options
    cloud = pack_cloud(f.products.points, f.left_rgb, o.points_decimation, o.points_organized, o.points_fields)
    return pointcloud2_cdr(cloud.data, cloud.height, cloud.width, cloud.fields, cloud.point_step, cloud.is_dense,
                           f.header)


OUTPUTS = (
    Output("disparity", DisparityImage, _disparity),
    Output("depth", Image, _depth, needs=frozenset({"depth"})),
    Output("points2", PointCloud2, _points, needs=frozenset({"depth", "points"})),
    Output("disparity/image_color", Image,
           lambda f: image_cdr(colorize(f.products.disparity, f.low, f.high), "rgb8", f.header)),
    Output("confidence", Image, lambda f: image_cdr(f.confidence, "32FC1", f.header), needs=frozenset({"confidence"})),
)
"""The per-frame outputs, in the order they are published."""
FRAME_STATS = Output("frame_stats", FrameStats, None)
"""Per-frame timing and statistics (psmnet_ros/msg/FrameStats), built by the node with its timings."""
TOPICS = {output.topic: output for output in (*OUTPUTS, FRAME_STATS)}
"""Every output topic of the node, by its relative name."""


def frame_messages(network_disparity: np.ndarray, left_rgb: np.ndarray, camera: StereoCalibration, header,
                   max_network_disparity: float, wanted: set[str], min_depth_m: float = 0.0,
                   max_depth_m: float = 0.0, confidence: np.ndarray | None = None,
                   confidence_threshold: float = 0.0, options: OutputOptions = OutputOptions()
                   ) -> tuple[dict[str, bytes], StereoProducts]:
    """({topic: CDR bytes of its message} for the ``wanted`` :data:`OUTPUTS` of one frame, the products they
    hold); nothing else is computed.

    network_disparity: HxW pixels as the estimator returns it; left_rgb: HxWx3 uint8 (point colours);
    max_network_disparity: the largest disparity the network can output for this width (pixels), which
    with the principal-point offset gives the DisparityImage's [min_disparity, max_disparity] and the
    colour image's range. confidence: HxW in [0, 1] (needed for the "confidence" output and a threshold above
    0; without it that output is left out); pixels below ``confidence_threshold`` are invalid: below
    min_disparity in the DisparityImage (by INVALID_BELOW_MIN), NaN in depth and points2, black in the colour
    image. Every message carries ``header``; ``options`` lays out points2 and depth.
    """
    chosen = [o for o in OUTPUTS if o.topic in wanted and (confidence is not None or "confidence" not in o.needs)]
    needs = frozenset().union(*(o.needs for o in chosen))
    invalid = confidence < confidence_threshold if confidence_threshold > 0 and confidence is not None else None
    products: StereoProducts = stereo_products(
        network_disparity, camera, depth="depth" in needs, points="points" in needs,
        min_depth_m=min_depth_m, max_depth_m=max_depth_m, invalid=invalid)
    data = FrameData(products, left_rgb, camera, header, *disparity_range(camera, max_network_disparity), invalid,
                     confidence, options)
    return {o.topic: o.build(data) for o in chosen}, products
