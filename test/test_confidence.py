"""The per-pixel confidence: the measures on hand-made distributions, the fused last stage against the full
probability volume, the estimator's API (plain and fast paths, input_scale), and, with the default weights on a
generated scene, that it is high where the error is low."""
import cv2
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from psmnet_ros.core import InputError, StereoEstimator, build_model
from psmnet_ros.core.confidence import CONFIDENCE, MEASURES
from psmnet_ros.core.fast import fused_soft_argmin
from psmnet_ros.core.regression import soft_argmin
from psmnet_ros.core.synthetic import SyntheticStereo
from psmnet_ros.tools.confidence_study import format_table, study
from psmnet_ros.tools.confidence_study import main as study_main

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (CUDA graphs); torch.cuda.is_available() is False")


def _measures(prob, disparity):
    """Every measure of 1-D distributions (maxdisp values) at one pixel each: {name: float}."""
    prob = torch.tensor(prob, dtype=torch.float32).view(1, -1, 1)
    disparity = torch.tensor([[disparity]], dtype=torch.float32)
    return {name: fn(prob, disparity).item() for name, fn in MEASURES.items()}


def test_one_certain_disparity_is_full_confidence():
    prob = np.zeros(16)
    prob[6] = 1.0
    assert _measures(prob, 6.0) == pytest.approx(dict.fromkeys(MEASURES, 1.0), abs=1e-6)


def test_uniform_distribution():
    """p = 1/16 everywhere, d = 7.5: peak 1/16; entropy log 16, so 0; +-r px around 7.5 covers 2r bins
    (+-8 px: [-0.5, 15.5], all 16)."""
    got = _measures(np.full(16, 1 / 16), 7.5)
    assert got == pytest.approx({"peak": 1 / 16, "mass1": 2 / 16, "mass2": 4 / 16, "mass4": 8 / 16,
                                 "mass6": 12 / 16, "mass8": 1.0, "entropy": 0.0}, abs=1e-6)


def test_two_equal_peaks():
    """Half at 3, half at 7, d = 5: peak 1/2; [4, 6] misses both bins; [3, 7] holds half of each bin
    ([2.5, 3.5] and [6.5, 7.5]); [1, 9] and wider hold both; entropy log 2 = log 16 / 4, so 3/4."""
    prob = np.zeros(16)
    prob[[3, 7]] = 0.5
    got = _measures(prob, 5.0)
    assert got == pytest.approx({"peak": 0.5, "mass1": 0.0, "mass2": 0.5, "mass4": 1.0, "mass6": 1.0, "mass8": 1.0,
                                 "entropy": 0.75}, abs=1e-6)


def test_window_overlap_is_continuous_in_the_disparity():
    """All mass on 10 ([9.5, 10.5]); d = 10.8: [9.8, 11.8] overlaps it by 0.7, [8.8, 12.8] holds all of it."""
    prob = np.zeros(16)
    prob[10] = 1.0
    got = _measures(prob, 10.8)
    assert (got["mass1"], got["mass2"]) == pytest.approx((0.7, 1.0), abs=1e-6)


@pytest.mark.parametrize("radius", [1, 2, 4, 6, 8])
def test_window_mass_equals_its_definition_over_all_disparities(radius):
    """The measure gathers only the disparities near d; here written out over all 48 of them, in float64, near both
    ends too. Tolerance: the edge bins' fractions come from d in float32, whose spacing below 48 px is 3.8e-6 px."""
    gen = torch.Generator().manual_seed(radius)
    prob = torch.softmax(torch.randn(2, 48, 300, generator=gen) * 3, dim=1)
    disparity = torch.rand(2, 300, generator=gen) * 47
    disparity[0, :8] = torch.tensor([0.0, 0.3, 1.5, 2.5, 44.5, 45.7, 46.9, 47.0])
    k = torch.arange(48.0, dtype=torch.float64).view(1, -1, 1)
    d = disparity.double().unsqueeze(1)
    overlap = (torch.minimum(k + 0.5, d + radius) - torch.maximum(k - 0.5, d - radius)).clamp(0, 1)
    expected = (prob.double() * overlap).sum(1)
    torch.testing.assert_close(MEASURES[f"mass{radius}"](prob, disparity).double(), expected, rtol=0, atol=1e-5)


def _scores(seed=5):
    """Scores with the spread of the reference model's final scores (std about 9, range about +-70)."""
    return torch.randn(2, 1, 12, 9, 13, generator=torch.Generator().manual_seed(seed)) * 10


def test_measures_stay_in_unit_interval_on_real_softmax_output():
    prob = torch.softmax(torch.randn(2, 48, 7, 5, generator=torch.Generator().manual_seed(1)) * 10, dim=1)
    disparity = (prob * torch.arange(48.0).view(1, -1, 1, 1)).sum(1)
    for name, fn in MEASURES.items():
        values = fn(prob, disparity)
        assert values.shape == (2, 7, 5), name
        assert values.min() >= 0 and values.max() <= 1, name
        assert values.std() > 0.01, name  # the scores give a mix of sharp and flat distributions


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("height, width", [(36, 52), (37, 50)])
def test_fused_confidence_equals_the_full_volume_one(align_corners, height, width):
    scores = _scores()
    expected = soft_argmin(scores, 48, height, width, align_corners, with_confidence=True)
    band = 2 * 48 * width * 5  # five rows a band: several bands and a shorter last one
    got = fused_soft_argmin(scores, 48, height, width, align_corners, chunk_elements=band, with_confidence=True)
    assert got.shape == expected.shape == (2, 2, height, width)
    assert (got - expected).abs().max().item() <= 1e-4
    # Asking for the confidence does not change the disparity.
    torch.testing.assert_close(got[:, 0], fused_soft_argmin(scores, 48, height, width, align_corners,
                                                            chunk_elements=band), rtol=0, atol=0)
    torch.testing.assert_close(expected[:, 0], soft_argmin(scores, 48, height, width, align_corners),
                               rtol=0, atol=0)


def test_confidence_is_an_evaluation_output():
    model = build_model("stackhourglass", 48).train()
    x = torch.zeros(1, 3, 256, 256)
    with pytest.raises(InputError, match="evaluation output"):
        model(x, x, with_confidence=True)


@pytest.fixture(scope="module")
def pairs():
    """Two 256x256 crops of one generated scene with disparities up to 40 px."""
    sample = SyntheticStereo(1, (256, 512), seed=11, max_disparity=40)[0]
    return [(sample["left"][:, :256].copy(), sample["right"][:, :256].copy()),
            (sample["left"][:, 256:].copy(), sample["right"][:, 256:].copy())]


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_predict_returns_the_confidence_on_request(pairs, fast):
    est = StereoEstimator.random("basic", maxdisp=16, seed=2, fast=fast)
    left, right = pairs[0]
    plain = est.predict(left, right)
    assert isinstance(plain, np.ndarray) and plain.shape == (256, 256) and plain.dtype == np.float32
    disparity, conf = est.predict(left, right, with_confidence=True)
    for array in (disparity, conf):
        assert isinstance(array, np.ndarray) and array.shape == (256, 256) and array.dtype == np.float32
    np.testing.assert_array_equal(disparity, plain)
    assert conf.min() >= 0 and conf.max() <= 1
    batch = est.predict_batch(pairs, with_confidence=True)
    assert isinstance(batch, list) and [len(item) for item in batch] == [2, 2]
    np.testing.assert_allclose(batch[0][0], disparity, rtol=0, atol=1e-4)
    np.testing.assert_allclose(batch[0][1], conf, rtol=0, atol=1e-5)
    assert batch[1][1].shape == (256, 256) and batch[1][1].dtype == np.float32


def test_fast_and_plain_paths_give_the_same_confidence(pairs):
    """Folded BatchNorm and the fused last stage against the plain model and the full volume."""
    left, right = pairs[1]
    _, plain = StereoEstimator.random("basic", maxdisp=48, seed=2, fast=False).predict(left, right, True)
    _, fast = StereoEstimator.random("basic", maxdisp=48, seed=2, fast=True).predict(left, right, True)
    assert np.abs(fast - plain).max() <= 1e-4


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_input_scale_resizes_the_confidence_without_scaling_it(pairs, scale):
    """The network's confidence on the resized pair, brought back to the image size (area averaging down,
    bilinear up) and, unlike the disparity, not multiplied by the width ratio."""
    left, right = (np.ascontiguousarray(np.tile(a, (2, 2, 1)) if scale < 1 else a) for a in pairs[0])
    est = StereoEstimator.random("basic", maxdisp=16, seed=2, input_scale=scale)
    h, w = left.shape[:2]
    net_h, net_w = round(h * scale), round(w * scale)
    enlarge, shrink = (cv2.INTER_CUBIC, cv2.INTER_AREA) if scale > 1 else (cv2.INTER_AREA, cv2.INTER_LINEAR)
    _, on_network_pair = StereoEstimator(est.model).predict(
        cv2.resize(left, (net_w, net_h), interpolation=enlarge),
        cv2.resize(right, (net_w, net_h), interpolation=enlarge), with_confidence=True)
    disparity, conf = est.predict(left, right, with_confidence=True)
    assert conf.shape == disparity.shape == (h, w) and conf.dtype == np.float32
    np.testing.assert_allclose(conf, cv2.resize(on_network_pair, (w, h), interpolation=shrink), rtol=0, atol=1e-6)


def test_high_confidence_where_the_error_is_low(default_estimator):
    """Default weights, one generated 256x512 scene (seed 13: not among the study's scenes). A confidence that said
    nothing about the error would give a rank correlation of 0 +- 0.003 over these 131072 pixels (one standard
    error, 1/sqrt(n)); this scene gave -0.64, and the study's scenes (seed 7) gave -0.25 to -0.70 each. The bound
    -0.3 is a hundred standard errors from no relation and half the measured value: it fails when the confidence
    stops following the error, not from rounding. The run is deterministic, so the bound cannot flake."""
    sample = SyntheticStereo(1, (256, 512), seed=13)[0]
    disparity, conf = default_estimator.predict(sample["left"], sample["right"], with_confidence=True)
    assert conf.min() >= 0 and conf.max() <= 1
    error = np.abs(disparity - sample["disparity"])
    rho = spearmanr(conf.ravel(), error.ravel()).statistic
    print(f"{CONFIDENCE}: Spearman {rho:+.3f}, EPE {error.mean():.2f} px")
    assert rho < -0.3


@needs_cuda
def test_cuda_graph_records_the_confidence_separately(pairs):
    est = StereoEstimator.random("basic", maxdisp=48, seed=2, device="cuda", precision="fp32")
    plain = StereoEstimator.random("basic", maxdisp=48, seed=2, fast=False)
    left, right = pairs[0]
    for _ in range(2):  # first call records, second replays
        disparity = est.predict(left, right)
        with_conf = est.predict(left, right, with_confidence=True)
    _, expected = plain.predict(left, right, with_confidence=True)
    assert isinstance(disparity, np.ndarray) and len(with_conf) == 2
    np.testing.assert_allclose(with_conf[0], disparity, rtol=0, atol=1e-3)  # two recordings: cudnn may pick other kernels
    assert np.abs(with_conf[1] - expected).max() <= 1e-3
    assert len(est._engine._graphs.recorded_shapes) == len(est._engine._confidence_graphs.recorded_shapes) == 1


# With +-8 px over 16 disparities, mass8 is 1 at every pixel: its rank correlation is undefined (NaN, warned).
@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_study_tool_compares_every_measure(capsys):
    """The study on one small scene (random weights: the numbers mean nothing, the table's shape does)."""
    model = StereoEstimator.random("basic", maxdisp=16, seed=2).model
    results = study(model, SyntheticStereo(1, (256, 256), seed=3, max_disparity=12))
    table = format_table(results).splitlines()
    assert [line.split(" | ")[0].lstrip("| ") for line in table[2:-2]] == \
        ["oracle"] + [name + (" *" if name == CONFIDENCE else "") for name in MEASURES]
    assert table[-1].startswith(f"{CONFIDENCE} thresholds that keep these densities")
    assert study_main(["--scenes", "0"]) == 2
    assert "--scenes must be at least 1" in capsys.readouterr().err
