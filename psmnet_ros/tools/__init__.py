"""Tools outside the ROS-free core: bag writing and types (rosbags), KITTI conversion, the message build."""
