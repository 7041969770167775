"""Tools outside the ROS-free core that may use rosbags: bag writing, KITTI conversion."""
