"""How many stereo sets DDS delivers to the node's input subscription, by QoS, image size and transport
(the measurements of docs/qos.md). A writer here and a reader in another process, on a ROS domain of their
own with localhost discovery, as the tests run; rgb8 images, a set = left and right image plus their
camera_info, sent back to back.

    python scripts/qos_delivery.py once   [--sets 8] [--gap 1.0] [--size 741x500] [--reader best_effort]
    python scripts/qos_delivery.py stream [--seconds 10] [--hz 10] [--size 741x500]
    ... [--transport DEFAULT|UDPv4|SHM|LARGE_DATA]   (Fast DDS's FASTDDS_BUILTIN_TRANSPORTS, both sides)

once: a reliable writer (psmnet-play, ros2 bag play) sends each set once, --gap seconds apart; the reader
subscribes as the node does with --reader (best_effort = qos sensor_data; reliable = qos auto facing a reliable
writer). stream: a best-effort camera-style writer at --hz; the reader is best effort (what qos auto picks).
Prints one line: sets sent, sets whose two images both arrived, and the fraction.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))
sys.path.insert(0, str(REPO))
DEPTH = 5
"""The node's input history depth (queue_size's default)."""


def _profile(reliability: str):
    from rclpy.qos import ReliabilityPolicy
    from psmnet_ros.ros.input_qos import input_profile
    return input_profile(ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
                         DEPTH)


def read(reliability: str, seconds: float) -> None:
    """Reader process: count image arrivals per stamp (seconds) on both sides until stdin closes."""
    import threading

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    rclpy.init()
    node = Node("qos_delivery_reader")
    arrived = {"left": set(), "right": set()}
    for side in arrived:
        node.create_subscription(Image, f"{side}/image_rect",
                                 lambda msg, side=side: arrived[side].add(msg.header.stamp.sec), _profile(reliability))
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print("ready", flush=True)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + seconds
    while not done.is_set() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    print(json.dumps(sorted(arrived["left"] & arrived["right"])), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def write(args) -> None:
    import numpy as np
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image

    from ros_helpers import reserve_domain_id, ros_env, stereo_messages, wait_for_subscribers

    width, height = (int(v) for v in args.size.split("x"))
    domain = reserve_domain_id()
    env = ros_env(domain)
    if args.transport != "DEFAULT":
        env["FASTDDS_BUILTIN_TRANSPORTS"] = args.transport
    os.environ.update(env)
    seconds = (args.sets * args.gap if args.mode == "once" else args.seconds) + 60
    reader_qos = args.reader if args.mode == "once" else "best_effort"
    reader = subprocess.Popen([sys.executable, __file__, "_read", "--reader", reader_qos, "--seconds", str(seconds)],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "ready"
    rclpy.init(domain_id=domain)
    node = Node("qos_delivery_writer")
    writer_qos = _profile("reliable" if args.mode == "once" else "best_effort")
    writer_qos.depth = 10
    publishers = [node.create_publisher(t, topic, writer_qos) for topic, t in (
        ("left/image_rect", Image), ("left/camera_info", CameraInfo),
        ("right/image_rect", Image), ("right/camera_info", CameraInfo))]
    assert wait_for_subscribers(node, [publishers[0], publishers[2]], 30.0), "the reader was not discovered"
    time.sleep(1.0)  # discovery of the remaining endpoints
    rng = np.random.default_rng(0)
    left = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    sets = args.sets if args.mode == "once" else int(args.seconds * args.hz)
    period = args.gap if args.mode == "once" else 1.0 / args.hz
    start = time.monotonic()
    for k in range(sets):
        for publisher, msg in zip(publishers, stereo_messages(left, left, (k + 1) * 1_000_000_000)):
            publisher.publish(msg)
        time.sleep(max(0.0, start + (k + 1) * period - time.monotonic()))
    time.sleep(2.0)  # a reliable writer's repairs, the last samples in flight
    received, _ = reader.communicate("")
    complete = json.loads(received.strip().splitlines()[-1])
    print(f"{args.mode} {width}x{height} writer {'reliable' if args.mode == 'once' else 'best_effort'} -> reader "
          f"{reader_qos}, transport {args.transport}: {len(complete)}/{sets} sets "
          f"({100.0 * len(complete) / sets:.0f} %)")
    node.destroy_node()
    rclpy.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("once", "stream", "_read"))
    parser.add_argument("--sets", type=int, default=8)
    parser.add_argument("--gap", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--size", default="741x500")
    parser.add_argument("--reader", choices=("best_effort", "reliable"), default="best_effort")
    parser.add_argument("--transport", choices=("DEFAULT", "UDPv4", "SHM", "LARGE_DATA"), default="DEFAULT")
    args = parser.parse_args()
    if args.mode == "_read":
        read(args.reader, args.seconds)
    else:
        write(args)


if __name__ == "__main__":
    main()
