"""Shared fixtures: the reference data of ../shared/reference (or PSMNET_REFERENCE_DIR), when it is there;
the ``cuda`` marker: such tests skip, with the reason, where no GPU is visible; ``--order``: the tests in
reverse or shuffled order, to show that none depends on another having run first."""
import os
import random
from pathlib import Path

import pytest

REFERENCE_DIR = Path(os.environ.get("PSMNET_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))


def pytest_addoption(parser):
    parser.addoption("--order", default="normal", metavar="normal|reverse|random:SEED",
                     help="run the test files, and the tests within each file, in collection order (normal), "
                          "backwards (reverse) or shuffled with SEED (random:SEED); a file's tests stay together")


def _order(value: str):
    """The reordering ``--order value`` asks for: a function from a list to a new list."""
    if value == "normal":
        return list
    if value == "reverse":
        return lambda seq: list(reversed(seq))
    kind, _, seed = value.partition(":")
    if kind == "random" and seed.isdigit():
        rng = random.Random(int(seed))
        return lambda seq: rng.sample(list(seq), len(seq))
    raise pytest.UsageError(f"--order {value!r}: use normal, reverse or random:SEED (SEED a whole number)")


def _reorder(items: list, order) -> list:
    """``items`` with the files and each file's tests in ``order``, each file's tests kept together (its
    module fixtures are set up once)."""
    by_file: dict = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    return [item for name in order(list(by_file)) for item in order(by_file[name])]


def pytest_report_header(config):
    return f"test order: {config.getoption('order')}"


def pytest_collection_modifyitems(config, items):
    order = _order(config.getoption("order"))
    items[:] = _reorder(items, order)
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
