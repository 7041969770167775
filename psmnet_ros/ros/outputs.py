"""What psmnet_node publishes: the one registry of its output topics (topic, message type, builder, whether
it is built only when subscribed), and the messages of one stereo frame built from
:func:`~psmnet_ros.core.stereo_products.stereo_products`. The node, the recorder, psmnet-bench, the GPU check
and scripts/node_cycles.py take their topics from here; psmnet-bench times :func:`frame_messages` as the
node's overhead.

Each message is laid out as its CDR bytes in a buffer reused from frame to frame (:mod:`.serialized`), its data
field computed in place (the disparity and depth by stereo_products, the points by pack_cloud, the colours by
colorize), and published as such (:mod:`.serialized_publishing`): subscribers receive what ``serialize_message``
of the equivalent message object gives."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
from sensor_msgs.msg import Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.colorize import colorize
from psmnet_ros.core.output_layout import POINT_FIELDS, depth_millimetres, pack_cloud
from psmnet_ros.core.scratch import Scratch
from psmnet_ros.core.stereo_products import StereoProducts, disparity_range, stereo_products
from psmnet_ros.msg import FrameStats
from psmnet_ros.ros.serialized import MessageBuffer, disparity_message, image_message, pointcloud2_message

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
    """What one frame's output messages are built from (and the temporaries' store)."""

    products: StereoProducts
    left_rgb: np.ndarray            # HxWx3 uint8, the points' colours
    camera: StereoCalibration
    header: object                  # std_msgs/Header of the left image: every output carries it
    low: float                      # DisparityImage min_disparity / max_disparity (pixels)
    high: float
    invalid: np.ndarray | None      # HxW bool: below the confidence threshold; None: all valid
    confidence: np.ndarray | None   # HxW float32 in [0, 1]
    options: OutputOptions
    depth_limits: tuple[float, float]  # points2: (min, max) metres, 0 = no limit
    scratch: Scratch


@dataclass(frozen=True)
class Output:
    """One output topic of the node (relative to its namespace)."""

    topic: str
    msg_type: type
    build: Callable[[FrameData, MessageBuffer], None] | None  # lays out and fills the topic's message in the
    # buffer; None: built by the node itself (frame_stats)
    on_demand: bool = True          # built and published only while something subscribes
    needs: frozenset = frozenset()  # what the products must hold: "depth", "confidence"


@dataclass
class FrameBuffers:
    """The message buffers of one publisher of frames (the node's worker, the benchmark), one per output topic,
    and the temporaries of building them, reused from frame to frame: a frame's messages and products stay valid
    until the next frame is built."""

    buffers: dict[str, MessageBuffer] = field(default_factory=dict)
    scratch: Scratch = field(default_factory=Scratch)

    def __getitem__(self, topic: str) -> MessageBuffer:
        return self.buffers.setdefault(topic, MessageBuffer())


def _float_image(data: np.ndarray, height: int, width: int) -> np.ndarray:
    return data.view(np.float32).reshape(height, width)


def _disparity_layout(f: FrameData, buffer: MessageBuffer) -> np.ndarray:
    width, height = f.camera.size
    data = disparity_message(buffer, f.header, height, width, f.camera.fx, f.camera.baseline_m, f.low, f.high,
                             DELTA_D, (0, 0, width, height))
    return _float_image(data, height, width)


def _disparity(f: FrameData, buffer: MessageBuffer) -> None:
    out = _disparity_layout(f, buffer)
    if out.ctypes.data != f.products.disparity.ctypes.data:  # not computed in place (invalid pixels differ)
        np.copyto(out, f.products.disparity)
    if f.invalid is not None:
        np.copyto(out, np.float32(f.low - INVALID_BELOW_MIN), where=f.invalid)


def _depth_layout(f: FrameData, buffer: MessageBuffer) -> np.ndarray:
    width, height = f.camera.size
    if f.options.depth_encoding == "16UC1":
        return image_message(buffer, f.header, height, width, "16UC1", 2).view(np.uint16).reshape(height, width)
    return _float_image(image_message(buffer, f.header, height, width, "32FC1", 4), height, width)


def _depth(f: FrameData, buffer: MessageBuffer) -> None:
    out = _depth_layout(f, buffer)
    if out.dtype == np.uint16:
        depth_millimetres(f.products.depth, out=out)
    elif out.ctypes.data != f.products.depth.ctypes.data:
        np.copyto(out, f.products.depth)


def _points(f: FrameData, buffer: MessageBuffer) -> None:
    o = f.options

    def allocate(height: int, width: int, point_step: int) -> np.ndarray:
        return pointcloud2_message(buffer, f.header, height, width, POINT_FIELDS[o.points_fields], point_step,
                                   not o.points_organized)

    pack_cloud(f.products.depth, f.left_rgb, f.camera, o.points_decimation, o.points_organized, o.points_fields,
               *f.depth_limits, allocate=allocate, scratch=f.scratch)


def _colour(f: FrameData, buffer: MessageBuffer) -> None:
    width, height = f.camera.size
    data = image_message(buffer, f.header, height, width, "rgb8", 3)
    colorize(f.products.disparity, f.low, f.high, out=data.reshape(height, width, 3), scratch=f.scratch)


def _confidence(f: FrameData, buffer: MessageBuffer) -> None:
    width, height = f.camera.size
    np.copyto(_float_image(image_message(buffer, f.header, height, width, "32FC1", 4), height, width), f.confidence)


OUTPUTS = (
    Output("disparity", DisparityImage, _disparity),
    Output("depth", Image, _depth, needs=frozenset({"depth"})),
    Output("points2", PointCloud2, _points, needs=frozenset({"depth"})),
    Output("disparity/image_color", Image, _colour),
    Output("confidence", Image, _confidence, needs=frozenset({"confidence"})),
)
"""The per-frame outputs, in the order they are published."""
FRAME_STATS = Output("frame_stats", FrameStats, None)
"""Per-frame timing and statistics (psmnet_ros/msg/FrameStats), built by the node with its timings."""
TOPICS = {output.topic: output for output in (*OUTPUTS, FRAME_STATS)}
"""Every output topic of the node, by its relative name."""


def frame_messages(network_disparity: np.ndarray, left_rgb: np.ndarray, camera: StereoCalibration, header,
                   max_network_disparity: float, wanted: set[str], min_depth_m: float = 0.0,
                   max_depth_m: float = 0.0, confidence: np.ndarray | None = None,
                   confidence_threshold: float = 0.0, options: OutputOptions = OutputOptions(),
                   buffers: FrameBuffers | None = None) -> tuple[dict[str, np.ndarray], StereoProducts]:
    """({topic: CDR bytes of its message, uint8} for the ``wanted`` :data:`OUTPUTS` of one frame, the products
    they hold); nothing else is computed.

    network_disparity: HxW pixels as the estimator returns it; left_rgb: HxWx3 uint8 (point colours);
    max_network_disparity: the largest disparity the network can output for this width (pixels), which
    with the principal-point offset gives the DisparityImage's [min_disparity, max_disparity] and the
    colour image's range. confidence: HxW in [0, 1] (needed for the "confidence" output and a threshold above
    0; without it that output is left out); pixels below ``confidence_threshold`` are invalid: below
    min_disparity in the DisparityImage (by INVALID_BELOW_MIN), NaN in depth and points2, black in the colour
    image. Every message carries ``header``; ``options`` lays out points2 and depth. The messages live in
    ``buffers`` (new ones by default) until its next frame.
    """
    buffers = FrameBuffers() if buffers is None else buffers
    chosen = [o for o in OUTPUTS if o.topic in wanted and (confidence is not None or "confidence" not in o.needs)]
    topics = {o.topic for o in chosen}
    invalid = confidence < confidence_threshold if confidence_threshold > 0 and confidence is not None else None
    data = FrameData(None, left_rgb, camera, header, *disparity_range(camera, max_network_disparity), invalid,
                     confidence, options, (min_depth_m, max_depth_m), buffers.scratch)
    # The disparity and 32FC1 depth are computed straight into their messages when those are published.
    shape = camera.size[::-1]
    disparity_out = _disparity_layout(data, buffers["disparity"]) if "disparity" in topics and invalid is None \
        else buffers.scratch("products.disparity", shape, np.float32)
    depth_out = _depth_layout(data, buffers["depth"]) if "depth" in topics and options.depth_encoding == "32FC1" \
        else buffers.scratch("products.depth", shape, np.float32)
    products = stereo_products(network_disparity, camera, depth=any("depth" in o.needs for o in chosen),
                               points=False, min_depth_m=min_depth_m, max_depth_m=max_depth_m, invalid=invalid,
                               disparity_out=disparity_out, depth_out=depth_out)
    data = data._replace(products=products)
    for output in chosen:
        output.build(data, buffers[output.topic])
    return {o.topic: buffers[o.topic].message for o in chosen}, products
