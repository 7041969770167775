"""The official formulation's outputs (../shared/reference) reproduced through the public API, CPU fp32."""
import numpy as np
import pytest

from psmnet_ros.core import StereoEstimator


@pytest.mark.parametrize("variant", ["stackhourglass", "basic"])
def test_reference_disparities_reproduced(reference_dir, reference_cases, variant):
    meta = reference_cases["meta"]
    est = StereoEstimator.from_checkpoint(reference_dir / meta["checkpoints"][variant], variant=variant,
                                          maxdisp=meta["maxdisp"], align_corners=meta["align_corners"],
                                          device="cpu", precision="fp32")
    cases = reference_cases[variant]
    sizes = {tuple(c["left"].shape[:2]) for c in cases}
    assert any(h % 16 or w % 16 for h, w in sizes), "a case whose size is not a multiple of 16 is expected"
    for case in cases:
        disparity = est.predict(case["left"].numpy(), case["right"].numpy())
        expected = case["disparity"].numpy()
        assert disparity.shape == expected.shape and disparity.dtype == np.float32
        diff = np.abs(disparity - expected)
        assert diff.mean() <= 0.01, f"{variant} {expected.shape}: mean |diff| {diff.mean():.4f} px"
        assert diff.max() <= 0.5, f"{variant} {expected.shape}: max |diff| {diff.max():.4f} px"


def test_batch_equals_single_predictions(reference_dir, reference_cases):
    """predict_batch runs one forward pass over the pairs and gives each pair its own result.

    Batched convolutions may take other kernels, and the untrained reference weights amplify
    float rounding (see ../shared/reference/README.md), so equality is within that noise.
    """
    est = StereoEstimator.from_checkpoint(reference_dir / "basic_ref.tar")
    case = reference_cases["basic"][0]
    left, right = case["left"].numpy(), case["right"].numpy()
    mirrored = (right[:, ::-1].copy(), left[:, ::-1].copy())
    batch = est.predict_batch([(left, right), mirrored])
    single = est.predict(*mirrored)
    assert np.abs(batch[1] - single).mean() <= 1e-3 and np.abs(batch[1] - single).max() <= 0.1
    diff = np.abs(batch[0] - case["disparity"].numpy())
    assert diff.mean() <= 0.01 and diff.max() <= 0.5
