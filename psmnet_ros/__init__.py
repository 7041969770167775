"""PSMNet stereo depth for ROS 2.

The network is the Pyramid Stereo Matching Network of Jia-Ren Chang and
Yong-Sheng Chen (CVPR 2018). ``psmnet_ros.core`` runs without ROS;
``psmnet_ros.ros`` is the rclpy node around it.
"""

__version__ = "0.1.0"
