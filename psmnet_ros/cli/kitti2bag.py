"""psmnet-kitti2bag: convert a KITTI raw drive or stereo benchmark folder to a ROS 2 bag."""
from __future__ import annotations

import argparse
import sys

from ..core.errors import one_line_errors
from ..tools.kitti_bag import kitti_to_bag, topic_names

PROG = "psmnet-kitti2bag"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Write a KITTI stereo sequence as a ROS 2 bag (rosbag2 version 8, playable by "
                               "ros2 bag play on Humble and later): image_rect + camera_info per camera and "
                               "/tf_static.")
    parser.add_argument("src", help="raw drive folder (<date>/<date>_drive_NNNN_sync) or a KITTI stereo "
                                    "2015/2012 training|testing folder")
    parser.add_argument("out", help="bag folder to create (must not exist)")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    parser.add_argument("--cameras", choices=("color", "gray"), default="color",
                        help="colour pair (image_02/03, rgb8) or grey pair (image_00/01, mono8)")
    parser.add_argument("--compress", choices=("png", "jpeg"),
                        help="write the images as sensor_msgs/CompressedImage on <camera>/image_rect/compressed, "
                             "as image_transport's compressed plugin does (png: lossless; jpeg: quality 95)")
    parser.add_argument("--start", type=int, default=0, help="first frame (index in the sorted frames)")
    parser.add_argument("--count", type=int, help="number of frames (default: all from --start)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


@one_line_errors(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    written = kitti_to_bag(args.src, args.out, storage=args.storage, cameras=args.cameras, start=args.start,
                           count=args.count, compress=args.compress, progress=args.progress)
    names = topic_names(args.cameras)
    image = "image_rect" if args.compress is None else "image_rect/compressed"
    print(f"wrote {written} stereo frames to {args.out} ({args.storage}): "
          f"{names['left_topic_ns']}/{{{image},camera_info}}, {names['right_topic_ns']}/{{{image},camera_info}}, "
          "/tf_static")
    return 0


if __name__ == "__main__":
    sys.exit(main())
