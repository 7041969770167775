"""The scene generator: exact ground truth, occlusions, determinism, training batches."""
import numpy as np
import pytest
import torch

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.synthetic import (DEFAULT_MAX_DISPARITY, SyntheticStereo, draw_scene, render, scene_rng,
                                       shade_view)
from psmnet_ros.core.synthetic.render import stack_scenes
from psmnet_ros.core.synthetic.scenes import MAX_LAYERS
from psmnet_ros.core.training import GeneratedScenes

H, W = 96, 160


def _scenes(seed=3, count=3, stream=1, height=H, width=W):
    return [draw_scene(scene_rng(seed, stream, i), height, width, 60.0) for i in range(count)]


def _flat_scene(disparity: float, boxes=()):
    """A fronto-parallel background at ``disparity`` plus (x0, x1, disparity) boxes spanning every row."""
    scene = draw_scene(scene_rng(0, 0, 0), H, W, 60.0)
    scene["plane"][:, 1:3] = 0
    scene["plane"][0, 0] = disparity
    scene["active"][:] = False
    scene["active"][0] = True
    for i, (x0, x1, d) in enumerate(boxes, start=1):
        scene["active"][i] = True
        scene["plane"][i, 0] = d
        scene["shape"][i] = ((x0 + x1) / 2, (H - 1) / 2, (x1 - x0) / 2, 10 * H, 0.0)
        scene["exponent"][i] = 200.0  # a sharp-edged box: inside iff |u| <= 1 (and |v| << 1)
    return scene


def _bilinear_columns(image: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """image (H x W x 3) sampled at real columns xs (H x W), its own rows; linear in x."""
    x0 = np.clip(np.floor(xs).astype(int), 0, image.shape[1] - 2)
    f = (xs - x0)[..., None]
    rows = np.arange(image.shape[0])[:, None]
    return image[rows, x0] * (1 - f) + image[rows, x0 + 1] * f


def test_right_view_at_x_minus_d_is_the_left_view_on_non_occluded_pixels():
    scenes = _scenes()
    p = stack_scenes(scenes, torch.device("cpu"))
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                            indexing="ij")
    xs, ys = xs.expand(len(scenes), -1, -1), ys.expand(len(scenes), -1, -1)
    left, disparity = shade_view(p, xs, ys, view=0)
    right_at_match, _ = shade_view(p, xs - disparity, ys, view=1)
    noc = render(scenes, H, W, photometric=False)["noc"]
    assert 0.5 < noc.float().mean() < 1.0
    diff = (left - right_at_match).abs().amax(dim=1)
    assert float(diff[noc].max()) < 1e-4
    # a wrong disparity does not match: the check can fail
    wrong, _ = shade_view(p, xs - disparity - 1.5, ys, view=1)
    assert float((left - wrong).abs().amax(dim=1)[noc].mean()) > 0.01


def test_warping_the_rendered_right_image_by_the_ground_truth_gives_the_left_image():
    out = render(_scenes(seed=5), H, W, photometric=False)
    errors, shifted = [], []
    for i in range(3):
        left = out["left"][i].numpy().astype(np.float64)
        right = out["right"][i].numpy().astype(np.float64)
        d = out["disparity"][i].numpy()
        noc = out["noc"][i].numpy()
        cols = np.arange(W)[None, :] - d
        # away from depth edges, where interpolating across two surfaces means nothing
        smooth = np.zeros_like(noc)
        smooth[:, 2:-2] = np.abs(d[:, 4:] - d[:, :-4]) < 1.0
        inner = noc & smooth & (cols >= 1) & (cols <= W - 2)
        errors.append(np.median(np.abs(_bilinear_columns(right, cols) - left)[inner]))
        shifted.append(np.median(np.abs(_bilinear_columns(right, np.clip(cols - 2, 0, W - 1)) - left)[inner]))
    # interpolating a rendered (uint8, finely textured) image is not exact; a 2 px error is far worse
    assert max(errors) < 2.0
    assert min(s / max(e, 0.5) for s, e in zip(shifted, errors)) > 2.5


def test_integer_disparity_plane_is_an_exact_shift():
    out = render([_flat_scene(7.0)], H, W, photometric=False)
    left, right = out["left"][0].numpy(), out["right"][0].numpy()
    assert np.all(out["disparity"][0].numpy() == 7.0)
    # right pixel x shows the surface point the left view shows at x + 7
    np.testing.assert_array_equal(right[:, : W - 7], left[:, 7:])
    np.testing.assert_array_equal(out["noc"][0].numpy(), np.broadcast_to(np.arange(W) >= 7, (H, W)))


def test_occlusion_by_a_nearer_box_from_first_principles():
    # background at 10 px, a box over left columns [60, 100] at 40 px. In the right view the box
    # covers [20, 60]; background pixels whose match x - 10 lands there (x in [30, 70]) and that
    # the box does not cover in the left view (x < 60) are occluded.
    out = render([_flat_scene(10.0, boxes=[(60, 100, 40.0)])], H, W, photometric=False)
    d = out["disparity"][0].numpy()[H // 2]
    noc = out["noc"][0].numpy()[H // 2]
    x = np.arange(W)
    assert np.all(d[(x >= 61) & (x <= 99)] == 40.0) and np.all(d[(x <= 59) | (x >= 101)] == 10.0)
    occluded = (x >= 31) & (x <= 59)
    visible = ((x >= 10) & (x <= 29)) | (x >= 61)
    assert not noc[occluded].any()
    assert noc[visible].all()
    assert not noc[x < 10].any()  # their match falls left of the right image


def test_same_seed_same_scenes_and_batches_match_single_renders():
    first = render(_scenes(seed=11), H, W)
    again = render(_scenes(seed=11), H, W)
    other = render(_scenes(seed=12), H, W)
    for key in ("left", "right", "disparity", "noc"):
        assert torch.equal(first[key], again[key])
    assert not torch.equal(first["left"], other["left"])
    single = render(_scenes(seed=11)[1:2], H, W)
    for key in ("left", "right", "disparity"):
        assert torch.equal(first[key][1], single[key][0])


def test_scenes_cover_the_disparity_range_with_several_layers():
    scenes = [draw_scene(scene_rng(1, 1, i), 256, 512, 160.0) for i in range(40)]
    assert all(s["active"][0] and 3 <= s["active"].sum() <= MAX_LAYERS for s in scenes)
    out = render(scenes[:8], 256, 512, photometric=False)
    d = out["disparity"]
    assert float(d.min()) >= 0.5 - 1e-4 and float(d.max()) <= 160.0 + 1e-4
    assert float(d.max()) > 80.0 and float(d.min()) < 20.0


def test_dataset_samples_and_training_batches():
    ds = SyntheticStereo(2, size=(H, W), seed=4, stream=2)
    sample = ds[1]
    assert sample["left"].shape == (H, W, 3) and sample["left"].dtype == np.uint8
    assert sample["disparity"].dtype == np.float32 and np.isfinite(sample["disparity"]).all()
    assert np.isnan(sample["noc"]).any() and np.isfinite(sample["noc"]).any()
    scenes = GeneratedScenes(seed=4, scenes_per_epoch=3, crop=(H, W), batch_size=2,
                             max_disparity=DEFAULT_MAX_DISPARITY)
    batches, count = scenes.epoch(2, torch.device("cpu"))
    batches = list(batches)
    assert [b[0].shape[0] for b in batches] == [2, 1] and count == 2
    np.testing.assert_array_equal(batches[0][0][1].numpy(), sample["left"])
    np.testing.assert_array_equal(batches[0][2][1].numpy(), sample["disparity"])


def test_bad_sizes_are_input_errors():
    with pytest.raises(InputError, match="scene size"):
        SyntheticStereo(1, size=(0, 10))
    with pytest.raises(InputError, match="scenes per epoch"):
        GeneratedScenes(seed=1, scenes_per_epoch=0, crop=(256, 512), batch_size=8, max_disparity=160.0).check(8)
