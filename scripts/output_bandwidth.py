"""Bytes per frame of each output and output option at 1242x375, measured from the messages psmnet_node builds (the
README's bandwidth table).

The frame: the Middlebury Motorcycle pair resized to KITTI size, its disparity and confidence from the default
weights on the CPU, the KITTI-like camera of psmnet-bench's node-overhead table. Usage (in the test environment,
``source scripts/env.sh``): ``python scripts/output_bandwidth.py``; about a minute on two cores.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from psmnet_ros.core.estimator import load_estimator
from psmnet_ros.ros.outputs import OutputOptions, frame_messages
from psmnet_ros.tools.node_overhead import KITTI_SIZE, kitti_like_camera, motorcycle_pair

RATE_HZ = 10.0
THRESHOLD = 0.9
"""confidence_threshold of the unorganized rows: without invalid pixels an unorganized cloud is the organized one."""
ROWS = [  # (label, topic, options)
    ("disparity (DisparityImage, 32FC1)", "disparity", OutputOptions()),
    ("depth 32FC1", "depth", OutputOptions()),
    ("depth 16UC1", "depth", OutputOptions(depth_encoding="16UC1")),
    ("points2 xyzrgb, organized (default)", "points2", OutputOptions()),
    ("points2 xyz, organized", "points2", OutputOptions(points_fields="xyz")),
    ("points2 xyzrgb, decimation 2", "points2", OutputOptions(points_decimation=2)),
    ("points2 xyzrgb, decimation 4", "points2", OutputOptions(points_decimation=4)),
    ("points2 xyzrgb, decimation 8", "points2", OutputOptions(points_decimation=8)),
    (f"points2 xyzrgb, unorganized, confidence_threshold {THRESHOLD}", "points2",
     OutputOptions(points_organized=False)),
    (f"points2 xyz, decimation 4, unorganized, confidence_threshold {THRESHOLD}", "points2",
     OutputOptions(points_decimation=4, points_organized=False, points_fields="xyz")),
    ("disparity/image_color (rgb8)", "disparity/image_color", OutputOptions()),
    ("confidence (32FC1)", "confidence", OutputOptions()),
]


def bandwidth_rows(disparity: np.ndarray, confidence: np.ndarray, left: np.ndarray, max_disparity: float
                   ) -> list[tuple[str, int]]:
    """(label, bytes per frame) of each row of ROWS for one frame: HxW disparity and confidence, HxWx3 uint8 left
    image, the KITTI-like camera at that size."""
    height, width = disparity.shape
    camera = kitti_like_camera(width, height)
    header = Header(frame_id="stereo_left_optical")
    rows = []
    for label, topic, options in ROWS:
        threshold = THRESHOLD if not options.points_organized else 0.0
        messages, _ = frame_messages(disparity, left, camera, header, max_disparity, {topic}, confidence=confidence,
                                     confidence_threshold=threshold, options=options)
        rows.append((label, messages[topic].nbytes))
    return rows


def main() -> None:
    width, height = KITTI_SIZE
    left, right = motorcycle_pair(width, height)
    estimator, _ = load_estimator()
    disparity, confidence = estimator.predict(left, right, with_confidence=True)
    print(f"| output, {width}x{height} | bytes per frame | MB/s at {RATE_HZ:g} Hz |")
    print("|---|---|---|")
    for label, size in bandwidth_rows(disparity, confidence, left, estimator.max_disparity(width)):
        print(f"| {label} | {size:,} | {size * RATE_HZ / 1e6:.1f} |")
    confident = float(np.mean(confidence >= THRESHOLD))
    print(f"\nweights: {estimator.weights}; {100 * confident:.1f} % of the pixels have a confidence >= {THRESHOLD}")


if __name__ == "__main__":
    main()
