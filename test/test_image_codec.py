"""PNG/JPEG camera images: bytes written by another encoder (imageio) decode to their pixels; ours round-trip."""
import io

import imageio.v3 as iio
import numpy as np
import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.image_codec import decode_image, encode_image


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(3)
    # Smooth content (as camera images are) plus texture, 61x83 so no size is a multiple of JPEG's 8x8 blocks.
    y, x = np.mgrid[0:61, 0:83]
    base = np.stack([x * 3, y * 4, (x + y) * 2], axis=2) % 256
    return np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)


def _written_by_imageio(image, extension):
    out = io.BytesIO()
    iio.imwrite(out, image, extension=extension)
    return out.getvalue()


def test_png_from_another_encoder_decodes_to_its_pixels_colour_and_grey(rgb):
    np.testing.assert_array_equal(decode_image(_written_by_imageio(rgb, ".png"), "png"), rgb)
    grey = rgb[..., 1].copy()
    decoded = decode_image(_written_by_imageio(grey, ".png"))
    np.testing.assert_array_equal(decoded, np.repeat(grey[:, :, None], 3, axis=2))


def test_rgba_png_drops_alpha(rgb):
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 200, np.uint8)], axis=2)
    np.testing.assert_array_equal(decode_image(_written_by_imageio(rgba, ".png")), rgb)


def test_png_round_trip_is_lossless_and_format_names_the_encodings(rgb):
    data, fmt = encode_image(rgb, "png")
    assert fmt == "rgb8; png compressed bgr8"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(decode_image(data, fmt), rgb)
    grey_data, grey_fmt = encode_image(rgb[..., 0].copy(), "png")
    assert grey_fmt == "mono8; png compressed mono8"
    np.testing.assert_array_equal(decode_image(grey_data)[..., 2], rgb[..., 0])


def test_jpeg_round_trip_stays_close_and_keeps_channel_order(rgb):
    data, fmt = encode_image(rgb, "jpeg", jpeg_quality=95)
    assert fmt == "rgb8; jpeg compressed bgr8"
    assert data[:2] == b"\xff\xd8"  # JPEG start-of-image marker
    decoded = decode_image(data, fmt).astype(int)
    assert np.abs(decoded - rgb).mean() < 4.0
    # Channel order: each decoded channel is closest to the same original channel.
    for c in range(3):
        errors = [np.abs(decoded[..., c] - rgb[..., k]).mean() for k in range(3)]
        assert int(np.argmin(errors)) == c


def test_imageio_jpeg_decodes_like_imageio_reads_it(rgb):
    data = _written_by_imageio(rgb, ".jpg")
    reference = iio.imread(io.BytesIO(data), extension=".jpg").astype(int)
    assert np.abs(decode_image(data).astype(int) - reference).max() <= 2  # IDCT rounding between libraries


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable PNG or JPEG"),
    (b"hello world, not an image", "not a readable PNG or JPEG"),
])
def test_bad_bytes_raise_input_error_naming_the_problem(data, words):
    with pytest.raises(InputError, match=words):
        decode_image(data, "jpeg")


def test_sixteen_bit_png_is_refused():
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    with pytest.raises(InputError, match="uint16 pixels"):
        decode_image(_written_by_imageio(deep, ".png"))


def test_encode_refuses_what_it_cannot_store(rgb):
    with pytest.raises(InputError, match="codec"):
        encode_image(rgb, "bmp")
    with pytest.raises(InputError, match="uint8"):
        encode_image(rgb.astype(np.float32), "png")
