"""Start psmnet_node on a rectified stereo pair.

The node subscribes to left/image_rect, left/camera_info, right/image_rect and
right/camera_info, remapped here onto <left_namespace>/... and
<right_namespace>/..., and publishes disparity, depth, points2 and
disparity/image_color in <namespace>.

    ros2 launch psmnet_ros stereo.launch.py checkpoint:=/path/pretrained_sceneflow.tar \
        left_namespace:=/camera/left right_namespace:=/camera/right

lifecycle:=true starts psmnet_lifecycle_node instead (same parameters and topics, unconfigured until
``ros2 lifecycle set /psmnet_node configure`` and ``activate``); image_transport:=compressed takes
<camera>/image_rect/compressed.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def _under(namespace: str, name: str) -> str:
    """``namespace/name``; just ``name`` (relative to the node's namespace) when namespace is empty."""
    return f"{namespace.rstrip('/')}/{name}" if namespace else name


def _psmnet_node(context):
    """The node, built once the arguments are known (checkpoint is passed only when set)."""
    left = LaunchConfiguration("left_namespace").perform(context)
    right = LaunchConfiguration("right_namespace").perform(context)
    checkpoint = LaunchConfiguration("checkpoint").perform(context)
    image_transport = LaunchConfiguration("image_transport").perform(context)
    lifecycle = LaunchConfiguration("lifecycle").perform(context).lower()
    if lifecycle not in ("true", "false"):
        raise ValueError(f"lifecycle:={lifecycle}: must be true or false")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    parameters = [LaunchConfiguration("params_file"), {"use_sim_time": use_sim_time}]
    if checkpoint:
        parameters.append({"weights": checkpoint})
    if image_transport:
        parameters.append({"image_transport": image_transport})
    return [Node(
        package="psmnet_ros",
        executable="psmnet_lifecycle_node" if lifecycle == "true" else "psmnet_node",
        name="psmnet_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=parameters,
        remappings=[
            ("left/image_rect", _under(left, "image_rect")),
            ("left/camera_info", _under(left, "camera_info")),
            ("right/image_rect", _under(right, "image_rect")),
            ("right/camera_info", _under(right, "camera_info")),
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
    )]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("psmnet_ros"), "config", "psmnet.yaml"]),
            description="YAML file with the psmnet_node parameters (top key /**/psmnet_node: ros__parameters:)"),
        DeclareLaunchArgument(
            "checkpoint", default_value="",
            description="weights: a name (kitti2015, random = untrained) or a checkpoint file (.tar/.pth); "
                        "empty = the params file's 'weights' (shipped: empty = kitti2015)"),
        DeclareLaunchArgument(
            "image_transport", default_value="",
            description="input images: raw or compressed (<camera>/image_rect/compressed); empty = the params "
                        "file's (shipped: raw)"),
        DeclareLaunchArgument(
            "lifecycle", default_value="false",
            description="true: psmnet_lifecycle_node, a managed node driven through the lifecycle services"),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="namespace of the node and of its outputs (disparity, depth, points2, ...)"),
        DeclareLaunchArgument(
            "left_namespace", default_value="left",
            description="namespace of the left camera's image_rect and camera_info"),
        DeclareLaunchArgument(
            "right_namespace", default_value="right",
            description="namespace of the right camera's image_rect and camera_info"),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false",
            description="use /clock (true when playing a bag with --clock)"),
        DeclareLaunchArgument(
            "log_level", default_value="info",
            description="node log level: debug, info, warn, error or fatal"),
        OpaqueFunction(function=_psmnet_node),
    ])
