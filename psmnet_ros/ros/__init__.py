"""rclpy glue: message conversions, the stereo synchronizer, the bag player and the node."""
