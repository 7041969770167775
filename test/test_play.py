"""psmnet-play against real bags written with rosbags, received over real DDS."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

from psmnet_ros.cli import play
from psmnet_ros.ros.bag_player import BagPlayer, open_bag
from ros_helpers import (camera_info_msg, image_msg, make_header, reserve_domain_id, ros_context, ros_env,
                         spin_until)

REPO = Path(__file__).resolve().parents[1]
BAG_START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 100_000_000  # frames 0.1 s apart
N_FRAMES = 5


def frame_image(i):
    """A 4x6 rgb8 image whose bytes encode the frame number."""
    rgb = (np.arange(4 * 6 * 3, dtype=np.uint16).reshape(4, 6, 3) + 7 * i) % 256
    return image_msg(rgb.astype(np.uint8), "rgb8", make_header(BAG_START_NS + i * PERIOD_NS, "cam"))


def write_bag(path, storage=StoragePlugin.SQLITE3):
    """Image + CameraInfo per frame, plus a topic whose type is not installed."""
    typestore = get_typestore(Stores.ROS2_JAZZY)
    with Writer(path, version=9, storage_plugin=storage) as writer:
        image_conn = writer.add_connection("/cam/image_rect", "sensor_msgs/msg/Image",
                                           typestore=typestore)
        info_conn = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo",
                                          typestore=typestore)
        unknown_conn = writer.add_connection("/unknown", "psmnet_test_msgs/msg/Nothing",
                                             msgdef="int32 x", rihs01="RIHS01_" + "0" * 64)
        for i in range(N_FRAMES):
            t = BAG_START_NS + i * PERIOD_NS
            writer.write(image_conn, t, serialize_message(frame_image(i)))
            info = camera_info_msg(make_header(t, "cam"), 6, 4, fx=50.0 + i)
            writer.write(info_conn, t, serialize_message(info))
            writer.write(unknown_conn, t, b"\x00\x01\x00\x00" + i.to_bytes(4, "little"))
    return path


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    return write_bag(tmp_path_factory.mktemp("bags") / "stereo_bag")


def start_player(bag_path, domain_id, *args):
    env = ros_env(domain_id)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "psmnet_ros.cli.play", str(bag_path), *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stamp_ns(header):
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def test_plays_all_messages_with_stamps_data_timing_and_clock(bag):
    domain = reserve_domain_id()
    with ros_context(domain) as context:
        node = Node("play_listener", context=context)
        images, infos, clocks = [], [], []
        # Each image with the time the player wrote it (DDS source timestamp, ns): the test process's own
        # scheduling (it may run a callback late under load) does not enter the measured timing.
        node.create_subscription(Image, "/cam/image_rect",
                                 lambda m, info: images.append((info["source_timestamp"] * 1e-9, m)), 10)
        node.create_subscription(CameraInfo, "/cam/camera_info", infos.append, 10)
        node.create_subscription(Clock, "/clock", clocks.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT))
        # DDS discovery on a loaded machine can miss the first announcements and wait for the
        # next periodic one (3 s in Fast DDS): the player starts once this listener is matched.
        proc = start_player(bag, domain, "--rate", "0.5", "--clock", "--wait-for-subscribers", "1",
                            "--start-delay", "60")
        try:
            done = spin_until(node, lambda: len(images) == N_FRAMES and len(infos) == N_FRAMES,
                              timeout_s=20.0)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
        spin_until(node, lambda: False, timeout_s=0.2)  # collect trailing /clock messages
        node.destroy_node()
    assert done, (f"got {len(images)} images, {len(infos)} infos; player rc {proc.returncode}, "
                  f"stdout:\n{out}\nstderr:\n{err}")
    assert proc.returncode == 0, err

    for i, (_, msg) in enumerate(images):
        expected = frame_image(i)
        assert stamp_ns(msg.header) == BAG_START_NS + i * PERIOD_NS
        assert (msg.width, msg.height, msg.encoding, msg.step) == (6, 4, "rgb8", 18)
        assert bytes(msg.data) == bytes(expected.data)
    assert [info.k[0] for info in infos] == [50.0 + i for i in range(N_FRAMES)]

    # Recorded 0.1 s apart, played at rate 0.5 -> 0.2 s apart, 0.8 s first to last. The player keeps to a schedule
    # from its first message, so a late first write (the player descheduled under load) shortens the span by as
    # much: 0.1 s of that is allowed.
    sent = [t for t, _ in images]
    span = sent[-1] - sent[0]
    assert 0.7 < span < 1.3, f"first-to-last image span {span:.3f} s, expected ~0.8 s"

    clock_ns = [c.clock.sec * 1_000_000_000 + c.clock.nanosec for c in clocks]
    assert clock_ns, "no /clock message"
    assert clock_ns == sorted(clock_ns)
    assert BAG_START_NS <= clock_ns[0] and clock_ns[-1] == BAG_START_NS + (N_FRAMES - 1) * PERIOD_NS

    skipped = [line for line in err.splitlines() if "skipping topic '/unknown'" in line]
    assert len(skipped) == 1, err
    assert "Traceback" not in err


def test_loop_then_sigterm_exits_cleanly(tmp_path):
    bag_path = write_bag(tmp_path / "mcap_bag", storage=StoragePlugin.MCAP)
    domain = reserve_domain_id()
    with ros_context(domain) as context:
        node = Node("loop_listener", context=context)
        images = []
        node.create_subscription(Image, "/cam/image_rect", images.append, 10)
        proc = start_player(bag_path, domain, "--loop", "--rate", "4", "--topics", "/cam/image_rect",
                            "--start-delay", "0")
        try:  # discovery may complete mid-loop: wait for two full loops after the first image
            looped = spin_until(node, lambda: len(images) >= 3 * N_FRAMES, timeout_s=20.0)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
        finally:
            proc.kill()
        node.destroy_node()
    assert looped, f"got {len(images)} images; stderr:\n{err}"
    frames = [(stamp_ns(m.header) - BAG_START_NS) // PERIOD_NS for m in images]
    first = frames[0]
    assert frames == [(first + k) % N_FRAMES for k in range(len(frames))]  # 0..4, 0..4, ... in order
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_topics_filter_publishes_only_the_chosen_topics(bag):
    with ros_context(reserve_domain_id()) as context:
        node = Node("filter_check", context=context)
        reader = open_bag(bag)
        try:
            player = BagPlayer(node, reader, topics=["/cam/camera_info", "/not/there"])
            assert sorted(player.publishers) == ["/cam/camera_info"]
            assert player.stats.skipped == []
        finally:
            reader.close()
            node.destroy_node()


def test_conflicting_topics_are_skipped_and_empty_loop_ends(tmp_path):
    typestore = get_typestore(Stores.ROS2_JAZZY)
    path = tmp_path / "odd_bag"
    with Writer(path, version=9) as writer:
        writer.add_connection("/clock", "rosgraph_msgs/msg/Clock", typestore=typestore)
        writer.add_connection("/mixed", "sensor_msgs/msg/Image", typestore=typestore)
        writer.add_connection("/mixed", "sensor_msgs/msg/CameraInfo", typestore=typestore)
    with ros_context(reserve_domain_id()) as context:
        node = Node("odd_bag_check", context=context)
        reader = open_bag(path)
        try:
            player = BagPlayer(node, reader, loop=True, clock=True)
            assert sorted(player.publishers) == ["/mixed"]
            assert player.stats.skipped == ["/clock", "/mixed"]  # bag's /clock; /mixed's 2nd type
            stop = threading.Event()
            stats = player.play(stop)  # no messages: a loop must end, not spin forever
            assert stats.loops == 0 and stats.published == {"/mixed": 0} and not stop.is_set()
        finally:
            reader.close()
            node.destroy_node()


def test_missing_bag_path_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "psmnet_ros.cli.play", "/nonexistent/bag"],
                          cwd=REPO, env=ros_env(reserve_domain_id()), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "psmnet-play: error: bag '/nonexistent/bag' does not exist"]


def test_folder_without_metadata_is_rejected(tmp_path, capsys):
    assert play.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"psmnet-play: error: cannot open bag '{tmp_path}'")


def test_bad_rate_is_rejected(bag, capsys):
    assert play.main([str(bag), "--rate", "0"]) == 2
    assert capsys.readouterr().err.strip() == "psmnet-play: error: --rate must be positive, got 0.0"
