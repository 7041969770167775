"""scripts/output_bandwidth.py (the README's bandwidth table): each row's size is its data field's size, from the
image size and the option, plus a few hundred bytes of fields around it."""
import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "output_bandwidth.py"
spec = importlib.util.spec_from_file_location("output_bandwidth", SCRIPT)
output_bandwidth = importlib.util.module_from_spec(spec)
spec.loader.exec_module(output_bandwidth)


def test_rows_are_the_data_fields_of_the_options():
    height, width = 30, 41
    rng = np.random.default_rng(7)
    disparity = rng.uniform(1.0, 40.0, (height, width)).astype(np.float32)
    confidence = rng.random((height, width), dtype=np.float32)
    left = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    confident = int((confidence >= output_bandwidth.THRESHOLD).sum())
    pixels = height * width

    def ceil(a, n):
        return -(-a // n)

    data_bytes = {
        "disparity (DisparityImage, 32FC1)": 4 * pixels, "depth 32FC1": 4 * pixels, "depth 16UC1": 2 * pixels,
        "points2 xyzrgb, organized (default)": 16 * pixels, "points2 xyz, organized": 12 * pixels,
        "points2 xyzrgb, decimation 2": 16 * ceil(height, 2) * ceil(width, 2),
        "points2 xyzrgb, decimation 4": 16 * ceil(height, 4) * ceil(width, 4),
        "points2 xyzrgb, decimation 8": 16 * ceil(height, 8) * ceil(width, 8),
        "points2 xyzrgb, unorganized, confidence_threshold 0.9": 16 * confident,
        "points2 xyz, decimation 4, unorganized, confidence_threshold 0.9":
            12 * int((confidence[::4, ::4] >= output_bandwidth.THRESHOLD).sum()),
        "disparity/image_color (rgb8)": 3 * pixels, "confidence (32FC1)": 4 * pixels,
    }
    rows = output_bandwidth.bandwidth_rows(disparity, confidence, left, 47.0)
    assert [label for label, _ in rows] == list(data_bytes)
    for label, size in rows:
        assert data_bytes[label] < size < data_bytes[label] + 300, label
