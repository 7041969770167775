"""Shared fixtures: the reference data of ../shared/reference (or PSMNET_REFERENCE_DIR), when it is there;
the ``cuda`` marker: such tests skip, with the reason, where no GPU is visible."""
import os
from pathlib import Path

import pytest

REFERENCE_DIR = Path(os.environ.get("PSMNET_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))


def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marker cuda); torch.cuda.is_available() is False")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (official-format checkpoints and official outputs); skip when absent."""
    if not (REFERENCE_DIR / "cases.pt").is_file():
        pytest.skip(f"reference data not found at {REFERENCE_DIR} (../shared/reference sits beside the "
                    "repository in development and CI only; elsewhere set PSMNET_REFERENCE_DIR)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def reference_cases(reference_dir):
    import torch
    return torch.load(reference_dir / "cases.pt", weights_only=True)


@pytest.fixture(scope="session")
def motorcycle():
    """scikit-image's Middlebury Motorcycle pair: left, right (500x741x3 uint8), disparity (NaN = unknown)."""
    from psmnet_ros.core.datasets import MiddleburyMotorcycle
    return MiddleburyMotorcycle()[0]


@pytest.fixture(scope="session")
def default_estimator():
    """The default weights (official KITTI 2015), plain path, strict fp32, CPU."""
    from psmnet_ros.core import StereoEstimator
    return StereoEstimator.pretrained()


@pytest.fixture(scope="session")
def motorcycle_prediction(default_estimator, motorcycle):
    """The default weights' disparity of the Motorcycle pair (pixels, 500x741 float32), computed once a session:
    one full-size forward pass costs about 20 s on two CPU cores."""
    return default_estimator.predict(motorcycle["left"], motorcycle["right"])


@pytest.fixture(scope="session")
def motorcycle_prediction_half_scale(motorcycle):
    """``StereoEstimator.pretrained(input_scale=0.5).predict`` of the Motorcycle pair: the network sees it at
    371x250 and the disparity comes back at 741x500 in image pixels (float32). A quarter of a full-size pass."""
    from psmnet_ros.core import StereoEstimator
    return StereoEstimator.pretrained(input_scale=0.5).predict(motorcycle["left"], motorcycle["right"])
