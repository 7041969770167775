"""psmnet_ros/msg/FrameStats: where one published frame's time went and what its disparity looks like."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psmnet_ros.msg import FrameStats


@dataclass(frozen=True)
class FrameTiming:
    """Seconds on the monotonic clock: ``synchronized`` (the last input arrived, the set was queued),
    ``batch_started`` (its forward pass began), ``published``; and durations in seconds: ``inference``
    (this frame's share of the forward pass), ``output`` (building the messages), ``publish``."""

    synchronized: float
    batch_started: float
    published: float
    inference: float
    output: float
    publish: float
    batch_size: int


def frame_stats_msg(header, timing: FrameTiming, disparity: np.ndarray, network_size: tuple[int, int],
                    weights: str, device: str, precision: str, frames_dropped: int,
                    confidence: np.ndarray | None = None) -> FrameStats:
    """The FrameStats of one frame: ``disparity`` is the published HxW disparity (pixels, NaN invalid),
    ``network_size`` (height, width) the network's padded input; ``confidence`` HxW in [0, 1] if there is one.
    Every field gets a Python float or int: the generated message refuses numpy scalars."""
    height, width = disparity.shape
    valid = np.isfinite(disparity) & (disparity > 0)
    values = disparity[valid]
    nan = float("nan")
    low, median, high = (float(v) for v in np.percentile(values, (0, 50, 100))) if values.size else (nan, nan, nan)
    mean_confidence = float(confidence[valid].mean()) if confidence is not None and values.size else nan
    ms = 1000.0
    return FrameStats(
        header=header, latency_ms=(timing.published - timing.synchronized) * ms,
        queue_wait_ms=(timing.batch_started - timing.synchronized) * ms, inference_ms=timing.inference * ms,
        output_ms=timing.output * ms, publish_ms=timing.publish * ms, batch_size=int(timing.batch_size),
        image_width=int(width), image_height=int(height), network_width=int(network_size[1]),
        network_height=int(network_size[0]), weights=weights, device=device, precision=precision,
        valid_fraction=float(values.size / disparity.size), mean_confidence=mean_confidence,
        disparity_min_px=low, disparity_median_px=median, disparity_max_px=high,
        frames_dropped=int(frames_dropped))
