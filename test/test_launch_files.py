"""Launch files and the RViz config, checked without running them (test_ros2_launch.py runs them): syntax,
declared vs used arguments, defaults, remappings, the player's command, the static transform's rotation,
and the RViz displays against the topics the launch files produce."""
import ast
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STEREO = REPO / "launch" / "stereo.launch.py"
KITTI = REPO / "launch" / "kitti_playback.launch.py"
RVIZ = REPO / "config" / "kitti.rviz"
PARAMS_DEFAULT = "PathJoinSubstitution([FindPackageShare('psmnet_ros'), 'config', 'psmnet.yaml'])"
NODE_OUTPUTS = ("disparity", "depth", "points2", "disparity/image_color", "confidence")  # psmnet_node, relative


def tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def calls(module, name):
    """Every call of ``name(...)`` in the module."""
    return [n for n in ast.walk(module) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == name]


def keyword(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


def declared(module):
    """{argument name: (default source or None, description)} of every DeclareLaunchArgument."""
    result = {}
    for call in calls(module, "DeclareLaunchArgument"):
        name = ast.literal_eval(call.args[0])
        default = keyword(call, "default_value")
        result[name] = (None if default is None else
                        default.value if isinstance(default, ast.Constant) else ast.unparse(default),
                        ast.literal_eval(keyword(call, "description")))
    return result


def used(module):
    """Arguments read by name: LaunchConfiguration('x') and the KITTI file's flag('x')."""
    return {ast.literal_eval(c.args[0]) for name in ("LaunchConfiguration", "flag") for c in calls(module, name)
            if isinstance(c.args[0], ast.Constant)}


def function(module, name):
    """A top-level helper function of a launch file, compiled with the file's constants only."""
    definition = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == name)
    constants = [n for n in module.body if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Constant, ast.Tuple))]
    namespace = {}
    exec(compile(ast.Module(body=[*constants, definition], type_ignores=[]), "<launch>", "exec"), namespace)
    return namespace[name]


def node_call(module, executable):
    """The Node(...) call whose executable is ``executable`` or an expression naming it."""
    return next(c for c in calls(module, "Node") if f"'{executable}'" in ast.unparse(keyword(c, "executable")))


@pytest.mark.parametrize("path", [STEREO, KITTI])
def test_launch_file_compiles_and_defines_generate_launch_description(path):
    compile(path.read_text(), str(path), "exec")
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree(path).body)


@pytest.mark.parametrize("path", [STEREO, KITTI])
def test_every_argument_used_is_declared_and_every_declared_is_used(path):
    module = tree(path)
    args = declared(module)
    assert used(module) == set(args)
    assert all(description for _, description in args.values())


def test_stereo_launch_defaults():
    assert declared(tree(STEREO)).keys() == {"params_file", "checkpoint", "image_transport", "lifecycle", "namespace",
                                              "left_namespace", "right_namespace", "use_sim_time", "log_level"}
    defaults = {name: default for name, (default, _) in declared(tree(STEREO)).items()}
    assert defaults == {"params_file": PARAMS_DEFAULT, "checkpoint": "", "image_transport": "", "lifecycle": "false",
                        "namespace": "", "left_namespace": "left", "right_namespace": "right",
                        "use_sim_time": "false", "log_level": "info"}


def test_kitti_launch_defaults_and_required_bag():
    defaults = {name: default for name, (default, _) in declared(tree(KITTI)).items()}
    assert defaults == {"bag": None, "rate": "0.5", "loop": "false", "rviz": "true", "play": "true",
                        "player": "auto", "static_tf": "false", "params_file": PARAMS_DEFAULT, "checkpoint": "",
                        "image_transport": ""}


def test_stereo_node_and_remappings():
    module = tree(STEREO)
    node = node_call(module, "psmnet_node")
    assert ast.unparse(keyword(node, "executable")) == \
        "'psmnet_lifecycle_node' if lifecycle == 'true' else 'psmnet_node'"
    assert ast.literal_eval(keyword(node, "package")) == "psmnet_ros"
    assert ast.literal_eval(keyword(node, "name")) == "psmnet_node"
    assert ast.literal_eval(keyword(node, "output")) == "screen"
    assert ast.unparse(keyword(node, "namespace")) == "LaunchConfiguration('namespace')"
    assert ast.unparse(keyword(node, "arguments")) == \
        "['--ros-args', '--log-level', LaunchConfiguration('log_level')]"
    remaps = [(ast.literal_eval(pair.elts[0]), ast.unparse(pair.elts[1]))
              for pair in keyword(node, "remappings").elts]
    assert remaps == [("left/image_rect", "_under(left, 'image_rect')"),
                      ("left/camera_info", "_under(left, 'camera_info')"),
                      ("right/image_rect", "_under(right, 'image_rect')"),
                      ("right/camera_info", "_under(right, 'camera_info')")]
    under = function(module, "_under")
    assert under("left", "image_rect") == "left/image_rect"
    assert under("/kitti/camera_color_left/", "camera_info") == "/kitti/camera_color_left/camera_info"
    assert under("", "image_rect") == "image_rect"
    assert under("/", "image_rect") == "/image_rect"


def test_stereo_passes_checkpoint_only_when_set():
    source = ast.unparse(next(n for n in tree(STEREO).body
                              if isinstance(n, ast.FunctionDef) and n.name == "_psmnet_node"))
    assert "if checkpoint:\n        parameters.append({'weights': checkpoint})" in source
    assert "if image_transport:\n        parameters.append({'image_transport': image_transport})" in source
    assert "parameters = [LaunchConfiguration('params_file'), {'use_sim_time': use_sim_time}]" in source


def include_arguments(module):
    include = calls(module, "IncludeLaunchDescription")[0]
    mapping = keyword(include, "launch_arguments").func.value  # {...}.items()
    return {ast.literal_eval(k): (v.value if isinstance(v, ast.Constant) else ast.unparse(v))
            for k, v in zip(mapping.keys, mapping.values)}


def test_kitti_includes_stereo_with_kitti_topics():
    module = tree(KITTI)
    include = calls(module, "IncludeLaunchDescription")[0]
    assert "'launch', 'stereo.launch.py'" in ast.unparse(include.args[0])
    arguments = include_arguments(module)
    assert set(arguments) <= set(declared(tree(STEREO)))
    assert arguments == {"params_file": "LaunchConfiguration('params_file')",
                         "checkpoint": "LaunchConfiguration('checkpoint')",
                         "image_transport": "LaunchConfiguration('image_transport')",
                         "namespace": "/kitti/stereo",
                         "left_namespace": "/kitti/camera_color_left",
                         "right_namespace": "/kitti/camera_color_right",
                         "use_sim_time": "true"}


def test_kitti_player_command():
    """ros2 bag play where rosbag2 is installed (player auto or ros2); errors for an unknown player and for
    ros2 without rosbag2 (psmnet-play, the other branch, runs in test_ros2_launch.py)."""
    module = tree(KITTI)
    command = function(module, "_player_command")
    ros2 = ["ros2", "bag", "play", "B", "--clock", "--rate", "0.5"]
    assert command("auto", "B", "0.5", False, True) == ros2
    assert command("ros2", "B", "0.5", True, True) == ros2 + ["--loop"]
    with pytest.raises(ValueError, match="player must be one of auto, ros2, psmnet, got 'bag'"):
        command("bag", "B", "0.5", False, True)
    with pytest.raises(ValueError, match="rosbag2 .* is not installed"):
        command("ros2", "B", "0.5", False, False)
    as_bool = function(module, "_as_bool")
    assert as_bool("loop", "True") and not as_bool("loop", "false")
    with pytest.raises(ValueError, match="loop must be true or false"):
        as_bool("loop", "maybe")


def quaternion_matrix(x, y, z, w):
    """Rotation matrix of a unit quaternion (Hamilton convention, as tf2 uses)."""
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def test_static_transform_maps_optical_frame_onto_base_link():
    node = node_call(tree(KITTI), "static_transform_publisher")
    assert ast.literal_eval(keyword(node, "package")) == "tf2_ros"
    arguments = ast.literal_eval(keyword(node, "arguments"))
    options = dict(zip(arguments[::2], arguments[1::2]))
    assert set(options) == {"--x", "--y", "--z", "--qx", "--qy", "--qz", "--qw",
                            "--frame-id", "--child-frame-id"}
    assert (options["--frame-id"], options["--child-frame-id"]) == ("base_link", "camera_color_left")
    q = [float(options[k]) for k in ("--qx", "--qy", "--qz", "--qw")]
    assert math.isclose(sum(v * v for v in q), 1.0)
    rotation = quaternion_matrix(*q)  # child (optical) vectors -> parent (base_link) vectors
    np.testing.assert_allclose(rotation @ [0, 0, 1], [1, 0, 0], atol=1e-12)  # forward -> x
    np.testing.assert_allclose(rotation @ [1, 0, 0], [0, -1, 0], atol=1e-12)  # right -> -y
    np.testing.assert_allclose(rotation @ [0, 1, 0], [0, 0, -1], atol=1e-12)  # down -> -z
    # roll -90 deg then yaw -90 deg (fixed axes: R = Rz(yaw) Rx(roll)) is the same rotation
    c, s = math.cos(-math.pi / 2), math.sin(-math.pi / 2)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    np.testing.assert_allclose(rotation, rz @ rx, atol=1e-12)


def test_rviz_node_uses_the_packaged_config():
    node = node_call(tree(KITTI), "rviz2")
    assert ast.unparse(keyword(node, "arguments")) == \
        "['-d', PathJoinSubstitution([FindPackageShare('psmnet_ros'), 'config', 'kitti.rviz'])]"
    assert RVIZ.is_file()


def rviz_displays():
    config = yaml.safe_load(RVIZ.read_text())
    return config, {d["Class"]: d for d in config["Visualization Manager"]["Displays"]
                    if d["Class"] != "rviz_default_plugins/Image"}, [
        d for d in config["Visualization Manager"]["Displays"] if d["Class"] == "rviz_default_plugins/Image"]


def test_rviz_config_shows_what_the_kitti_launch_produces():
    config, displays, images = rviz_displays()
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "base_link"
    arguments = include_arguments(tree(KITTI))
    outputs = {name: f"{arguments['namespace']}/{name}" for name in NODE_OUTPUTS}
    cloud = displays["rviz_default_plugins/PointCloud2"]
    assert cloud["Topic"]["Value"] == outputs["points2"]
    assert cloud["Color Transformer"] == "RGB8" and cloud["Position Transformer"] == "XYZ"
    assert {d["Topic"]["Value"] for d in images} == {
        f"{arguments['left_namespace']}/image_rect", outputs["disparity/image_color"], outputs["confidence"]}
    confidence = next(d for d in images if d["Topic"]["Value"] == outputs["confidence"])
    assert (confidence["Normalize Range"], confidence["Min Value"], confidence["Max Value"]) == (False, 0, 1)
    assert "rviz_default_plugins/TF" in displays
    for display in [cloud, *images]:
        assert display["Enabled"] is True
        assert display["Topic"]["Reliability Policy"] in ("Reliable", "Best Effort")


def test_rviz_orbit_view_looks_forward_from_behind():
    config, _, _ = rviz_displays()
    view = config["Visualization Manager"]["Views"]["Current"]
    assert view["Class"] == "rviz_default_plugins/Orbit"
    yaw, pitch, distance = view["Yaw"], view["Pitch"], view["Distance"]
    focal = np.array([view["Focal Point"][k] for k in ("X", "Y", "Z")], dtype=float)
    # rviz OrbitViewController: eye = focal + distance * (cos yaw cos pitch, sin yaw cos pitch, sin pitch)
    eye = focal + distance * np.array([math.cos(yaw) * math.cos(pitch),
                                       math.sin(yaw) * math.cos(pitch), math.sin(pitch)])
    direction = (focal - eye) / np.linalg.norm(focal - eye)
    assert direction[0] > 0.9  # looking along base_link +x (forward)
    assert direction[2] < 0  # slightly down, from above the car
    assert eye[0] < 0 < focal[0]


def test_generate_launch_description_with_real_launch(monkeypatch):
    """The real launch package builds both descriptions; their arguments are the declared ones, the KITTI
    file's plus those of stereo.launch.py, which it includes."""
    from launch_helpers import launch_env, require_launch_stack
    require_launch_stack()
    monkeypatch.setenv("AMENT_PREFIX_PATH", launch_env(0)["AMENT_PREFIX_PATH"])
    for path, expected in ((STEREO, set(declared(tree(STEREO)))),
                           (KITTI, set(declared(tree(KITTI))) | set(declared(tree(STEREO))))):
        spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        description = module.generate_launch_description()
        assert {a.name for a in description.get_launch_arguments()} == expected
