"""frame_messages, built in place in reused buffers, is the message objects built the long way: stereo_products'
arrays put into rclpy messages by ros/conversions.py, serialized by rclpy and rosbags (wire_reference)."""
import numpy as np
import pytest
from std_msgs.msg import Header

from message_reference import disparity_msg, float_image_msg, pointcloud2_msg
from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.colorize import colorize
from psmnet_ros.core.stereo_products import stereo_products
from psmnet_ros.ros.conversions import rgb_image_msg
from psmnet_ros.ros.outputs import DELTA_D, INVALID_BELOW_MIN, OUTPUTS, FrameBuffers, frame_messages
from wire_reference import assert_wire_equal

MAX_NETWORK_DISPARITY = 47.0


def _frame(width, height, seed):
    rng = np.random.default_rng(seed)
    camera = StereoCalibration.from_pinhole(721.5, 0.53, (width - 1) / 2 + 0.3, (height - 1) / 2 - 0.2,
                                            (width, height), doffs=0.75)
    disparity = rng.uniform(-1.0, 50.0, (height, width)).astype(np.float32)
    disparity[0, :3] = 0.0
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    confidence = rng.random((height, width), dtype=np.float32)
    header = Header(frame_id="left_optical")
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000 + seed, 5_000 * seed
    return disparity, rgb, camera, confidence, header


def _long_way(disparity, rgb, camera, confidence, header, threshold):
    """{topic: message object} as the outputs are defined (README, node reference)."""
    invalid = confidence < threshold if threshold > 0 else None
    products = stereo_products(disparity, camera, invalid=invalid)
    low, high = camera.doffs, camera.doffs + MAX_NETWORK_DISPARITY
    published = products.disparity if invalid is None else \
        np.where(invalid, np.float32(low - INVALID_BELOW_MIN), products.disparity)
    width, height = camera.size
    return {
        "disparity": disparity_msg(published, header, camera.fx, camera.baseline_m, low, high, DELTA_D,
                                   (0, 0, width, height)),
        "depth": float_image_msg(products.depth, header),
        "points2": pointcloud2_msg(products.points, rgb, header),
        "disparity/image_color": rgb_image_msg(colorize(products.disparity, low, high), header),
        "confidence": float_image_msg(confidence, header),
    }


@pytest.mark.parametrize("threshold", [0.0, 0.4])
def test_every_output_is_the_message_built_the_long_way(threshold):
    frame = _frame(23, 11, seed=1)
    messages, _ = frame_messages(frame[0], frame[1], frame[2], frame[4], MAX_NETWORK_DISPARITY,
                                 {o.topic for o in OUTPUTS}, confidence=frame[3], confidence_threshold=threshold)
    reference = _long_way(*frame, threshold)
    assert set(messages) == set(reference)
    for topic, message in messages.items():
        assert_wire_equal(message.tobytes(), reference[topic])


def test_buffers_reused_across_frames_and_sizes_hold_each_frame_exactly():
    buffers = FrameBuffers()
    for seed, (width, height) in enumerate([(23, 11), (23, 11), (17, 9), (23, 11)]):
        frame = _frame(width, height, seed)
        threshold = 0.4 if seed == 1 else 0.0
        messages, products = frame_messages(frame[0], frame[1], frame[2], frame[4], MAX_NETWORK_DISPARITY,
                                            {o.topic for o in OUTPUTS}, confidence=frame[3],
                                            confidence_threshold=threshold, buffers=buffers)
        reference = _long_way(*frame, threshold)
        for topic, message in messages.items():
            assert_wire_equal(message.tobytes(), reference[topic])
        assert products.disparity.shape == (height, width)


def test_only_the_wanted_outputs_are_built():
    frame = _frame(23, 11, seed=2)
    messages, products = frame_messages(frame[0], frame[1], frame[2], frame[4], MAX_NETWORK_DISPARITY,
                                        {"disparity/image_color"})
    assert list(messages) == ["disparity/image_color"]
    assert products.depth is None and products.points is None
    messages, _ = frame_messages(frame[0], frame[1], frame[2], frame[4], MAX_NETWORK_DISPARITY, {"confidence"})
    assert messages == {}  # no confidence given: nothing to publish on that topic
