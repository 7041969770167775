"""The node's ROS parameters: declarations with descriptors, start-up and run-time validation."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException

from psmnet_ros.core.confidence import check_threshold
from psmnet_ros.core.errors import InputError, PSMNetError
from psmnet_ros.core.estimator import MAX_INPUT_SCALE
from psmnet_ros.core.fast.precision import PRECISIONS
from psmnet_ros.core.psmnet import VARIANTS
from psmnet_ros.core.stereo_products import depth_limits_problem
from psmnet_ros.core.weights import CATALOG, DEFAULT, RANDOM, parse_weights
from psmnet_ros.ros.input_qos import QOS_CHOICES

RUNTIME = ("min_depth", "max_depth", "max_batch_delay_ms", "confidence_threshold")
"""Parameters that may change while the node runs; all others are read-only."""


class ParameterError(PSMNetError):
    """A parameter value the node cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class NodeSettings:
    """All parameter values, in the units their names give (defaults = config/psmnet.yaml)."""

    checkpoint: str = ""
    variant: str = "stackhourglass"
    maxdisp: int = 192
    align_corners: bool = True
    device: str = "cuda"
    precision: str = "fp32"
    batch_size: int = 1
    frame_queue_size: int = 0
    max_batch_delay_ms: float = 10.0
    input_scale: float = 1.0
    approximate_sync: bool = False
    approximate_sync_tolerance_seconds: float = 0.01
    queue_size: int = 5
    min_depth: float = 0.0
    max_depth: float = 0.0
    confidence_threshold: float = 0.0
    qos: str = "auto"
    diagnostics_period: float = 1.0


_DESCRIPTIONS = {
    "checkpoint": "weights: a name (" + ", ".join(f"{name}: {entry.description}" for name, entry in CATALOG.items())
                  + f"; '{RANDOM}': untrained, meaningless output) or a checkpoint file (.tar/.pth); "
                  f"empty = {DEFAULT}",
    "variant": "network variant: stackhourglass or basic (must match the weights)",
    "maxdisp": "disparity search range of the network in network pixels; multiple of 16 (stackhourglass) "
               "or 4 (basic)",
    "align_corners": "bilinear/trilinear upsampling with align_corners=True, as the official checkpoints need",
    "device": "torch device: cpu, cuda or cuda:N (cuda falls back to cpu when no GPU is available)",
    "precision": "inference precision: fp32 (strict), tf32, fp16, bf16, or auto (fp16 on CUDA GPUs of "
                 "compute capability >= 7.0, else fp32); the last stage always runs in fp32",
    "batch_size": "most synchronized pairs of one size per forward pass",
    "frame_queue_size": "synchronized pairs waiting for the network at most; a new pair finding them all "
                        "waiting drops the oldest; 0 = batch_size (live cameras: the newest frames count), "
                        "more (>= batch_size) keeps short bursts, e.g. from a bag or a network hiccup",
    "max_batch_delay_ms": "longest wait after the oldest waiting pair for a batch to fill (milliseconds)",
    "input_scale": f"factor the pair is resized by for the network, in (0, {MAX_INPUT_SCALE:g}]; disparities "
                   "are returned in image pixels",
    "approximate_sync": "pair images and camera infos with approximately equal stamps instead of exact ones",
    "approximate_sync_tolerance_seconds": "approximate sync: largest stamp difference within a set (seconds)",
    "queue_size": "messages kept per input while waiting for their stereo partners",
    "min_depth": "points2: points nearer than this are NaN (metres)",
    "max_depth": "points2: points farther than this are NaN (metres); 0 = no limit",
    "confidence_threshold": "pixels whose confidence (probability within +-6 px of the estimate, in [0, 1]) is "
                            "below this are invalid in disparity, depth and points2; 0 = none",
    "qos": "input subscriptions: auto (the reliability the discovered publishers offer), sensor_data (best "
           "effort) or reliable",
    "diagnostics_period": "period of the /diagnostics status (seconds)",
}

_INT_RANGES = {"maxdisp": (4, 1024, 4), "batch_size": (1, 64, 1), "frame_queue_size": (0, 1000, 1),
               "queue_size": (1, 1000, 1)}
_FLOAT_RANGES = {"max_batch_delay_ms": (0.0, 10000.0), "input_scale": (0.0, MAX_INPUT_SCALE),
                 "approximate_sync_tolerance_seconds": (0.0, 60.0), "min_depth": (0.0, 1.0e6),
                 "max_depth": (0.0, 1.0e6), "confidence_threshold": (0.0, 1.0), "diagnostics_period": (0.05, 3600.0)}
_CHOICES = {"variant": VARIANTS, "precision": PRECISIONS, "qos": QOS_CHOICES}


def _descriptor(name: str) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=name, description=_DESCRIPTIONS[name],
                                     read_only=name not in RUNTIME)
    if name in _INT_RANGES:
        low, high, step = _INT_RANGES[name]
        descriptor.integer_range = [IntegerRange(from_value=low, to_value=high, step=step)]
    if name in _FLOAT_RANGES:
        low, high = _FLOAT_RANGES[name]
        descriptor.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    if name in _CHOICES:
        descriptor.additional_constraints = "one of: " + ", ".join(_CHOICES[name])
    return descriptor


def declare_parameters(node) -> NodeSettings:
    """Declare every parameter on ``node`` and return their validated values.

    Raises ParameterError naming the parameter for a wrong type, an out-of-range or
    otherwise unusable value.
    """
    values = {}
    for field in dataclasses.fields(NodeSettings):
        try:
            values[field.name] = node.declare_parameter(field.name, field.default,
                                                        _descriptor(field.name)).value
        except ParameterException as exc:
            raise ParameterError(f"parameter '{field.name}': {exc}") from None
    settings = NodeSettings(**values)
    validate(settings)
    return settings


def validate(settings: NodeSettings) -> None:
    """Raise ParameterError naming the first parameter whose value cannot work."""
    s = settings
    for name, choices in _CHOICES.items():
        if getattr(s, name) not in choices:
            _fail(name, getattr(s, name), "must be one of " + ", ".join(choices))
    multiple = 16 if s.variant == "stackhourglass" else 4
    if s.maxdisp <= 0 or s.maxdisp % multiple:
        _fail("maxdisp", s.maxdisp, f"must be a positive multiple of {multiple} for the {s.variant} "
                                    f"variant (its hourglasses halve the maxdisp/4 disparity axis twice)")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", s.device):
        _fail("device", s.device, "must be cpu, cuda or cuda:N")
    if s.batch_size < 1:
        _fail("batch_size", s.batch_size, "must be >= 1")
    if s.frame_queue_size and not s.batch_size <= s.frame_queue_size <= 1000:
        _fail("frame_queue_size", s.frame_queue_size, f"must be 0 (= batch_size) or from batch_size "
                                                       f"({s.batch_size}) to 1000")
    if s.queue_size < 1:
        _fail("queue_size", s.queue_size, "must be >= 1")
    if not 0.0 < s.input_scale <= MAX_INPUT_SCALE:
        _fail("input_scale", s.input_scale, f"must be in (0, {MAX_INPUT_SCALE:g}]")
    try:
        check_threshold(s.confidence_threshold)
    except InputError as exc:
        _fail("confidence_threshold", s.confidence_threshold, str(exc))
    for name in ("max_batch_delay_ms", "approximate_sync_tolerance_seconds"):
        value = getattr(s, name)
        if not (math.isfinite(value) and value >= 0.0):
            _fail(name, value, "must be a finite number >= 0")
    if not (math.isfinite(s.diagnostics_period) and s.diagnostics_period > 0.0):
        _fail("diagnostics_period", s.diagnostics_period, "must be > 0 seconds")
    depth_problem = depth_limits_problem(s.min_depth, s.max_depth)
    if depth_problem:
        name = f"{depth_problem[0]}_depth"
        _fail(name, getattr(s, name), depth_problem[1])
    try:
        parse_weights(s.checkpoint, s.variant, s.maxdisp, s.align_corners)
    except InputError as exc:
        _fail("checkpoint", s.checkpoint, str(exc))


def updated(settings: NodeSettings, parameters) -> NodeSettings:
    """``settings`` with run-time ``parameters`` (rclpy Parameter list) applied and validated.

    Raises ParameterError for a read-only or unknown name or an unusable value.
    """
    changes = {}
    for parameter in parameters:
        if parameter.name not in RUNTIME:
            raise ParameterError(f"parameter '{parameter.name}' cannot be changed while the node runs")
        changes[parameter.name] = float(parameter.value)
    new = dataclasses.replace(settings, **changes)
    validate(new)
    return new


def _fail(name: str, value, reason: str) -> None:
    raise ParameterError(f"parameter '{name}' = {value!r}: {reason}")
