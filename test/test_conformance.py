"""The official formulation's outputs (../shared/reference) reproduced through the public API, CPU fp32."""
import numpy as np
import pytest

from psmnet_ros.core import StereoEstimator
from disparity_agreement import assert_disparities_agree


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
        assert_disparities_agree(disparity, expected, f"{variant} {expected.shape}")


def test_batch_equals_single_predictions(reference_dir, reference_cases):
    """predict_batch runs one forward pass over the pairs and gives each pair its own result.

    Batched convolutions may take other kernels, and the untrained reference weights amplify
    float rounding (see ../shared/reference/README.md), so equality is within that noise
    (test/disparity_agreement.py).
    """
    est = StereoEstimator.from_checkpoint(reference_dir / "basic_ref.tar")
    case = reference_cases["basic"][0]
    left, right = case["left"].numpy(), case["right"].numpy()
    mirrored = (right[:, ::-1].copy(), left[:, ::-1].copy())
    batch = est.predict_batch([(left, right), mirrored])
    single = est.predict(*mirrored)
    assert_disparities_agree(batch[1], single, "batch vs single")
    assert_disparities_agree(batch[0], case["disparity"].numpy(), "batch vs official")
