"""The package's own message psmnet_ros/msg/FrameStats: built by the install, serialized by rclpy,
carried over real Fast DDS between processes and through a rosbags bag, rebuilt when msg/ changes."""
import configparser
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, Writer

from psmnet_ros.msg import FrameStats
from psmnet_ros.tools import build_msgs
from psmnet_ros.tools.bag_types import package_typestore
from psmnet_ros.tools.bag_writer import TYPESTORE
from ros_helpers import make_header, reserve_domain_id, ros_context, ros_env, spin_until

REPO = Path(__file__).resolve().parents[1]
MSG = REPO / "msg" / "FrameStats.msg"
DOMAIN_ID = reserve_domain_id()
# rosidl_generator_py's names for the .msg types
PY_TYPES = {"float32": "float", "uint32": "uint32", "string": "string", "std_msgs/Header": "std_msgs/Header"}


def msg_fields(text: str) -> dict:
    """name -> type of each field of a .msg text, read the way the ROS 2 .msg format defines it."""
    fields = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            fields[words[1]] = words[0]
    return fields


def sample() -> FrameStats:
    """A FrameStats with a distinct value in every field; floats exact in float32, one NaN."""
    return FrameStats(check_fields=True, header=make_header(1_700_000_123_456_789_000, "camera_left_optical"),
                      latency_ms=48.25, queue_wait_ms=3.5, inference_ms=40.125, output_ms=2.75, publish_ms=1.875,
                      batch_size=2, image_width=1242, image_height=375, network_width=1248, network_height=384,
                      weights="kitti2015 (official PSMNet, KITTI 2015)", device="cuda:0",
                      precision="fp16", valid_fraction=0.96875, mean_confidence=math.nan,
                      disparity_min_px=0.5, disparity_median_px=17.25, disparity_max_px=191.0, frames_dropped=3)


def assert_same(received, sent) -> None:
    assert received.header.stamp.sec == sent.header.stamp.sec
    assert received.header.stamp.nanosec == sent.header.stamp.nanosec
    assert received.header.frame_id == sent.header.frame_id
    for name in msg_fields(MSG.read_text()):
        if name == "header":
            continue
        got, want = getattr(received, name), getattr(sent, name)
        assert got == want or (math.isnan(got) and math.isnan(want)), name


def test_the_generated_type_has_the_fields_of_the_msg_file():
    assert FrameStats.__module__ == "psmnet_ros.msg._frame_stats"
    fields = msg_fields(MSG.read_text())
    assert FrameStats.get_fields_and_field_types() == {name: PY_TYPES[t] for name, t in fields.items()}
    # What a reader of a plot needs (issue 13): where the time went, sizes, model, quality, losses.
    assert {"header", "latency_ms", "queue_wait_ms", "inference_ms", "output_ms", "publish_ms", "batch_size",
            "image_width", "image_height", "network_width", "network_height", "weights", "device", "precision",
            "valid_fraction", "mean_confidence", "disparity_min_px", "disparity_median_px", "disparity_max_px",
            "frames_dropped"} <= set(fields)


def test_every_field_says_what_it_means():
    """Each field carries its own comment (units, meaning); the header's is the line above it."""
    lines = MSG.read_text().splitlines()
    for i, line in enumerate(lines):
        words = line.split("#", 1)[0].split()
        if words:
            assert "#" in line or lines[i - 1].startswith("# "), f"field {words[1]} has no comment"
            assert "#" in line or words[1] == "header", words[1]


def test_serialize_and_deserialize_keep_every_value():
    sent = sample()
    data = serialize_message(sent)
    assert data[:4] == b"\x00\x01\x00\x00"      # CDR little-endian encapsulation
    assert b"camera_left_optical\x00" in data and b"fp16\x00" in data
    assert_same(deserialize_message(data, FrameStats), sent)


PUBLISHER = """
import sys, time
import rclpy
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from psmnet_ros.msg import FrameStats
message = deserialize_message(bytes.fromhex(sys.argv[1]), FrameStats)
rclpy.init()
node = Node("frame_stats_publisher")
publisher = node.create_publisher(FrameStats, "frame_stats", 10)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    publisher.publish(message)
    rclpy.spin_once(node, timeout_sec=0.05)
"""


def test_a_frame_stats_published_in_one_process_is_received_in_another():
    sent = sample()
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, serialize_message(sent).hex()],
                                 env=ros_env(DOMAIN_ID), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ros_context(DOMAIN_ID) as context:
            node = Node("frame_stats_subscriber", context=context)
            received = []
            node.create_subscription(FrameStats, "frame_stats", received.append, 10)
            try:
                got_one = spin_until(node, lambda: bool(received) or publisher.poll() is not None, 30.0)
            finally:
                node.destroy_node()
        assert got_one and received, f"no FrameStats arrived; publisher exit {publisher.poll()}"
        assert_same(received[0], sent)
    finally:
        publisher.kill()
        output = publisher.communicate(timeout=30)[0]
    assert "Traceback" not in output, output


def test_a_bag_carries_frame_stats(tmp_path):
    """Written with the bag tools' typestore, read back with rosbags and with rclpy's generated type."""
    msgtype = "psmnet_ros/msg/FrameStats"
    sent = sample()
    stamp_ns = sent.header.stamp.sec * 1_000_000_000 + sent.header.stamp.nanosec
    types = TYPESTORE.types
    stamp = types["builtin_interfaces/msg/Time"](sec=sent.header.stamp.sec, nanosec=sent.header.stamp.nanosec)
    values = {name: getattr(sent, name) for name in msg_fields(MSG.read_text()) if name != "header"}
    message = types[msgtype](header=types["std_msgs/msg/Header"](stamp=stamp, frame_id=sent.header.frame_id),
                             **values)
    with Writer(tmp_path / "bag", version=8) as writer:
        connection = writer.add_connection("/psmnet_node/frame_stats", msgtype, typestore=TYPESTORE)
        writer.write(connection, stamp_ns, TYPESTORE.serialize_cdr(message, msgtype))

    reader_types = package_typestore()
    with Reader(tmp_path / "bag") as reader:
        records = [(c.msgtype, t, reader_types.deserialize_cdr(raw, c.msgtype), raw)
                   for c, t, raw in reader.messages()]
    assert [(r[0], r[1]) for r in records] == [(msgtype, stamp_ns)]
    assert_same(records[0][2], sent)
    assert_same(deserialize_message(bytes(records[0][3]), FrameStats), sent)   # same bytes as rclpy's


def test_package_xml_declares_the_message_build():
    root = ET.parse(REPO / "package.xml").getroot()
    tags = {(e.tag, e.text) for e in root}
    assert ("buildtool_depend", "rosidl_default_generators") in tags
    assert ("exec_depend", "rosidl_default_runtime") in tags
    assert ("member_of_group", "rosidl_interface_packages") in tags
    assert ("depend", "std_msgs") in tags
    assert root.find("export/build_type").text == "ament_cmake"
    assert "rosidl_generate_interfaces(" in (REPO / "CMakeLists.txt").read_text()


def test_cmake_installs_every_console_script_of_setup_cfg():
    """CMakeLists.txt makes lib/psmnet_ros executables from the setup.cfg lines its regex matches."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    scripts = [line for line in config["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    cmake_regex = re.search(r'file\(STRINGS setup\.cfg entry_points REGEX "([^"]+)"\)',
                            (REPO / "CMakeLists.txt").read_text())[1].replace("\\t", "\t")
    matched = [line.strip() for line in (REPO / "setup.cfg").read_text().splitlines() if re.match(cmake_regex, line)]
    assert matched == [line.strip() for line in scripts] and "psmnet_node = psmnet_ros.ros.node:main" in matched


# --- the build ---------------------------------------------------------------------------------------

INSTALLED = Path(sys.modules[FrameStats.__module__].__file__).parents[1]   # the psmnet_ros package folder in use
built_by_pip = pytest.mark.skipif(
    not (INSTALLED / "msg" / build_msgs.HASH_FILE).is_file(),
    reason=f"psmnet_ros.msg in {INSTALLED} was built by colcon (rosidl), not by psmnet_ros/tools/build_msgs.py")


@built_by_pip
def test_a_changed_msg_is_rebuilt_and_an_unchanged_one_is_not(tmp_path):
    msg_dir, site = tmp_path / "msg", tmp_path / "site"
    package = site / "psmnet_ros"
    shutil.copytree(REPO / "msg", msg_dir)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for path in build_msgs.built_files(INSTALLED):      # the install's current build
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, package / path.name)
    assert build_msgs.is_current(msg_dir, package)
    assert build_msgs.build(msg_dir, package) is False

    with open(msg_dir / "FrameStats.msg", "a") as msg:
        msg.write("float32 added_stage_ms  # a new field\n")
    assert not build_msgs.is_current(msg_dir, package)
    assert build_msgs.build(msg_dir, package) is True
    assert build_msgs.is_current(msg_dir, package)

    check = ("import psmnet_ros.msg as m\n"
             "from rclpy.serialization import serialize_message, deserialize_message\n"
             "sent = m.FrameStats(added_stage_ms=2.5, latency_ms=7.0)\n"
             "got = deserialize_message(serialize_message(sent), m.FrameStats)\n"
             "print(m.__file__, got.added_stage_ms, got.latency_ms)\n")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**ros_env(DOMAIN_ID), "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(package / "msg" / "__init__.py"), "2.5", "7.0"]


@built_by_pip
def test_the_build_names_what_is_wrong(tmp_path):
    with pytest.raises(build_msgs.BuildError, match="no .msg files in"):
        build_msgs.build(tmp_path, tmp_path / "psmnet_ros")
    (tmp_path / "Bad.msg").write_text("geometry_msgs/Unknown thing\n")
    with pytest.raises(build_msgs.BuildError, match="geometry_msgs/Unknown used in Bad.msg is not installed"):
        build_msgs.build(tmp_path, tmp_path / "psmnet_ros")
    assert not (tmp_path / "psmnet_ros" / "msg").exists()
