"""Play a KITTI raw bag (kitti2bag topic names, converted to ROS 2) through psmnet_node and RViz.

    ros2 launch psmnet_ros kitti_playback.launch.py bag:=/data/kitti_2011_09_26_drive_0005 \
        checkpoint:=/data/pretrained_model_KITTI2015.tar

Inputs: /kitti/camera_color_{left,right}/{image_rect,camera_info} (psmnet-kitti2bag's colour bags).
Outputs: /kitti/stereo/disparity, /kitti/stereo/depth, /kitti/stereo/points2,
/kitti/stereo/disparity/image_color (frame camera_color_left).

Bags written by psmnet-kitti2bag carry /tf_static: base_link (x forward, y left, z up, on
the road) to the left optical frame (x right, y down, z forward) 1.65 m up, KITTI's camera
height. For bags without it, static_tf:=true publishes the same transform here.

What is not installed degrades, decided before anything starts: without rviz2 it runs without RViz
(one log line says so); player:=auto plays with `ros2 bag play` where rosbag2 is installed, else with
psmnet-play; a player or static_tf:=true whose package is missing is one error, and nothing starts.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, LogInfo, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PLAYERS = ("auto", "ros2", "psmnet")


def _as_bool(name: str, text: str) -> bool:
    """A launch argument's text as a bool (true/false, 1/0, yes/no, on/off)."""
    value = text.strip().lower()
    if value not in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        raise ValueError(f"launch argument {name} must be true or false, got '{text}'")
    return value in ("true", "1", "yes", "on")


def _installed(package: str) -> bool:
    """Whether the ament index knows ``package`` (AMENT_PREFIX_PATH)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def _player_command(player: str, bag: str, rate: str, loop: bool, ros2_bag: bool) -> list[str]:
    """The bag player's command line: `ros2 bag play` (player ros2, or auto with rosbag2 installed) or
    psmnet-play (psmnet, or auto without rosbag2), both with --clock. ValueError for an unknown player
    or ros2 without rosbag2."""
    if player not in PLAYERS:
        raise ValueError(f"launch argument player must be one of {', '.join(PLAYERS)}, got '{player}'")
    if player == "ros2" and not ros2_bag:
        raise ValueError("player:=ros2 but rosbag2 (ros2bag) is not installed: use player:=psmnet or auto")
    if player == "ros2" or (player == "auto" and ros2_bag):
        command = ["ros2", "bag", "play", bag, "--clock", "--rate", rate]
    else:
        from ament_index_python.packages import get_package_prefix
        # Starts once the node (a subscriber on every bag topic and /clock) is there, within 60 s.
        command = [f"{get_package_prefix('psmnet_ros')}/lib/psmnet_ros/psmnet-play", bag, "--clock",
                   "--rate", rate, "--wait-for-subscribers", "1", "--start-delay", "60"]
    return command + ["--loop"] if loop else command


def _optional_parts(context):
    """The player, the static transform and RViz, as far as they are installed and asked for (module
    docstring); runs before anything starts, so that an error leaves nothing running."""
    def flag(name):
        return _as_bool(name, LaunchConfiguration(name).perform(context))

    actions = []
    if flag("static_tf") and not _installed("tf2_ros"):
        raise ValueError("static_tf:=true but tf2_ros is not installed: install it (ROS 2) or play a bag "
                         "that carries /tf_static (psmnet-kitti2bag's bags do)")
    if flag("play"):
        command = _player_command(LaunchConfiguration("player").perform(context),
                                  LaunchConfiguration("bag").perform(context),
                                  LaunchConfiguration("rate").perform(context), flag("loop"), _installed("ros2bag"))
        actions.append(ExecuteProcess(cmd=command, output="screen", name="bag_player"))
    if flag("static_tf"):
        actions.append(Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name="base_link_to_camera_color_left",
            arguments=["--x", "0", "--y", "0", "--z", "1.65",
                       "--qx", "-0.5", "--qy", "0.5", "--qz", "-0.5", "--qw", "0.5",
                       "--frame-id", "base_link", "--child-frame-id", "camera_color_left"],
            parameters=[{"use_sim_time": True}],
            output="screen"))
    if flag("rviz") and not _installed("rviz2"):
        actions.append(LogInfo(msg="rviz2 is not installed: running without RViz (rviz:=false hides this line)"))
    elif flag("rviz"):
        actions.append(Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", PathJoinSubstitution([FindPackageShare("psmnet_ros"), "config", "kitti.rviz"])],
            parameters=[{"use_sim_time": True}],
            output="screen"))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="ROS 2 bag folder of a KITTI raw drive (required)"),
        DeclareLaunchArgument("rate", default_value="0.5", description="bag playback rate"),
        DeclareLaunchArgument("loop", default_value="false", description="replay the bag in a loop"),
        DeclareLaunchArgument("rviz", default_value="true",
                              description="start RViz with config/kitti.rviz (where rviz2 is installed)"),
        DeclareLaunchArgument("play", default_value="true",
                              description="play the bag here (false: play it yourself)"),
        DeclareLaunchArgument("player", default_value="auto",
                              description="auto: `ros2 bag play` where rosbag2 is installed, else psmnet-play; "
                                          "ros2; psmnet"),
        DeclareLaunchArgument("static_tf", default_value="false",
                              description="publish base_link -> camera_color_left here (true for bags without "
                                          "/tf_static; psmnet-kitti2bag bags have it)"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([FindPackageShare("psmnet_ros"), "config", "psmnet.yaml"]),
                              description="YAML file with the psmnet_node parameters"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="weights: a name (kitti2015, random = untrained) or a checkpoint file "
                                          "(.tar/.pth); empty = the params file's 'weights' (shipped: kitti2015)"),
        DeclareLaunchArgument("image_transport", default_value="",
                              description="raw or compressed: compressed for bags of psmnet-kitti2bag --compress; "
                                          "empty = the params file's (shipped: raw)"),
        OpaqueFunction(function=_optional_parts),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("psmnet_ros"), "launch", "stereo.launch.py"])),
            launch_arguments={
                "params_file": LaunchConfiguration("params_file"),
                "checkpoint": LaunchConfiguration("checkpoint"),
                "image_transport": LaunchConfiguration("image_transport"),
                "namespace": "/kitti/stereo",
                "left_namespace": "/kitti/camera_color_left",
                "right_namespace": "/kitti/camera_color_right",
                "use_sim_time": "true",
            }.items()),
    ])
