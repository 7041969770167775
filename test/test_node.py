"""psmnet_node over real rclpy + DDS, started as a subprocess exactly as the launch file starts it.

Node "A" (exact sync, batch_size 2) serves most tests; node "B" (namespace /approx, approximate
sync, input_scale 0.5, frame_queue_size 4) the approximate-sync and burst-keeping tests; the SIGTERM test
starts nodes of its own. Each test makes the input it checks: they pass alone and in any order. Both take reliable inputs: with
Fast DDS defaults, best-effort samples above ~200 KB between processes can be lost (UDP
fragments overflow the default socket buffer); test_node_startup.py covers the default
sensor_data QoS with a small image.
Expected values come from the core StereoEstimator (same checkpoint, same settings) and from
the pinhole formulas computed here by hand.
"""
import math
import signal
import threading
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from stereo_msgs.msg import DisparityImage

from disparity_agreement import assert_disparities_agree
from psmnet_ros.ros.spinning import SpinThread
from ros_helpers import (NodeProcess, camera_info_msg, image_msg, make_header, reserve_domain_id,
                         ros_context)

DOMAIN_ID = reserve_domain_id()
T0_NS = 1_700_000_000 * 1_000_000_000
FRAME_ID = "stereo_left_optical"
# Calibration: f*B = 10 m px, principal points 4 px apart (d' = d - 4), as in a verged rig.
FX, FY, BASELINE = 100.0, 102.0, 0.1
CX_LEFT, CX_RIGHT, CY = 131.5, 127.5, 120.25
MAXDISP = 16
MIN_DEPTH, MAX_DEPTH = 1.0, 5.0
OUTPUT_WAIT_S = 90.0
STATUS_NAME = "/psmnet_node: stereo inference"  # node A
KEPT_BURST = 4
"""Node B's frame_queue_size, and the burst it must keep whole: below the synchronizer's queue_size (5),
so no input message of the burst can expire while its partners are still on their way."""


# ------------------------------------------------------------------ helpers
class StereoClient:
    """Publishes stereo sets to a node's inputs and records its outputs (spun elsewhere)."""

    OUTPUTS = {"disparity": DisparityImage, "depth": Image, "points2": PointCloud2,
               "disparity/image_color": Image}

    def __init__(self, node: Node, inputs: str, outputs: str):
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = [node.create_publisher(msg_type, f"{inputs}/{name}", reliable)
                           for name, msg_type in (("left/image_rect", Image), ("left/camera_info", CameraInfo),
                                                  ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
        self._lock = threading.Lock()
        self.received = {name: [] for name in self.OUTPUTS}
        self.subscriptions = [
            node.create_subscription(msg_type, f"{outputs}/{name}", self._recorder(name), reliable)
            for name, msg_type in self.OUTPUTS.items()]

    def _recorder(self, name):
        def record(msg):
            with self._lock:
                self.received[name].append(msg)
        return record

    def send(self, messages) -> None:
        for publisher, msg in zip(self.publishers, messages):
            publisher.publish(msg)

    def stamps(self, name: str) -> list:
        with self._lock:
            return [_stamp_ns(m.header) for m in self.received[name]]

    def wait_for(self, name: str, stamp_ns: int, timeout_s: float = OUTPUT_WAIT_S):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for msg in self.received[name]:
                    if _stamp_ns(msg.header) == stamp_ns:
                        return msg
            time.sleep(0.05)
        raise AssertionError(f"no {name} with stamp {stamp_ns} within {timeout_s} s")

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not (all(p.get_subscription_count() for p in self.publishers)
                   and all(s.get_publisher_count() for s in self.subscriptions)):
            assert time.monotonic() < deadline, "DDS discovery with the node did not complete"
            time.sleep(0.05)


def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _stamp_text(stamp_ns: int) -> str:
    return f"{stamp_ns // 1_000_000_000}.{stamp_ns % 1_000_000_000:09d} ('{FRAME_ID}')"


def stereo_set(left, right, stamp_ns, right_stamp_ns=None, left_info=None, right_info=None,
               left_image=None, right_image=None):
    """The four input messages; each argument left as None gets the valid default."""
    left_header = make_header(stamp_ns, FRAME_ID)
    right_header = make_header(stamp_ns if right_stamp_ns is None else right_stamp_ns, "stereo_right_optical")
    h, w = left.shape[:2]
    if left_info is None:
        left_info = camera_info_msg(left_header, w, h, FX, FY, CX_LEFT, CY)
    if right_info is None:
        right_info = camera_info_msg(right_header, w, h, FX, FY, CX_RIGHT, CY, tx=-FX * BASELINE)
    left_info.header, right_info.header = left_header, right_header
    if left_image is None:
        left_image = image_msg(left, "rgb8", left_header)
    if right_image is None:
        right_image = image_msg(right, "rgb8", right_header)
    left_image.header, right_image.header = left_header, right_header
    return left_image, left_info, right_image, right_info


def float_image(msg: Image) -> np.ndarray:
    assert msg.encoding == "32FC1" and msg.is_bigendian == 0
    rows = np.frombuffer(bytes(msg.data), dtype="<f4").reshape(msg.height, msg.step // 4)
    return rows[:, :msg.width]


def cloud_array(msg: PointCloud2) -> np.ndarray:
    dtype = np.dtype({"names": ["x", "y", "z", "rgb"], "formats": ["<f4", "<f4", "<f4", "<u4"],
                      "offsets": [0, 4, 8, 12], "itemsize": msg.point_step})
    return np.frombuffer(bytes(msg.data), dtype=dtype).reshape(msg.height, msg.width)


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def checkpoint(reference_dir):
    return str(reference_dir / "stackhourglass_ref.tar")


@pytest.fixture(scope="module")
def pair(reference_cases):
    """A 256x256 crop of the Middlebury Motorcycle pair (RGB uint8)."""
    case = reference_cases["stackhourglass"][0]
    left, right = (np.ascontiguousarray(np.asarray(case[k])[:, 128:384]) for k in ("left", "right"))
    assert left.shape == (256, 256, 3) and left.dtype == np.uint8
    return left, right


@pytest.fixture(scope="module")
def nodes(checkpoint, tmp_path_factory):
    """Both node processes, started together so their start-ups overlap."""
    logs = tmp_path_factory.mktemp("node_logs")
    common = ("-p", f"weights:={checkpoint}", "-p", "device:=cpu", "-p", f"maxdisp:={MAXDISP}")
    node_a = NodeProcess(
        logs / "a.log", DOMAIN_ID, *common, "-p", "batch_size:=2", "-p", "max_batch_delay_ms:=100.0",
        "-p", f"min_depth:={MIN_DEPTH}", "-p", f"max_depth:={MAX_DEPTH}", "-p", "qos:=reliable",
        "-p", "diagnostics_period:=0.5",
        "-r", "left/image_rect:=/cam/left/image_rect", "-r", "left/camera_info:=/cam/left/camera_info",
        "-r", "right/image_rect:=/cam/right/image_rect", "-r", "right/camera_info:=/cam/right/camera_info",
        # glibc maps every block over 64 KiB on its own and unmaps it when freed, so A's resident size
        # follows its live memory (test_burst_drops_the_oldest_frames_and_memory_stays_flat), not how much
        # of the freed activations the heap keeps: that varied by up to 24.5 MB between bursts. GLIBC_TUNABLES
        # cleared: scripts/test.sh's keeps all freed memory, in which kept frames could hide.
        env_extra={"MALLOC_MMAP_THRESHOLD_": "65536", "GLIBC_TUNABLES": ""})
    node_b = NodeProcess(
        logs / "b.log", DOMAIN_ID, *common, "-r", "__ns:=/approx", "-p", "approximate_sync:=true",
        "-p", "input_scale:=0.5", "-p", f"frame_queue_size:={KEPT_BURST}",
        "-p", "qos:=reliable",
        "-p", "approximate_sync_tolerance_seconds:=0.05")
    try:
        node_a.wait_ready()
        node_b.wait_ready()
        yield {"a": node_a, "b": node_b}
    finally:
        for node in (node_a, node_b):
            node.stop()


@pytest.fixture(scope="module")
def ros(nodes):
    """The test's own rclpy node, spun in a background thread, with one client per node process."""
    with ros_context(DOMAIN_ID) as context:
        node = Node("psmnet_node_test_client", context=context)
        clients = {"a": StereoClient(node, "/cam", ""), "b": StereoClient(node, "/approx", "/approx")}
        diagnostics = []
        node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 50)
        spin = SpinThread(node)
        try:
            for client in clients.values():
                client.wait_connected()
            yield {"node": node, "diagnostics": diagnostics, **clients}
        finally:
            spin.stop()
            node.destroy_node()


@pytest.fixture(scope="module")
def expected_disparity(checkpoint, pair):
    """What the core estimator gives for the pair with node A's settings (pixels, before correction)."""
    from psmnet_ros.core import StereoEstimator
    estimator = StereoEstimator.from_checkpoint(checkpoint, maxdisp=MAXDISP, device="cpu")
    return estimator.predict(*pair)


# -------------------------------------------------------------------- tests
def test_every_output_matches_the_estimator_and_the_pinhole_model(ros, pair, expected_disparity):
    client, left = ros["a"], pair[0]
    stamp = T0_NS + 1_234_567_891
    client.send(stereo_set(*pair, stamp))
    disparity_msg = client.wait_for("disparity", stamp)
    depth_msg = client.wait_for("depth", stamp)
    cloud_msg = client.wait_for("points2", stamp)
    color_msg = client.wait_for("disparity/image_color", stamp)

    for header in (disparity_msg.header, disparity_msg.image.header, depth_msg.header, cloud_msg.header,
                   color_msg.header):
        assert (_stamp_ns(header), header.frame_id) == (stamp, FRAME_ID)

    # DisparityImage: f, T from the camera infos; d' = d - (cx_l - cx_r) = d - 4.
    doffs = CX_RIGHT - CX_LEFT
    assert disparity_msg.f == pytest.approx(FX) and disparity_msg.t == pytest.approx(BASELINE)
    assert disparity_msg.min_disparity == pytest.approx(0 + doffs)
    assert disparity_msg.max_disparity == pytest.approx(MAXDISP - 1 + doffs)
    assert disparity_msg.delta_d == pytest.approx(1 / 16)
    window = disparity_msg.valid_window
    assert (window.x_offset, window.y_offset, window.width, window.height) == (0, 0, 256, 256)
    disparity = float_image(disparity_msg.image)
    # The node's process runs the same network on the same pair: equal up to float32 rounding.
    assert_disparities_agree(disparity, expected_disparity + np.float32(doffs), "node vs estimator")

    # depth = f*B/d' in metres (REP 118), NaN where d' <= 0.
    positive = disparity > 0
    assert positive.any() and (~positive).any(), "the test pair should hold both valid and invalid depths"
    depth = float_image(depth_msg)
    assert np.isnan(depth[~positive]).all()
    # float32 f*B / d: two roundings of 2**-24 relative each.
    np.testing.assert_allclose(depth[positive], FX * BASELINE / disparity[positive].astype(np.float64), rtol=1e-6)

    # Organized cloud: x y z rgb float32, 16 bytes a point; X = (u-cx)Z/fx, Y = (v-cy)Z/fy.
    assert (cloud_msg.height, cloud_msg.width, cloud_msg.point_step, cloud_msg.row_step) == (256, 256, 16, 4096)
    assert not cloud_msg.is_dense and not cloud_msg.is_bigendian
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud_msg.fields] == [
        (name, offset, PointField.FLOAT32, 1) for name, offset in (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))]
    cloud = cloud_array(cloud_msg)
    in_range = positive & (depth >= MIN_DEPTH) & (depth <= MAX_DEPTH)
    too_near = positive & (depth < MIN_DEPTH)
    too_far = positive & (depth > MAX_DEPTH)
    assert in_range.any() and too_near.any() and too_far.any(), "the pair should exercise both depth limits"
    for field in "xyz":
        assert np.isnan(cloud[field][~in_range]).all()
    vs, us = np.nonzero(in_range)
    # float32 x, y, z: up to four roundings of 2**-24 relative each against float64 here; rel 1e-5 leaves room.
    for v, u in list(zip(vs, us))[:: max(1, len(vs) // 7)]:
        z = FX * BASELINE / float(disparity[v, u])
        point = cloud[v, u]
        assert point["z"] == pytest.approx(z, rel=1e-5)
        assert point["x"] == pytest.approx((u - CX_LEFT) * z / FX, rel=1e-5, abs=1e-6)
        assert point["y"] == pytest.approx((v - CY) * z / FY, rel=1e-5, abs=1e-6)
        r, g, b = (int(c) for c in left[v, u])
        assert int(point["rgb"]) == (r << 16) | (g << 8) | b

    # Colorized disparity: rgb8 of the image size, different colours at the two extremes.
    assert (color_msg.encoding, color_msg.height, color_msg.width, color_msg.step) == ("rgb8", 256, 256, 768)
    color = np.frombuffer(bytes(color_msg.data), dtype=np.uint8).reshape(256, 256, 3)
    lo, hi = np.unravel_index(disparity.argmin(), disparity.shape), np.unravel_index(disparity.argmax(),
                                                                                    disparity.shape)
    assert tuple(color[lo]) != tuple(color[hi])


def _set_parameter(ros, name, value):
    node = ros["node"]
    client = node.create_client(SetParameters, "/psmnet_node/set_parameters")
    try:
        assert client.wait_for_service(timeout_sec=10.0)
        if isinstance(value, float):
            param_value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        else:
            param_value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        future = client.call_async(SetParameters.Request(parameters=[Parameter(name=name, value=param_value)]))
        deadline = time.monotonic() + 10.0
        while not future.done():
            assert time.monotonic() < deadline, "set_parameters did not answer"
            time.sleep(0.02)
        return future.result().results[0]
    finally:
        node.destroy_client(client)


def test_runtime_parameters_are_validated_and_applied(ros, pair):
    rejected = _set_parameter(ros, "max_depth", 0.5)  # below min_depth = 1.0
    assert not rejected.successful and "max_depth" in rejected.reason and "minimum depth (1.0 m)" in rejected.reason
    assert not _set_parameter(ros, "maxdisp", 32).successful  # read-only
    assert not _set_parameter(ros, "max_batch_delay_ms", -1.0).successful
    assert _set_parameter(ros, "max_batch_delay_ms", 100.0).successful
    assert _set_parameter(ros, "max_depth", 2.0).successful
    try:
        stamp = T0_NS + 5_000_000_000
        ros["a"].send(stereo_set(*pair, stamp))
        z = cloud_array(ros["a"].wait_for("points2", stamp))["z"]
        finite = z[np.isfinite(z)]
        assert finite.size and finite.min() >= MIN_DEPTH and finite.max() <= 2.0
    finally:
        assert _set_parameter(ros, "max_depth", MAX_DEPTH).successful


def test_confidence_threshold_marks_the_same_pixels_invalid_in_every_output(ros, pair):
    """The confidence output (subscribed here only) and a run-time threshold: the pixels whose confidence is
    below it are below min_disparity in the DisparityImage (its definition of invalid), NaN in depth and
    points2 and black in the colour image; the others are as without the threshold."""
    node, client = ros["node"], ros["a"]
    assert not _set_parameter(ros, "confidence_threshold", 1.5).successful
    rejected = _set_parameter(ros, "confidence_threshold", -0.1)
    assert not rejected.successful and "confidence_threshold" in rejected.reason
    confidences = []
    subscription = node.create_subscription(Image, "/confidence", confidences.append,
                                            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        deadline = time.monotonic() + 30.0
        while not subscription.get_publisher_count():
            assert time.monotonic() < deadline, "no publisher of /confidence discovered"
            time.sleep(0.05)

        def frame(stamp):
            client.send(stereo_set(*pair, stamp))
            outputs = [client.wait_for(name, stamp) for name in ("disparity", "depth", "points2",
                                                                 "disparity/image_color")]
            deadline = time.monotonic() + OUTPUT_WAIT_S
            while not any(_stamp_ns(m.header) == stamp for m in confidences):
                assert time.monotonic() < deadline, "no confidence for the frame"
                time.sleep(0.05)
            confidence = float_image(next(m for m in confidences if _stamp_ns(m.header) == stamp))
            return confidence, outputs

        first_confidence, (first, _, _, _) = frame(T0_NS + 6_000_000_000)
        assert first_confidence.shape == (256, 256) and (0 <= first_confidence).all() and (first_confidence <= 1).all()
        threshold = float(np.median(first_confidence))
        assert _set_parameter(ros, "confidence_threshold", threshold).successful
        confidence, (disparity_msg, depth_msg, cloud_msg, color_msg) = frame(T0_NS + 6_100_000_000)
    finally:
        assert _set_parameter(ros, "confidence_threshold", 0.0).successful
        node.destroy_subscription(subscription)
    invalid = confidence < np.float32(threshold)
    assert 0.2 < invalid.mean() < 0.8, "the median should split the pixels"
    disparity = float_image(disparity_msg.image)
    assert (disparity[invalid] == np.float32(disparity_msg.min_disparity - 1)).all()
    assert (disparity[~invalid] >= disparity_msg.min_disparity).all()
    assert_disparities_agree(disparity[~invalid], float_image(first.image)[~invalid], "valid pixels unchanged")
    depth = float_image(depth_msg)
    assert np.isnan(depth[invalid]).all() and np.isfinite(depth[~invalid & (disparity > 0)]).all()
    assert np.isnan(cloud_array(cloud_msg)["z"][invalid]).all()
    color = np.frombuffer(bytes(color_msg.data), dtype=np.uint8).reshape(256, 256, 3)
    assert (color[invalid] == 0).all() and color[~invalid].any(axis=1).all()


def test_bad_input_is_logged_dropped_and_serving_goes_on(ros, nodes, pair):
    client, node_a = ros["a"], nodes["a"]
    left, right = pair
    base = T0_NS + 10_000_000_000
    h, w = left.shape[:2]

    def header(i):
        return make_header(base + i, FRAME_ID)

    truncated = image_msg(left, "rgb8", header(2))
    truncated.data = bytes(truncated.data)[:1000]
    empty = Image(header=header(3), height=0, width=0, encoding="rgb8", step=0)
    nan_info = camera_info_msg(header(7), w, h, FX, FY, CX_LEFT, CY)
    nan_info.k[0] = nan_info.p[0] = math.nan
    small = np.ascontiguousarray(left[:200, :200])
    cases = [
        (stereo_set(left, right, base + 0, right_stamp_ns=base + 1_000_000), "not synchronized"),
        (stereo_set(left, right, base + 1, left_image=Image(header=header(1), height=h, width=w, encoding="16UC1",
                                                             step=2 * w, data=bytes(2 * w * h))),
         "left image encoding '16UC1' is not supported"),
        (stereo_set(left, right, base + 2, left_image=truncated), "left image: image data truncated"),
        (stereo_set(left, right, base + 3, left_image=empty), "left image: image is empty"),
        (stereo_set(left, np.ascontiguousarray(right[:, :240]), base + 4),
         "left image is 256x256 px but right image is 240x256 px"),
        (stereo_set(left, right, base + 5, left_info=camera_info_msg(header(5), 320, 240, FX),
                    right_info=camera_info_msg(header(5), 320, 240, FX, tx=-FX * BASELINE)),
         "images are 256x256 px but camera_info says 320x240 px"),
        (stereo_set(left, right, base + 6, right_info=camera_info_msg(header(6), w, h, FX, FY, CX_RIGHT, CY)),
         "stereo baseline (P_left[0,3] - P_right[0,3]) / fx = 0.0 m must be positive"),
        (stereo_set(left, right, base + 7, left_info=nan_info), "left camera_info K contains NaN"),
        (stereo_set(left, right, base + 8, left_info=camera_info_msg(header(8), w, h, -FX),
                    right_info=camera_info_msg(header(8), w, h, -FX, tx=FX * BASELINE)),
         "left projection matrix has focal lengths fx=-100.0"),
        (stereo_set(small, small.copy(), base + 9), "image 200x200 px is too small for the network"),
        # Positive in float64, 0 and inf in the float32 DisparityImage.f: not published as f = 0 / inf.
        (stereo_set(left, right, base + 10, left_info=camera_info_msg(header(10), w, h, 1e-300),
                    right_info=camera_info_msg(header(10), w, h, 1e-300, tx=-1e-300 * BASELINE)),
         "left projection matrix has focal lengths fx=1e-300"),
        (stereo_set(left, right, base + 11, left_info=camera_info_msg(header(11), w, h, 1e300),
                    right_info=camera_info_msg(header(11), w, h, 1e300, tx=-1e300 * BASELINE)),
         "P_left contains NaN, inf or a number beyond float32"),
    ]
    repeated = base + 12  # the same problem as set 1 within the 5 s throttle period: not logged again
    cases.append((stereo_set(left, right, repeated, left_image=Image(
        header=header(12), height=h, width=w, encoding="16UC1", step=2 * w, data=bytes(2 * w * h))), None))
    for i, (messages, reason) in enumerate(cases):
        client.send(messages)
        if reason is not None and i != 0:  # one set at a time: the node's input queues (depth 5) never overflow
            node_a.wait_for_log(_stamp_text(base + i))
    good = base + 1_000_000_000
    client.send(stereo_set(left, right, good))
    client.wait_for("disparity", good)
    # Of this test's sets only the good one came out (another test's last output may still be arriving).
    assert {s for s in client.stamps("disparity") if base <= s <= good} == {good}

    log = node_a.log()
    for i, (_, reason) in enumerate(cases):
        lines = [line for line in log.splitlines() if _stamp_text(base + i) in line]
        if i in (0, 12):  # 0: stamps 1 ms apart never make a set with exact sync; 12: throttled
            assert not lines, lines
            continue
        assert lines and reason in lines[0], f"no log line '{reason}' for bad set {i}:\n{log}"
        assert "WARN" in lines[0]
    assert "Traceback" not in log


def test_burst_drops_the_oldest_frames_and_memory_stays_flat(ros, nodes, pair):
    client, node_a = ros["a"], nodes["a"]

    def burst(start_ns, n):
        stamps = [start_ns + i * 10_000_000 for i in range(n)]
        for stamp in stamps:
            client.send(stereo_set(*pair, stamp))
            time.sleep(0.01)  # ~100 Hz, far faster than inference on a CPU
        client.wait_for("disparity", stamps[-1])
        return stamps

    def check_newest_kept(sent):
        out = [s for s in client.stamps("disparity") if s in set(sent)]
        assert out == sorted(set(out)), "outputs must keep stamp order, each once"
        dropped = set(sent) - set(out)
        assert dropped, "a burst faster than inference must drop frames"
        assert out[-2:] == sent[-2:], "the newest frames (the last batch of 2) must never be dropped"
        return out

    first = burst(T0_NS + 20_000_000_000, 10)
    check_newest_kept(first)
    rss_warm = node_a.rss_mb()

    second = burst(T0_NS + 30_000_000_000, 60)
    assert len(check_newest_kept(second)) <= 20
    growth = node_a.rss_mb() - rss_warm
    assert growth < 15.0, f"RSS grew by {growth:.1f} MB over 60 frames ({60 * 2 * 256 * 256 * 3 / 2**20:.0f} MB " \
                          "of images): frames are being kept"


def _statuses(diagnostics, first: int = 0) -> list:
    """Node A's statuses among the /diagnostics arrays received from index ``first`` on."""
    return [s for array in list(diagnostics)[first:] for s in array.status if s.name == STATUS_NAME]


def _values(status) -> dict:
    return {kv.key: kv.value for kv in status.values}


def test_diagnostics_report_rates_latency_and_drops(ros, pair, checkpoint):
    """The test makes every event it checks (a bad set, an unsynchronized set, a burst), one after the other,
    and compares the counts with the last status before it."""
    client, diagnostics = ros["a"], ros["diagnostics"]
    deadline = time.monotonic() + 10.0
    while not _statuses(diagnostics):
        assert time.monotonic() < deadline, "no diagnostics from node A"
        time.sleep(0.05)
    first = len(diagnostics)
    before = _values(_statuses(diagnostics)[-1])
    base = T0_NS + 60_000_000_000
    left, right = pair
    h, w = left.shape[:2]
    client.send(stereo_set(left, right, base, left_image=Image(
        header=make_header(base, FRAME_ID), height=h, width=w, encoding="16UC1", step=2 * w, data=bytes(2 * w * h))))
    deadline = time.monotonic() + 10.0  # counted before more comes: the inputs' DDS history is 5 deep
    while not any(int(_values(s)["dropped frames: bad input"]) > int(before["dropped frames: bad input"])
                  for s in _statuses(diagnostics, first)):
        assert time.monotonic() < deadline, "the bad set was not counted"
        time.sleep(0.05)
    client.send(stereo_set(left, right, base + 1, right_stamp_ns=base + 1_000_000))  # never a set: 4 messages
    client.send(stereo_set(left, right, base + 50_000_000))  # a set, after which the 4 are dropped
    client.wait_for("disparity", base + 50_000_000)
    burst = [base + 100_000_000 + i * 10_000_000 for i in range(10)]
    started = time.monotonic()
    for stamp in burst:
        client.send(stereo_set(left, right, stamp))
        time.sleep(0.01)  # ~100 Hz, far faster than inference on a CPU
    client.wait_for("disparity", burst[-1])
    burst_ms = (time.monotonic() - started) * 1000.0
    after = len(diagnostics)  # every drop of the burst has happened: a later status counts them all
    deadline = time.monotonic() + 10.0
    while not any(s.level == DiagnosticStatus.OK for s in _statuses(diagnostics, after)):
        assert time.monotonic() < deadline, "no OK diagnostics after the burst"  # once drops stop: OK again
        time.sleep(0.1)
    statuses = _statuses(diagnostics, first)
    assert any(s.level == DiagnosticStatus.WARN for s in statuses), "dropping frames must raise the level to WARN"
    values = _values(next(s for s in _statuses(diagnostics, after) if s.level == DiagnosticStatus.OK))

    def added(key):
        return int(values[key]) - int(before[key])

    assert values["device"] == "cpu" and values["weights"] == checkpoint
    # A burst frame that did not come out was dropped by the full queue, or lost before it (the input's DDS
    # history is queue_size deep, its messages then go unmatched), never counted twice.
    not_out = 10 - sum(stamp in set(client.stamps("disparity")) for stamp in burst)
    assert 0 < added("dropped frames: queue full") <= not_out
    assert added("dropped frames: bad input") == 1
    assert added("dropped messages: not synchronized") >= 4  # the set with stamps 1 ms apart
    assert int(values["dropped total"]) == sum(int(values[k]) for k in (
        "dropped frames: queue full", "dropped messages: not synchronized", "dropped frames: bad input",
        "dropped frames: inference error"))
    # The window's passes are all of 256x256 pairs in batches of 1 or 2, the last of them within the burst's
    # span: their mean is within that span (a factor 2 for a loaded machine); a PSMNet pass takes well over 1 ms
    # on a CPU. Seconds reported as milliseconds, or NaN, fail.
    mean_ms, p95_ms = float(values["inference latency mean (ms)"]), float(values["inference latency p95 (ms)"])
    assert 1.0 <= mean_ms <= 2 * burst_ms and 1.0 <= p95_ms <= 2 * burst_ms, (mean_ms, p95_ms, burst_ms)
    assert 1.0 < float(values["mean batch size"]) <= 2.0
    assert any(float(_values(s)["input rate (Hz)"]) > 0 for s in statuses)
    assert any(float(_values(s)["output rate (Hz)"]) > 0 for s in statuses)


@pytest.fixture(scope="module")
def large_pair(reference_cases):
    """A 496x496 crop of the second reference case: 248x248 for the network at input_scale 0.5."""
    case = reference_cases["stackhourglass"][1]
    return tuple(np.ascontiguousarray(np.asarray(case[k])[:496, 100:596]) for k in ("left", "right"))


def test_approximate_sync_pairs_only_stamps_within_tolerance(ros, large_pair):
    client = ros["b"]
    base = T0_NS + 40_000_000_000
    apart = base                      # right 200 ms later: beyond the 50 ms tolerance
    close = base + 1_000_000_000      # right 20 ms later: within it
    client.send(stereo_set(*large_pair, apart, right_stamp_ns=apart + 200_000_000))
    client.send(stereo_set(*large_pair, close, right_stamp_ns=close + 20_000_000))
    msg = client.wait_for("disparity", close)
    assert msg.header.frame_id == FRAME_ID
    assert apart not in client.stamps("disparity")
    # input_scale 0.5: the network's [0, 15] px range doubles at full resolution, then shifts by doffs.
    doffs = CX_RIGHT - CX_LEFT
    assert (msg.image.height, msg.image.width) == (496, 496)
    assert (msg.min_disparity, msg.max_disparity) == pytest.approx((doffs, 2 * (MAXDISP - 1) + doffs))
    disparity = float_image(msg.image)
    # Soft argmin, linear upsampling and scaling stay within the range up to float32 rounding (1e-4 px
    # is 50 ulps at 30 px).
    assert disparity.min() >= msg.min_disparity - 1e-4 and disparity.max() <= msg.max_disparity + 1e-4
    assert disparity.max() > MAXDISP - 1 + doffs, "disparities are in full-resolution pixels"


def test_a_frame_queue_as_long_as_a_burst_keeps_every_frame_of_it(ros, large_pair):
    """Bag playback: a repaired image can arrive together with the next ones. With frame_queue_size 4,
    four sets sent at once (far faster than inference) all come out, in order; node A, whose queue is
    one batch deep, drops frames of such bursts (test_burst_drops_the_oldest_frames...)."""
    client = ros["b"]
    base = T0_NS + 50_000_000_000
    sent = [base + i * 200_000_000 for i in range(KEPT_BURST)]   # 200 ms apart: beyond the 50 ms tolerance
    for stamp in sent:
        client.send(stereo_set(*large_pair, stamp))
    for stamp in sent:
        client.wait_for("disparity", stamp)
    assert [s for s in client.stamps("disparity") if s in sent] == sent


def test_sigterm_and_sigint_stop_the_nodes_within_seconds(checkpoint, tmp_path):
    """Two nodes of their own, ready: one gets SIGTERM (systemd, docker); the other what ros2 launch sends: SIGINT,
    then SIGTERM after its 5 s grace period, which a node that stops in time never sees. test_node_shutdown.py
    covers the other moments."""
    common = ("-p", f"weights:={checkpoint}", "-p", "device:=cpu", "-p", f"maxdisp:={MAXDISP}")
    with NodeProcess(tmp_path / "term.log", DOMAIN_ID, *common, "-r", "__ns:=/sigterm") as term, \
            NodeProcess(tmp_path / "int.log", DOMAIN_ID, *common, "-r", "__ns:=/sigint") as interrupt:
        term.wait_ready()
        interrupt.wait_ready()
        for name, node, sig in (("term", term, signal.SIGTERM), ("int", interrupt, signal.SIGINT)):
            rc, seconds = node.stop(sig, then=signal.SIGTERM, then_after_s=5.0)
            log = node.log()
            assert rc == 0, f"node {name} exit status {rc} after {sig.name}:\n{log}"
            assert seconds < 3.0, f"node {name} took {seconds:.1f} s to stop after {sig.name}"
            assert "Traceback" not in log
