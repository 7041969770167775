"""Output options through real DDS, node in another process: point-cloud decimation, organization and fields,
points for one frame in N, 16-bit depth, QoS overrides, run-time validation.

Stamps are the wall clock's, so that they increase whatever order the tests run in (the node's synchronizer, like
message_filters, drops sets older than the last one unless time jumps back by more than a second).
Expected values come from first principles: the pinhole model (Z = fx B / d', X = (u - cx) Z / fx,
Y = (v - cy) Z / fy) applied to the disparity the node published for the same frame, and REP 118's 16UC1.
"""
import time

import numpy as np
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from psmnet_ros.msg import FrameStats
from psmnet_ros.ros.spinning import SpinThread
from ros_helpers import NodeProcess, reserve_domain_id, ros_context, stereo_messages

DOMAIN_ID = reserve_domain_id()
FX, BASELINE = 100.0, 0.1
SIZE = 256
RELIABLE = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(depth=20, reliability=ReliabilityPolicy.BEST_EFFORT)


class Client:
    def __init__(self, context):
        self.node = Node("options_test_client", context=context)
        self.publishers = [self.node.create_publisher(t, f"/opt/{n}", RELIABLE) for n, t in (
            ("left/image_rect", Image), ("left/camera_info", CameraInfo),
            ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
        self.received = {name: {} for name in ("disparity", "depth", "points2", "frame_stats")}
        for name, msg_type, qos in (("disparity", DisparityImage, RELIABLE), ("depth", Image, RELIABLE),
                                    ("points2", PointCloud2, RELIABLE), ("frame_stats", FrameStats, BEST_EFFORT)):
            self.node.create_subscription(msg_type, f"/opt/{name}", self._recorder(name), qos)
        self.set_parameters = self.node.create_client(SetParameters, "/opt/psmnet_node/set_parameters")
        self.spin = SpinThread(self.node)

    def _recorder(self, name):
        def record(msg):
            self.received[name][msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec] = msg
        return record

    def set(self, **values):
        """Set run-time parameters; returns the results' (successful, reason) in order."""
        assert self.set_parameters.wait_for_service(timeout_sec=30.0)
        request = SetParameters.Request()
        for name, value in values.items():
            if isinstance(value, bool):
                v = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
            elif isinstance(value, int):
                v = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
            else:
                v = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
            request.parameters.append(Parameter(name=name, value=v))
        future = self.set_parameters.call_async(request)
        deadline = time.monotonic() + 30.0
        while not future.done():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return [(r.successful, r.reason) for r in future.result().results]

    def frame(self, stamp_ns: int, log, outputs=("disparity",)) -> dict:
        deadline = time.monotonic() + 30.0
        while not all(p.get_subscription_count() for p in self.publishers):
            assert time.monotonic() < deadline, f"inputs not subscribed:\n{log()}"
            time.sleep(0.05)
        rng = np.random.default_rng(stamp_ns % 997)
        left = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        for publisher, msg in zip(self.publishers, stereo_messages(left, np.roll(left, -4, axis=1), stamp_ns,
                                                                   fx=FX, baseline_m=BASELINE)):
            publisher.publish(msg)
        deadline = time.monotonic() + 60.0
        while not all(stamp_ns in self.received[name] for name in outputs):
            assert time.monotonic() < deadline, f"no {outputs} for {stamp_ns}:\n{log()}"
            time.sleep(0.05)
        time.sleep(0.3)  # the other outputs of the frame, if any, follow the disparity within milliseconds
        return {name: self.received[name].get(stamp_ns) for name in self.received} | {"left": left}


@pytest.fixture(scope="module")
def ros(tmp_path_factory):
    log = tmp_path_factory.mktemp("options") / "node.log"
    with NodeProcess(log, DOMAIN_ID, "-p", "weights:=random", "-p", "variant:=basic", "-p", "maxdisp:=16",
                     "-p", "device:=cpu", "-p", "qos:=reliable", "-r", "__ns:=/opt",
                     "-p", "qos_overrides./opt/frame_stats.publisher.reliability:=best_effort") as node, \
            ros_context(DOMAIN_ID) as context:
        client = Client(context)
        node.wait_ready()
        try:
            yield client, node
        finally:
            client.spin.stop()
            client.node.destroy_node()


def _disparity(msg: DisparityImage) -> np.ndarray:
    return np.frombuffer(bytes(msg.image.data), "<f4").reshape(msg.image.height, msg.image.width)


def _pinhole(disparity: np.ndarray) -> np.ndarray:
    """HxWx3 points (metres) of a corrected disparity with the test's camera (cx, cy at the image centre)."""
    h, w = disparity.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(disparity > 0, FX * BASELINE / disparity.astype(np.float64), np.nan)
    v, u = np.mgrid[0:h, 0:w]
    c = (SIZE - 1) / 2
    return np.stack([(u - c) * z / FX, (v - c) * z / FX, z], axis=2)


def _cloud(msg: PointCloud2) -> np.ndarray:
    raw = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, msg.point_step)
    return raw[..., :12].copy().view("<f4")


@pytest.mark.parametrize("n", [2, 4, 8])
def test_decimated_cloud_has_the_pinhole_geometry_at_the_kept_pixels(ros, n):
    client, node = ros
    assert client.set(points_decimation=n, points_organized=True, points_fields="xyzrgb", points_every=1) == \
        [(True, "")] * 4
    got = client.frame(time.time_ns(), node.log, ("disparity", "points2"))
    cloud = got["points2"]
    assert (cloud.height, cloud.width) == (-(-SIZE // n),) * 2 and cloud.point_step == 16 and not cloud.is_dense
    expected = _pinhole(_disparity(got["disparity"]))[::n, ::n]
    np.testing.assert_allclose(_cloud(cloud), expected, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_unorganized_xyz_cloud_holds_exactly_the_valid_points(ros):
    client, node = ros
    assert client.set(points_decimation=1, points_organized=False, points_fields="xyz", points_every=1) == \
        [(True, "")] * 4
    got = client.frame(time.time_ns(), node.log, ("disparity", "points2"))
    cloud = got["points2"]
    expected = _pinhole(_disparity(got["disparity"]))
    valid = np.isfinite(expected).all(axis=2)
    assert cloud.height == 1 and cloud.is_dense and cloud.point_step == 12
    assert [f.name for f in cloud.fields] == ["x", "y", "z"]
    assert cloud.width == valid.sum() > 0
    np.testing.assert_allclose(_cloud(cloud)[0], expected[valid], rtol=1e-5, atol=1e-6)


def test_16uc1_depth_is_rounded_millimetres_with_zero_where_invalid_or_too_far(ros):
    client, node = ros
    assert client.set(depth_encoding="16UC1") == [(True, "")]
    got = client.frame(time.time_ns(), node.log, ("disparity", "depth"))
    depth = got["depth"]
    assert (depth.encoding, depth.step, depth.is_bigendian) == ("16UC1", 2 * SIZE, 0)
    millimetres = np.frombuffer(bytes(depth.data), "<u2").reshape(SIZE, SIZE)
    z_mm = np.rint(_pinhole(_disparity(got["disparity"]))[..., 2] * 1000.0)
    usable = np.isfinite(z_mm) & (z_mm <= 65535)
    assert usable.any()
    # float32 disparity -> float64 depth here, float32 in the node: a value may round the other way by 1 mm
    assert np.abs(millimetres[usable].astype(np.int64) - z_mm[usable]).max() <= 1
    assert not millimetres[~usable].any()
    assert client.set(depth_encoding="32FC1") == [(True, "")]


def test_points_every_third_frame_and_the_other_outputs_every_frame(ros):
    client, node = ros
    assert client.set(points_every=3, points_decimation=8, points_organized=True) == [(True, "")] * 3
    stamps = [time.time_ns() + k for k in range(7)]
    got = [client.frame(stamp, node.log) for stamp in stamps]
    with_points = [k for k, frame in enumerate(got) if frame["points2"] is not None]
    assert all(frame["disparity"] is not None for frame in got)
    assert len(with_points) in (2, 3) and np.all(np.diff(with_points) == 3), with_points
    assert client.set(points_every=1) == [(True, "")]


def test_qos_override_makes_a_publisher_best_effort(ros):
    client, node = ros
    got = client.frame(time.time_ns(), node.log, ("disparity", "frame_stats"))
    assert got["frame_stats"] is not None  # a best-effort subscriber hears the best-effort override
    (info,) = client.node.get_publishers_info_by_topic("/opt/frame_stats")
    assert info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    (points,) = client.node.get_publishers_info_by_topic("/opt/points2")
    assert points.qos_profile.reliability == ReliabilityPolicy.RELIABLE  # not overridden


def test_run_time_changes_are_validated(ros):
    client, _ = ros
    (ok, reason), = client.set(points_decimation=3)
    assert not ok and "points_decimation" in reason and "1, 2, 4, 8" in reason
    (ok, reason), = client.set(points_fields="xyzi")
    assert not ok and "xyzrgb, xyz" in reason
    (ok, reason), = client.set(depth_encoding="16UC2")
    assert not ok and "32FC1, 16UC1" in reason
