"""KITTI -> ROS 2 bag conversion, read back with rosbags (and real rclpy deserialization)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from rosbags.interfaces import QosDurability
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from kitti_fixtures import make_kitti2012, make_kitti2015, make_raw_drive
from psmnet_ros.cli.kitti2bag import main
from psmnet_ros.core.calibration import StereoCalibration
from psmnet_ros.core.errors import InputError
from psmnet_ros.tools.bag_writer import write_stereo_bag

TYPES = get_typestore(Stores.ROS2_HUMBLE)
COLOR_TOPICS = ["/kitti/camera_color_left/image_rect", "/kitti/camera_color_left/camera_info",
                "/kitti/camera_color_right/image_rect", "/kitti/camera_color_right/camera_info"]
# 2011-09-26 13:02:25 UTC: 15243 days after 1970-01-01 -> 15243 * 86400 + 13 * 3600 + 2 * 60 + 25 s
SECONDS_0 = 15243 * 86400 + 13 * 3600 + 2 * 60 + 25          # 1317042145
RAW_STAMPS = [(SECONDS_0, 964389445), (SECONDS_0 + 1, 68044525), (SECONDS_0 + 1, 171735365)]
P_RECT_02 = [[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791], [0, 0, 1, 0.002745884]]
P_RECT_03 = [[721.5377, 0, 609.5593, -339.5242], [0, 721.5377, 172.854, 2.199936], [0, 0, 1, 0.002729905]]
R_RECT_02 = [[9.998817e-01, 1.511453e-02, -2.841595e-03], [-1.511724e-02, 9.998853e-01, -9.338510e-04],
             [2.827154e-03, 9.766976e-04, 9.999955e-01]]   # the fixture's real 2011_09_26 values
R_RECT_03 = [[9.998321e-01, -7.193136e-03, 1.685599e-02], [7.232804e-03, 9.999712e-01, -2.293585e-03],
             [-1.683901e-02, 2.415116e-03, 9.998553e-01]]


def read_bag(path: Path) -> dict:
    """topic -> list of (log time ns, message, raw bytes), plus '_qos' topic -> offered profiles."""
    out = {"_qos": {}}
    with Reader(path) as reader:
        for conn in reader.connections:
            out["_qos"][conn.topic] = conn.ext.offered_qos_profiles
        for conn, stamp, raw in reader.messages():
            out.setdefault(conn.topic, []).append((stamp, TYPES.deserialize_cdr(raw, conn.msgtype), bytes(raw)))
    return out


def stamp_of(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def rotate(q, v):
    """Rotate v by the unit quaternion q = (x, y, z, w): v + 2w(u x v) + 2u x (u x v)."""
    u, w = np.array(q[:3], dtype=float), q[3]
    v = np.array(v, dtype=float)
    return v + 2 * w * np.cross(u, v) + 2 * np.cross(u, np.cross(u, v))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_raw_drive_colour(tmp_path, storage, capsys):
    drive = make_raw_drive(tmp_path / "raw")
    out = tmp_path / "bag"
    assert main([str(drive.drive), str(out), "--storage", storage, "--no-progress"]) == 0
    assert "wrote 3 stereo frames" in capsys.readouterr().out

    meta = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == storage
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}
    assert counts == {**{t: 3 for t in COLOR_TOPICS}, "/tf_static": 1}
    tf_meta = next(t["topic_metadata"] for t in meta["topics_with_message_count"]
                   if t["topic_metadata"]["name"] == "/tf_static")
    assert isinstance(tf_meta["offered_qos_profiles"], str)        # Humble reads QoS as a YAML string
    profile = yaml.safe_load(tf_meta["offered_qos_profiles"])[0]
    assert profile["durability"] == 1 and profile["reliability"] == 1   # rmw: TRANSIENT_LOCAL, RELIABLE

    bag = read_bag(out)
    assert bag["_qos"]["/tf_static"][0].durability == QosDurability.TRANSIENT_LOCAL
    assert bag["_qos"][COLOR_TOPICS[0]][0].durability == QosDurability.VOLATILE
    for topic in COLOR_TOPICS:
        assert [stamp_of(m) for _, m, _ in bag[topic]] == RAW_STAMPS      # left stamps for both cameras
        assert [t for t, _, _ in bag[topic]] == [s * 10**9 + ns for s, ns in RAW_STAMPS]
    for side, cam, frame in (("left", "02", "camera_color_left"), ("right", "03", "camera_color_right")):
        for k, (_, msg, _) in enumerate(bag[f"/kitti/camera_color_{side}/image_rect"]):
            assert (msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian) == ("rgb8", 24, 16, 72, 0)
            assert msg.header.frame_id == frame
            png = np.array(Image.open(drive.drive / f"image_{cam}" / "data" / f"{k:010d}.png"))
            assert bytes(msg.data) == png.tobytes()

    left_info = bag["/kitti/camera_color_left/camera_info"][0][1]
    right_info = bag["/kitti/camera_color_right/camera_info"][0][1]
    np.testing.assert_array_equal(left_info.p.reshape(3, 4), P_RECT_02)
    np.testing.assert_array_equal(right_info.p.reshape(3, 4), P_RECT_03)
    np.testing.assert_array_equal(left_info.k.reshape(3, 3), np.array(P_RECT_02)[:, :3])
    np.testing.assert_array_equal(left_info.r, np.array(R_RECT_02).ravel())
    np.testing.assert_array_equal(right_info.r, np.array(R_RECT_03).ravel())
    assert left_info.distortion_model == "plumb_bob" and left_info.d.tolist() == [0.0] * 5
    assert (left_info.width, left_info.height) == (24, 16)
    baseline = (left_info.p[3] - right_info.p[3]) / left_info.p[0]
    assert baseline == pytest.approx((44.85728 + 339.5242) / 721.5377, rel=1e-12)
    assert baseline == pytest.approx(0.5327, abs=1e-4)

    (stamp, tf, _), = bag["/tf_static"]
    assert stamp == RAW_STAMPS[0][0] * 10**9 + RAW_STAMPS[0][1]
    body, pair = tf.transforms
    assert (body.header.frame_id, body.child_frame_id) == ("base_link", "camera_color_left")
    q = (body.transform.rotation.x, body.transform.rotation.y, body.transform.rotation.z, body.transform.rotation.w)
    assert q == (-0.5, 0.5, -0.5, 0.5)
    translation = body.transform.translation
    assert (translation.x, translation.y, translation.z) == (0.0, 0.0, 1.65)   # KITTI's camera height
    np.testing.assert_allclose(rotate(q, [0, 0, 1]), [1, 0, 0], atol=1e-12)    # optical z = forward
    np.testing.assert_allclose(rotate(q, [1, 0, 0]), [0, -1, 0], atol=1e-12)   # optical x = right
    np.testing.assert_allclose(rotate(q, [0, 1, 0]), [0, 0, -1], atol=1e-12)   # optical y = down
    assert (pair.header.frame_id, pair.child_frame_id) == ("camera_color_left", "camera_color_right")
    assert pair.transform.translation.x == pytest.approx(baseline, rel=1e-12)
    assert (pair.transform.translation.y, pair.transform.translation.z) == (0.0, 0.0)
    assert pair.transform.rotation.w == 1.0


def test_bag_messages_deserialize_with_real_rclpy(tmp_path):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image as ImageMsg

    drive = make_raw_drive(tmp_path / "raw", n_frames=1)
    main([str(drive.drive), str(tmp_path / "bag"), "--no-progress"])
    bag = read_bag(tmp_path / "bag")
    image = deserialize_message(bag["/kitti/camera_color_left/image_rect"][0][2], ImageMsg)
    assert (image.width, image.height, image.encoding) == (24, 16, "rgb8")
    assert bytes(image.data) == drive.images["02"][0].tobytes()
    info = deserialize_message(bag["/kitti/camera_color_right/camera_info"][0][2], CameraInfo)
    assert list(info.p) == [v for row in P_RECT_03 for v in row]
    assert (info.header.stamp.sec, info.header.stamp.nanosec) == RAW_STAMPS[0]


def test_raw_drive_grey_and_frame_range(tmp_path):
    drive = make_raw_drive(tmp_path / "raw")
    out = tmp_path / "bag"
    assert main([str(drive.drive), str(out), "--cameras", "gray", "--start", "1", "--count", "1",
                 "--no-progress"]) == 0
    bag = read_bag(out)
    (_, image, _), = bag["/kitti/camera_gray_left/image_rect"]
    assert (image.encoding, image.step) == ("mono8", 24)
    assert stamp_of(image) == RAW_STAMPS[1]
    assert bytes(image.data) == np.array(Image.open(drive.drive / "image_00/data/0000000001.png")).tobytes()
    left = bag["/kitti/camera_gray_left/camera_info"][0][1]
    right = bag["/kitti/camera_gray_right/camera_info"][0][1]
    assert left.p[3] == 0.0 and right.p[3] == -387.5744           # P_rect_00, P_rect_01
    assert (left.p[3] - right.p[3]) / left.p[0] == pytest.approx(387.5744 / 721.5377, rel=1e-12)
    assert bag["/tf_static"][0][1].transforms[0].child_frame_id == "camera_gray_left"


def test_kitti2015_split(tmp_path):
    tree = make_kitti2015(tmp_path / "k15", names=("000000_10", "000001_10"))
    out = tmp_path / "bag"
    assert main([str(tree.root / "training"), str(out), "--storage", "mcap", "--no-progress"]) == 0
    bag = read_bag(out)
    images = bag["/kitti/camera_color_left/image_rect"]
    assert [stamp_of(m) for _, m, _ in images] == [(1, 0), (1, 100_000_000)]   # 1 s + k * 0.1 s
    assert bytes(images[1][1].data) == tree.left["000001_10"].tobytes()
    right = bag["/kitti/camera_color_right/image_rect"][0][1]
    assert bytes(right.data) == tree.right["000000_10"].tobytes()
    info = bag["/kitti/camera_color_left/camera_info"][1][1]
    np.testing.assert_array_equal(info.p.reshape(3, 4), P_RECT_02)
    assert (info.width, info.height) == (32, 24)


def test_kitti2012_split_colour_and_grey(tmp_path):
    tree = make_kitti2012(tmp_path / "k12", names=("000000_10",))
    assert main([str(tree.root / "training"), str(tmp_path / "c"), "--no-progress"]) == 0
    bag = read_bag(tmp_path / "c")
    left = bag["/kitti/camera_color_left/camera_info"][0][1]
    right = bag["/kitti/camera_color_right/camera_info"][0][1]
    assert (left.p[3], right.p[3]) == (45.75831, -334.1081)                     # P2, P3
    assert (left.width, left.height) == (32, 24)
    assert bytes(bag["/kitti/camera_color_left/image_rect"][0][1].data) == tree.left["000000_10"].tobytes()
    assert main([str(tree.root / "training"), str(tmp_path / "g"), "--cameras", "gray", "--no-progress"]) == 0
    grey = read_bag(tmp_path / "g")["/kitti/camera_gray_right/camera_info"][0][1]
    assert grey.p[3] == -379.7842                                               # P1


def run_error(args, capsys) -> str:
    assert main([*map(str, args), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("psmnet-kitti2bag: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_errors(tmp_path, capsys):
    drive = make_raw_drive(tmp_path / "raw")
    (tmp_path / "empty").mkdir()
    assert "is not a KITTI raw drive" in run_error([tmp_path / "empty", tmp_path / "o1"], capsys)
    assert "does not exist" in run_error([tmp_path / "nowhere", tmp_path / "o1"], capsys)
    (tmp_path / "bench" / "training").mkdir(parents=True)
    assert "pass " in run_error([tmp_path / "bench", tmp_path / "o1"], capsys)
    (tmp_path / "existing").mkdir()
    assert "output bag" in run_error([drive.drive, tmp_path / "existing"], capsys)
    assert "--start 5 is outside the 3 frames" in run_error([drive.drive, tmp_path / "o1", "--start", 5], capsys)

    (drive.drive / "image_03" / "data" / "0000000002.png").unlink()
    assert "mismatched frame counts" in run_error([drive.drive, tmp_path / "o1"], capsys)

    drive = make_raw_drive(tmp_path / "raw2")
    text = drive.calib.read_text()
    drive.calib.write_text("\n".join(l for l in text.splitlines() if not l.startswith("P_rect_03")))
    err = run_error([drive.drive, tmp_path / "o1"], capsys)
    assert "calib_cam_to_cam.txt lacks P_rect_03" in err
    drive.calib.unlink()
    assert "calib_cam_to_cam.txt is missing" in run_error([drive.drive, tmp_path / "o1"], capsys)

    drive = make_raw_drive(tmp_path / "raw3", cameras=("02",))
    assert "image_03/data is missing" in run_error([drive.drive, tmp_path / "o1"], capsys)

    drive = make_raw_drive(tmp_path / "raw4")
    stamps = drive.drive / "image_02" / "timestamps.txt"
    stamps.write_text("\n".join(drive.timestamps["02"][:2]) + "\n")
    assert "has 2 stamps for 3 images" in run_error([drive.drive, tmp_path / "o1"], capsys)
    stamps.write_text("2011-09-26 13:02:25,964389445\n" * 3)
    assert "line 1: bad KITTI timestamp" in run_error([drive.drive, tmp_path / "o1"], capsys)

    tree = make_kitti2015(tmp_path / "k15", names=("000000_10",))
    (tree.root / "training" / "calib_cam_to_cam" / "000000.txt").unlink()
    assert "000000.txt is missing" in run_error([tree.root / "training", tmp_path / "o1"], capsys)
    assert "image_0 is missing" in run_error([tree.root / "training", tmp_path / "o1", "--cameras", "gray"], capsys)
    assert not (tmp_path / "o1").exists()


def test_partial_bag_is_removed(tmp_path, capsys):
    drive = make_raw_drive(tmp_path / "raw")
    (drive.drive / "image_03" / "data" / "0000000002.png").write_bytes(b"not a png")
    assert "cannot read image" in run_error([drive.drive, tmp_path / "out"], capsys)
    assert not (tmp_path / "out").exists()


def test_command_line_exit_code_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "psmnet_ros.cli.kitti2bag", str(tmp_path), str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "is not a KITTI raw drive" in result.stderr


def test_writer_is_general(tmp_path):
    """Other callers (the Middlebury demo) pass their own topics, frames and calibration."""
    calibration = StereoCalibration(P_left=[[100, 0, 5, 0], [0, 100, 4, 0], [0, 0, 1, 0]],
                              P_right=[[100, 0, 7, -20], [0, 100, 4, 0], [0, 0, 1, 0]],
                              R_left=np.eye(3), R_right=np.eye(3), size=(10, 8))
    image = np.zeros((8, 10, 3), np.uint8)
    frames = [(5, image, image), (7, image, image + 1)]
    n = write_stereo_bag(tmp_path / "m", frames, calibration, left_topic_ns="/stereo/left",
                         right_topic_ns="/stereo/right",
                         left_frame="l_opt", right_frame="r_opt", body_frame="rig", progress=False)
    assert n == 2
    bag = read_bag(tmp_path / "m")
    assert [stamp_of(m) for _, m, _ in bag["/stereo/right/image_rect"]] == [(0, 5), (0, 7)]
    pair = bag["/tf_static"][0][1].transforms[1]
    assert pair.transform.translation.x == pytest.approx(0.2)                  # (0 + 20) / 100 m
    assert bag["/tf_static"][0][1].transforms[0].header.frame_id == "rig"
    with pytest.raises(InputError, match="frame 0: left image must be HxWx3 uint8 for rgb8"):
        write_stereo_bag(tmp_path / "x", [(0, image.astype(np.float32), image)], calibration, progress=False)
    with pytest.raises(InputError, match="no frames to write"):
        write_stereo_bag(tmp_path / "x", [], calibration, progress=False)
    with pytest.raises(InputError, match="no calibration given"):
        write_stereo_bag(tmp_path / "x", [(0, image, image)], None, progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("codec, cameras", [("png", "color"), ("png", "gray"), ("jpeg", "color")])
def test_compressed_bag_holds_image_transport_compressed_topics(tmp_path, capsys, codec, cameras):
    """--compress: sensor_msgs/CompressedImage on <ns>/image_rect/compressed (real rclpy deserializes it);
    PNG bytes decode (with PIL, not our decoder) to the source pixels, JPEG to within a few grey levels."""
    import io

    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage

    drive = make_raw_drive(tmp_path / "raw", n_frames=2, size=(48, 32))
    out = tmp_path / "bag"
    assert main([str(drive.drive), str(out), "--compress", codec, "--cameras", cameras, "--no-progress"]) == 0
    assert "image_rect/compressed" in capsys.readouterr().out
    bag = read_bag(out)
    ns = f"/kitti/camera_{cameras}"
    assert sorted(t for t in bag if t != "_qos") == sorted(
        ["/tf_static", f"{ns}_left/camera_info", f"{ns}_right/camera_info",
         f"{ns}_left/image_rect/compressed", f"{ns}_right/image_rect/compressed"])
    cam = {"color": ("02", "03"), "gray": ("00", "01")}[cameras]
    stored = {"color": "rgb8; {} compressed bgr8", "gray": "mono8; {} compressed mono8"}[cameras]
    for side, camera in zip(("left", "right"), cam):
        messages = bag[f"{ns}_{side}/image_rect/compressed"]
        assert [stamp_of(m) for _, m, _ in messages] == RAW_STAMPS[:2]
        for k, (_, _, raw) in enumerate(messages):
            msg = deserialize_message(raw, CompressedImage)
            assert msg.format == stored.format(codec)
            assert msg.header.frame_id == f"camera_{cameras}_{side}"
            pixels = np.array(Image.open(io.BytesIO(bytes(msg.data))))
            source = drive.images[camera][k]
            if codec == "png":
                np.testing.assert_array_equal(pixels, source)
            else:   # random pixels: JPEG halves the chroma resolution, so compare luma (BT.601), kept in full
                luma = np.array([0.299, 0.587, 0.114])
                assert np.abs(pixels @ luma - source @ luma).mean() < 4
                assert np.abs(pixels @ luma - source[..., ::-1] @ luma).mean() > 8   # not channel-swapped


def test_compressed_jpeg_is_smaller_than_raw(tmp_path):
    drive = make_raw_drive(tmp_path / "raw", n_frames=1, size=(64, 48))
    sizes = {}
    for codec in (None, "jpeg"):
        out = tmp_path / f"bag_{codec}"
        main([str(drive.drive), str(out), "--no-progress"] + ([] if codec is None else ["--compress", codec]))
        sizes[codec] = sum(len(raw) for topic, items in read_bag(out).items() if topic.endswith(("image_rect", "compressed"))
                           for _, _, raw in items)
    assert sizes["jpeg"] < sizes[None] / 2


def test_unknown_compression_is_one_readable_error(tmp_path):
    with pytest.raises(InputError, match="unknown image compression 'gif'"):
        write_stereo_bag(tmp_path / "bag", [], None, compress="gif")
