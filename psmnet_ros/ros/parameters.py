"""The node's ROS parameters: one table (:data:`PARAMETERS`) from which the settings dataclass, the descriptors
(description, range, choices, read-only), config/psmnet.yaml's lines and the validation come."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException

from psmnet_ros.core.confidence import check_threshold
from psmnet_ros.core.device import parse_device
from psmnet_ros.core.errors import InputError, PSMNetError
from psmnet_ros.core.estimator import MAX_INPUT_SCALE
from psmnet_ros.core.fast.precision import PRECISIONS
from psmnet_ros.core.output_layout import DECIMATIONS, DEPTH_ENCODINGS, POINT_FIELDS
from psmnet_ros.core.psmnet import VARIANTS, check_maxdisp
from psmnet_ros.core.stereo_products import depth_limits_problem
from psmnet_ros.core.weights import CATALOG, DEFAULT, RANDOM, parse_weights
from psmnet_ros.ros.input_qos import QOS_CHOICES

IMAGE_TRANSPORTS = ("raw", "compressed")
DEPRECATED = {"checkpoint": "weights"}
"""Old parameter names still accepted for a release, with the name that replaces each."""


class ParameterError(PSMNetError):
    """A parameter value the node cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class Parameter:
    """One row of the table. ``yaml``: the comment lines of config/psmnet.yaml (short); ``description``: the
    descriptor's text (full); ``limits``: (low, high) or (low, high, step) of the descriptor's range."""

    name: str
    default: bool | int | float | str
    description: str
    yaml: tuple[str, ...] = ()
    runtime: bool = False           # may change while the node runs; all others are read-only
    limits: tuple = ()
    choices: tuple[str, ...] = ()


PARAMETERS = (
    Parameter("weights", "", "weights: a name (" + ", ".join(f"{n}: {e.description}" for n, e in CATALOG.items())
              + f"; '{RANDOM}': untrained, meaningless output) or a checkpoint file (.tar/.pth); empty = {DEFAULT}",
              (f'"" = {DEFAULT} (the official PSMNet KITTI 2015 checkpoint); a name',
               f"({', '.join(CATALOG)}, {RANDOM} = untrained: meaningless output) or a .tar/.pth path")),
    Parameter("variant", "stackhourglass", "network variant: stackhourglass or basic (must match the weights)",
              ("stackhourglass | basic (must match the weights)",), choices=VARIANTS),
    Parameter("maxdisp", 192, "disparity search range of the network in network pixels; multiple of 16 "
              "(stackhourglass) or 4 (basic)",
              ("network disparity range (pixels at input_scale); multiple of 16 (basic: 4)",), limits=(4, 1024, 4)),
    Parameter("align_corners", True, "bilinear/trilinear upsampling with align_corners=True, as the official "
              "checkpoints need", ("true for the official checkpoints",)),
    Parameter("device", "cuda", "torch device: cpu, cuda or cuda:N (cuda falls back to cpu when no GPU is available)",
              ("cpu | cuda | cuda:N; cuda without a GPU falls back to cpu",)),
    Parameter("precision", "fp32", "inference precision: fp32 (strict), tf32, fp16, bf16, or auto (fp16 on CUDA "
              "GPUs of compute capability >= 7.0, else fp32); the last stage always runs in fp32; on a CPU, fp16 "
              "and bf16 without native bfloat16 kernels run in fp32",
              ("fp32 | tf32 | fp16 | bf16 | auto (fp16 falls back to fp32 on the cpu)",), choices=PRECISIONS),
    Parameter("batch_size", 1, "most synchronized pairs of one size per forward pass",
              ("pairs of one size per forward pass",), limits=(1, 64, 1)),
    Parameter("frame_queue_size", 0, "synchronized pairs waiting for the network at most; a new pair finding them "
              "all waiting drops the oldest; 0 = batch_size (live cameras: the newest frames count), more "
              "(>= batch_size) keeps short bursts, e.g. from a bag or a network hiccup",
              ("pairs waiting for the network; when full the oldest is dropped;",
               "0 = batch_size (live); more keeps bursts (bag playback)"), limits=(0, 1000, 1)),
    Parameter("max_batch_delay_ms", 10.0, "longest wait after the oldest waiting pair for a batch to fill "
              "(milliseconds)", ("wait after the oldest queued pair for a batch to fill (ms)",), runtime=True,
              limits=(0.0, 10000.0)),
    Parameter("input_scale", 1.0, f"factor the pair is resized by for the network, in (0, {MAX_INPUT_SCALE:g}]; "
              "disparities are returned in image pixels",
              (f"factor the pair is resized by for the network, (0, {MAX_INPUT_SCALE:g}]",),
              limits=(0.0, MAX_INPUT_SCALE)),
    Parameter("approximate_sync", False, "pair images and camera infos with approximately equal stamps instead of "
              "exact ones", ("false: exact stamps; true: within the tolerance below",)),
    Parameter("approximate_sync_tolerance_seconds", 0.01, "approximate sync: largest stamp difference within a set "
              "(seconds)", limits=(0.0, 60.0)),
    Parameter("queue_size", 5, "messages kept per input while waiting for their stereo partners",
              ("messages kept per input while waiting for the stereo partners",), limits=(1, 1000, 1)),
    Parameter("min_depth", 0.0, "points2: points nearer than this are NaN (metres)",
              ("points2: nearer points are NaN (m)",), runtime=True, limits=(0.0, 1.0e6)),
    Parameter("max_depth", 0.0, "points2: points farther than this are NaN (metres); 0 = no limit",
              ("points2: farther points are NaN (m); 0 = no limit",), runtime=True, limits=(0.0, 1.0e6)),
    Parameter("confidence_threshold", 0.0, "pixels whose confidence (probability within +-6 px of the estimate, "
              "in [0, 1]) is below this are invalid in disparity, depth and points2; 0 = none",
              ("pixels less confident are invalid in disparity, depth, points2; 0 = none",), runtime=True,
              limits=(0.0, 1.0)),
    Parameter("points_decimation", 1, "points2: every N-th row and column (1, 2, 4 or 8): an organized cloud of "
              "the smaller size", ("points2: every N-th row and column (1 | 2 | 4 | 8)",), runtime=True,
              limits=(1, 8, 1), choices=DECIMATIONS),
    Parameter("points_organized", True, "points2: true = organized (image-shaped, NaN where invalid); false = only "
              "the valid points (height 1, is_dense)", ("points2: true = image-shaped; false = valid points only",),
              runtime=True),
    Parameter("points_fields", "xyzrgb", "points2: xyzrgb (16 bytes a point) or xyz (12 bytes)",
              ("points2: xyzrgb | xyz",), runtime=True, choices=tuple(POINT_FIELDS)),
    Parameter("points_every", 1, "points2 for one frame in N (the other outputs every frame)",
              ("points2 for one frame in N",), runtime=True, limits=(1, 1000, 1)),
    Parameter("depth_encoding", "32FC1", "depth: 32FC1 (metres, NaN invalid) or 16UC1 (millimetres, 0 invalid or "
              "beyond 65.535 m; REP 118)", ("32FC1 (m, NaN invalid) | 16UC1 (mm, 0 invalid)",), runtime=True,
              choices=DEPTH_ENCODINGS),
    Parameter("qos", "auto", "input subscriptions: auto (the reliability the discovered publishers offer), "
              "sensor_data (best effort) or reliable",
              ("inputs: auto (the publishers' reliability, docs/qos.md) | sensor_data | reliable",),
              choices=QOS_CHOICES),
    Parameter("image_transport", "raw", "input images: raw (sensor_msgs/Image on <image topic>) or compressed "
              "(sensor_msgs/CompressedImage, PNG or JPEG, on <image topic>/compressed, as image_transport names it)",
              ("raw | compressed (<image topic>/compressed, PNG or JPEG)",), choices=IMAGE_TRANSPORTS),
    Parameter("lazy", True, "subscribe to the inputs only while an output has a subscriber (no inference for "
              "nobody); false: always subscribed",
              ("true: inputs only while an output has a subscriber; false: always",)),
    Parameter("diagnostics_period", 1.0, "period of the /diagnostics status (seconds)", ("/diagnostics period (s)",),
              limits=(0.05, 3600.0)),
)
BY_NAME = {p.name: p for p in PARAMETERS}
RUNTIME = tuple(p.name for p in PARAMETERS if p.runtime)
"""Parameters that may change while the node runs; all others are read-only."""


def _frame_queue_capacity(self) -> int:
    """Pairs the frame queue holds: frame_queue_size, 0 meaning one batch."""
    return self.frame_queue_size or self.batch_size


NodeSettings = dataclasses.make_dataclass(
    "NodeSettings", [(p.name, type(p.default), dataclasses.field(default=p.default)) for p in PARAMETERS],
    frozen=True, namespace={"__doc__": "All parameter values, in the units their names give (the table's "
                                       "defaults = config/psmnet.yaml).",
                            "frame_queue_capacity": property(_frame_queue_capacity)})
NodeSettings.__module__ = __name__


def descriptor(name: str) -> ParameterDescriptor:
    """The ROS descriptor of parameter ``name``: description, read-only flag, range, choices."""
    p = BY_NAME[name]
    result = ParameterDescriptor(name=name, description=p.description, read_only=not p.runtime)
    if isinstance(p.default, int) and not isinstance(p.default, bool) and p.limits:
        low, high, step = p.limits
        result.integer_range = [IntegerRange(from_value=low, to_value=high, step=step)]
    elif isinstance(p.default, float) and p.limits:
        low, high = p.limits
        result.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    if p.choices:
        result.additional_constraints = "one of: " + ", ".join(map(str, p.choices))
    return result


def params_yaml() -> str:
    """config/psmnet.yaml as the table gives it: every parameter with its default and its comment."""
    runtime = ", ".join(RUNTIME[:-1]) + " and " + RUNTIME[-1]
    lines = ["# Parameters of psmnet_node (psmnet_ros/ros/parameters.py holds the descriptions and limits).",
             f"# Read-only at run time except {runtime}.",
             "# The key /**/psmnet_node matches the node in any namespace (namespace:=/x, -r __ns:=/x).",
             "/**/psmnet_node:", "  ros__parameters:"]
    for p in PARAMETERS:
        value = ('""' if p.default == "" else p.default) if isinstance(p.default, str) else \
            str(p.default).lower() if isinstance(p.default, bool) else repr(p.default)
        entry = f"    {p.name}: {value}"
        comments = list(p.yaml)
        if not comments:
            lines.append(entry)
            continue
        lines.append(f"{entry:<29} # {comments[0]}".rstrip() if len(entry) < 30 else f"{entry} # {comments[0]}")
        lines += [f"{'':<30}# {text}" for text in comments[1:]]
    return "\n".join(lines) + "\n"


def declare_parameters(node) -> NodeSettings:
    """Declare every parameter on ``node`` (those not declared yet) and return their validated values.

    Raises ParameterError naming the parameter for a wrong type, an out-of-range or otherwise unusable
    value. A deprecated name (:data:`DEPRECATED`) still sets its successor, with a warning in the log.
    """
    values = {}
    for p in PARAMETERS:
        try:
            values[p.name] = _declared(node, p.name, p.default, descriptor(p.name))
        except ParameterException as exc:
            raise ParameterError(f"parameter '{p.name}': {exc}") from None
    for old, new in DEPRECATED.items():
        value = _declared(node, old, "", ParameterDescriptor(name=old, description=f"deprecated: use '{new}'",
                                                              read_only=True))
        if value:
            if values[new] and values[new] != value:
                raise ParameterError(f"parameter '{old}' = {value!r} (deprecated) and '{new}' = {values[new]!r} "
                                     f"disagree: set only '{new}'")
            node.get_logger().warning(f"parameter '{old}' is deprecated and will be removed in the next release: "
                                      f"use '{new}' (taking {value!r} as '{new}')")
            values[new] = value
    settings = NodeSettings(**values)
    validate(settings)
    return settings


def _declared(node, name: str, default, descriptor_: ParameterDescriptor):
    """The value of parameter ``name``, declared now unless it already is (a lifecycle node configured again)."""
    if node.has_parameter(name):
        return node.get_parameter(name).value
    return node.declare_parameter(name, default, descriptor_).value


def validate(settings: NodeSettings) -> None:
    """Raise ParameterError naming the first parameter whose value cannot work: the table's choices and limits,
    the core's rules (maxdisp, device, confidence, depth limits, weights) and the rules between parameters."""
    s = settings
    for p in PARAMETERS:
        value = getattr(s, p.name)
        if p.choices and value not in p.choices:
            _fail(p.name, value, "must be one of " + ", ".join(map(str, p.choices)))
    _check("maxdisp", s.maxdisp, check_maxdisp, s.variant, s.maxdisp)
    _check("device", s.device, parse_device, s.device)
    if s.frame_queue_size and not s.batch_size <= s.frame_queue_size <= 1000:
        _fail("frame_queue_size", s.frame_queue_size, f"must be 0 (= batch_size) or from batch_size "
                                                       f"({s.batch_size}) to 1000")
    if not 0.0 < s.input_scale <= MAX_INPUT_SCALE:
        _fail("input_scale", s.input_scale, f"must be in (0, {MAX_INPUT_SCALE:g}]")
    _check("confidence_threshold", s.confidence_threshold, check_threshold, s.confidence_threshold)
    depth_problem = depth_limits_problem(s.min_depth, s.max_depth)
    if depth_problem:
        name = f"{depth_problem[0]}_depth"
        _fail(name, getattr(s, name), depth_problem[1])
    for p in PARAMETERS:
        value = getattr(s, p.name)
        if p.limits and not p.limits[0] <= value <= p.limits[1]:  # NaN fails too
            _fail(p.name, value, f"must be from {p.limits[0]:g} to {p.limits[1]:g}")
    _check("weights", s.weights, parse_weights, s.weights, s.variant, s.maxdisp, s.align_corners)


def updated(settings: NodeSettings, parameters) -> NodeSettings:
    """``settings`` with run-time ``parameters`` (rclpy Parameter list) applied and validated.

    Raises ParameterError for a read-only or unknown name or an unusable value.
    """
    changes = {}
    for parameter in parameters:
        if parameter.name not in RUNTIME:
            raise ParameterError(f"parameter '{parameter.name}' cannot be changed while the node runs")
        changes[parameter.name] = type(BY_NAME[parameter.name].default)(parameter.value)
    new = dataclasses.replace(settings, **changes)
    validate(new)
    return new


def _check(name: str, value, rule, *args) -> None:
    """Apply a core rule (``rule(*args)``, raising InputError) to parameter ``name`` = ``value``."""
    try:
        rule(*args)
    except InputError as exc:
        _fail(name, value, str(exc))


def _fail(name: str, value, reason: str) -> None:
    raise ParameterError(f"parameter '{name}' = {value!r}: {reason}")
