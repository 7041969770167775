"""Model structure and the estimator's input contract, checked against the official formulation."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from psmnet_ros.core import InputError, StereoEstimator, build_model
from psmnet_ros.core.cost_volume import concat_cost_volume
from disparity_agreement import assert_disparities_agree


def official_loop_cost_volume(ref, target, shifts):
    """The official code's per-shift loop, as published."""
    n, c, h, w = ref.shape
    cost = torch.zeros(n, 2 * c, shifts, h, w)
    for i in range(shifts):
        if i > 0:
            cost[:, :c, i, :, i:] = ref[:, :, :, i:]
            cost[:, c:, i, :, i:] = target[:, :, :, :-i]
        else:
            cost[:, :c, i, :, :] = ref
            cost[:, c:, i, :, :] = target
    return cost


@pytest.mark.parametrize("shifts,width", [(48, 64), (12, 7), (1, 5)])
def test_vectorized_cost_volume_equals_official_loop(shifts, width):
    g = torch.Generator().manual_seed(0)
    ref, target = torch.randn(2, 2, 4, 3, width, generator=g)
    assert torch.equal(concat_cost_volume(ref, target, shifts), official_loop_cost_volume(ref, target, shifts))


@pytest.mark.parametrize("variant", ["stackhourglass", "basic"])
def test_parameter_names_and_shapes_match_official_checkpoints(reference_dir, variant):
    official = torch.load(reference_dir / f"{variant}_ref.tar", weights_only=True)["state_dict"]
    official = {k.removeprefix("module."): tuple(v.shape) for k, v in official.items()
                if not k.endswith("num_batches_tracked")}
    ours = {k: tuple(v.shape) for k, v in build_model(variant).state_dict().items()
            if not k.endswith("num_batches_tracked")}
    assert ours == official


def test_training_mode_outputs():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 256, 256)
    model = build_model("stackhourglass", maxdisp=16).train()
    outputs = model(x, x)
    assert len(outputs) == 3 and all(o.shape == (2, 256, 256) for o in outputs)
    basic = build_model("basic", maxdisp=16).train()
    assert basic(x, x).shape == (2, 256, 256)


def test_unknown_variant_and_bad_maxdisp():
    with pytest.raises(InputError, match="unknown variant"):
        build_model("resnet")
    with pytest.raises(InputError, match="multiple of 4"):
        build_model("basic", maxdisp=10)
    with pytest.raises(InputError, match="multiple of 16"):
        build_model("stackhourglass", maxdisp=40)
    x = torch.zeros(1, 3, 256, 256)
    assert build_model("basic", maxdisp=40).eval()(x, x).shape == (1, 256, 256)


@pytest.fixture(scope="module")
def small_estimator():
    return StereoEstimator.random("basic", maxdisp=16, seed=3)


def official_padded_prediction(model, left, right):
    """The official Test_img.py recipe: normalize, pad top/right to a multiple of 16, crop by cases."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    imgs = []
    for img in (left, right):
        t = (torch.from_numpy(img).permute(2, 0, 1).float() / 255 - mean) / std
        h, w = t.shape[1:]
        top_pad = (h // 16 + 1) * 16 - h if h % 16 else 0
        right_pad = (w // 16 + 1) * 16 - w if w % 16 else 0
        imgs.append(F.pad(t, (0, right_pad, top_pad, 0)).unsqueeze(0))
    with torch.no_grad():
        pred = model(*imgs).squeeze(0).numpy()
    if top_pad != 0 and right_pad != 0:
        return pred[top_pad:, :-right_pad]
    if top_pad == 0 and right_pad != 0:
        return pred[:, :-right_pad]
    if top_pad != 0 and right_pad == 0:
        return pred[top_pad:, :]
    return pred


@pytest.mark.parametrize("height,width", [(256, 256), (256, 250), (250, 256), (243, 261)])
def test_padding_and_crop_match_official_recipe(small_estimator, height, width):
    rng = np.random.default_rng(height * 1000 + width)
    left = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    right = np.roll(left, -3, axis=1)
    ours = small_estimator.predict(left, right)
    assert ours.shape == (height, width) and ours.dtype == np.float32
    official = official_padded_prediction(small_estimator.model, left, right)
    # Same network and input, other memory layouts (the recipe pads a 3-D tensor, the estimator a
    # channels-last batch): equal up to float32 rounding, which flips isolated pixels between peaks.
    assert_disparities_agree(ours, official, f"{height}x{width}")
    with pytest.raises(AssertionError):  # while a crop one row off is told apart
        assert_disparities_agree(ours[1:], official[:-1], "one row off")


def test_bad_inputs_have_clear_messages(small_estimator):
    ok = np.zeros((256, 256, 3), np.uint8)
    with pytest.raises(InputError, match="too small"):
        small_estimator.predict(np.zeros((240, 300, 3), np.uint8), np.zeros((240, 300, 3), np.uint8))
    with pytest.raises(InputError, match="differ in size"):
        small_estimator.predict(ok, np.zeros((256, 260, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        small_estimator.predict(ok.astype(np.float32), ok)
    with pytest.raises(InputError, match="HxWx3"):
        small_estimator.predict(ok[..., 0], ok[..., 0])
    with pytest.raises(InputError, match="share a size"):
        big = np.zeros((272, 272, 3), np.uint8)
        small_estimator.predict_batch([(ok, ok), (big, big)])


def test_smallest_accepted_size_is_the_one_padded_to_256(small_estimator):
    """241 px pads to 256 (accepted); 240 stays 240 and its 1/4 map is smaller than the 64 px pool."""
    img = np.zeros((241, 241, 3), np.uint8)
    assert small_estimator.predict(img, img).shape == (241, 241)


def test_input_scale_returns_full_resolution_disparity():
    est = StereoEstimator.random("basic", maxdisp=16, input_scale=0.5, seed=1)
    assert est.min_input_size == (482, 482)
    img = np.random.default_rng(0).integers(0, 256, (500, 520, 3), dtype=np.uint8)
    d = est.predict(img, np.roll(img, -4, axis=1))
    assert d.shape == (500, 520)
    with pytest.raises(InputError, match="input_scale"):
        est.predict(img[:400], img[:400])


def test_input_scale_above_one_upsamples_and_returns_image_pixels():
    """At input_scale 1.5 the network sees the pair enlarged (bicubic) and its disparities, in enlarged
    pixels, come back shrunk (area averaging) and divided by the width ratio. Images too small for the
    network alone (130 px) are accepted once enlarged past 241 px; 1/scale of that is the minimum."""
    scale, (h, w) = 1.5, (170, 190)
    img = np.random.default_rng(2).integers(0, 256, (h, w, 3), dtype=np.uint8)
    right = np.roll(img, -3, axis=1)
    est = StereoEstimator.random("basic", maxdisp=16, input_scale=scale, seed=3)
    assert est.min_input_size == (161, 161) and round(161 * scale) >= 241 > round(160 * scale)
    big_h, big_w = round(h * scale), round(w * scale)
    on_the_big_pair = StereoEstimator(est.model).predict(
        cv2.resize(img, (big_w, big_h), interpolation=cv2.INTER_CUBIC),
        cv2.resize(right, (big_w, big_h), interpolation=cv2.INTER_CUBIC))
    expected = cv2.resize(on_the_big_pair, (w, h), interpolation=cv2.INTER_AREA) * np.float32(w / big_w)
    np.testing.assert_array_equal(est.predict(img, right), expected)
    with pytest.raises(InputError, match="too small for PSMNet at input_scale 1.5: width and height must be at least "
                                         "161 px"):
        est.predict(img[:160], right[:160])
    with pytest.raises(InputError, match=r"input_scale must be in \(0, 4\], got 4.5"):
        StereoEstimator.random("basic", maxdisp=16, input_scale=4.5)


def test_unknown_device_is_an_input_error():
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        StereoEstimator.random("basic", maxdisp=16, device="gpu")
