"""config/psmnet.yaml holds every node parameter with the code's default, and nothing else."""
import dataclasses
from pathlib import Path

import yaml

from psmnet_ros.ros.parameters import NodeSettings, params_yaml

REPO = Path(__file__).resolve().parents[1]


def test_params_file_defaults_equal_the_code_defaults():
    params = yaml.safe_load((REPO / "config" / "psmnet.yaml").read_text())["/**/psmnet_node"]["ros__parameters"]
    defaults = {f.name: f.default for f in dataclasses.fields(NodeSettings)}
    assert params == defaults
    assert all(type(params[name]) is type(value) for name, value in defaults.items()), \
        "ROS parameters are typed: 1 and 1.0 differ"


def test_params_file_is_the_table_with_its_comments():
    """Values, order and comments of config/psmnet.yaml come from the parameter table (psmnet_ros/ros/parameters.py):
    a parameter added there without its line here, or a comment edited only here, fails."""
    assert (REPO / "config" / "psmnet.yaml").read_text() == params_yaml()
