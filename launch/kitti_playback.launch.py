"""Play a KITTI raw bag (kitti2bag topic names, converted to ROS 2) through psmnet_node and RViz.

    ros2 launch psmnet_ros kitti_playback.launch.py bag:=/data/kitti_2011_09_26_drive_0005 \
        checkpoint:=/data/pretrained_model_KITTI2015.tar

Inputs: /kitti/camera_color_{left,right}/{image_rect,camera_info} (psmnet-kitti2bag's colour bags).
Outputs: /kitti/stereo/disparity, /kitti/stereo/depth, /kitti/stereo/points2,
/kitti/stereo/disparity/image_color (frame camera_color_left).

Bags written by psmnet-kitti2bag carry /tf_static: base_link (x forward, y left, z up, on
the road) to the left optical frame (x right, y down, z forward) 1.65 m up, KITTI's camera
height. For bags without it, static_tf:=true publishes the same transform here.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

def _as_bool(name: str, text: str) -> bool:
    """A launch argument's text as a bool (true/false, 1/0, yes/no, on/off)."""
    value = text.strip().lower()
    if value not in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        raise ValueError(f"launch argument {name} must be true or false, got '{text}'")
    return value in ("true", "1", "yes", "on")


def _bag_play(context):
    """`ros2 bag play BAG --clock --rate R [--loop]`, started when play is true."""
    cmd = ["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock", "--rate", LaunchConfiguration("rate")]
    if _as_bool("loop", LaunchConfiguration("loop").perform(context)):
        cmd.append("--loop")
    return [ExecuteProcess(cmd=cmd, output="screen", condition=IfCondition(LaunchConfiguration("play")))]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="ROS 2 bag folder of a KITTI raw drive (required)"),
        DeclareLaunchArgument("rate", default_value="0.5", description="bag playback rate"),
        DeclareLaunchArgument("loop", default_value="false", description="replay the bag in a loop"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz with config/kitti.rviz"),
        DeclareLaunchArgument("play", default_value="true",
                              description="start `ros2 bag play` (false: play the bag yourself, e.g. psmnet-play)"),
        DeclareLaunchArgument("static_tf", default_value="false",
                              description="publish base_link -> camera_color_left here (true for bags without "
                                          "/tf_static; psmnet-kitti2bag bags have it)"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([FindPackageShare("psmnet_ros"), "config", "psmnet.yaml"]),
                              description="YAML file with the psmnet_node parameters"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="weights: a name (kitti2015, random = untrained) or a checkpoint file "
                                          "(.tar/.pth); empty = the params file's 'checkpoint' (shipped: kitti2015)"),
        OpaqueFunction(function=_bag_play),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("psmnet_ros"), "launch", "stereo.launch.py"])),
            launch_arguments={
                "params_file": LaunchConfiguration("params_file"),
                "checkpoint": LaunchConfiguration("checkpoint"),
                "namespace": "/kitti/stereo",
                "left_namespace": "/kitti/camera_color_left",
                "right_namespace": "/kitti/camera_color_right",
                "use_sim_time": "true",
            }.items()),
        Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name="base_link_to_camera_color_left",
            arguments=["--x", "0", "--y", "0", "--z", "1.65",
                       "--qx", "-0.5", "--qy", "0.5", "--qz", "-0.5", "--qw", "0.5",
                       "--frame-id", "base_link", "--child-frame-id", "camera_color_left"],
            parameters=[{"use_sim_time": True}],
            condition=IfCondition(LaunchConfiguration("static_tf")),
            output="screen"),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", PathJoinSubstitution([FindPackageShare("psmnet_ros"), "config", "kitti.rviz"])],
            parameters=[{"use_sim_time": True}],
            condition=IfCondition(LaunchConfiguration("rviz")),
            output="screen"),
    ])
