"""Start-up validation of the node's parameters (psmnet_ros/ros/parameters.py), without a node."""
import dataclasses

import pytest

from psmnet_ros.ros.parameters import DEPRECATED, NodeSettings, ParameterError, validate

CPU = NodeSettings(device="cpu")


@pytest.mark.parametrize("batch_size,frame_queue_size", [(1, 0), (1, 1), (4, 0), (4, 4), (4, 1000)])
def test_a_frame_queue_of_zero_or_at_least_a_batch_is_accepted(batch_size, frame_queue_size):
    settings = dataclasses.replace(CPU, batch_size=batch_size, frame_queue_size=frame_queue_size)
    validate(settings)
    # 0 means one batch; the queue always holds a whole batch.
    assert settings.frame_queue_capacity == (frame_queue_size if frame_queue_size else batch_size) >= batch_size


@pytest.mark.parametrize("batch_size,frame_queue_size", [(4, 3), (1, -1), (1, 1001)])
def test_a_frame_queue_that_cannot_hold_a_batch_is_refused_naming_both(batch_size, frame_queue_size):
    settings = dataclasses.replace(CPU, batch_size=batch_size, frame_queue_size=frame_queue_size)
    with pytest.raises(ParameterError) as error:
        validate(settings)
    assert str(error.value) == (f"parameter 'frame_queue_size' = {frame_queue_size}: must be 0 (= batch_size) "
                                f"or from batch_size ({batch_size}) to 1000")


@pytest.mark.parametrize("name, value, reason", [
    ("batch_size", 0, "must be from 1 to 64"),
    ("batch_size", 65, "must be from 1 to 64"),
    ("queue_size", 0, "must be from 1 to 1000"),
    ("max_batch_delay_ms", float("nan"), "must be from 0 to 10000"),
    ("approximate_sync_tolerance_seconds", float("inf"), "must be from 0 to 60"),
    ("diagnostics_period", 0.0, "must be from 0.05 to 3600"),
    ("maxdisp", 24, "multiple of 16 for the stackhourglass variant"),
    ("device", "cuda:x", "must be cpu, cuda or cuda:N"),
])
def test_values_outside_the_table_or_a_core_rule_are_refused_naming_the_parameter(name, value, reason):
    """The ranges ROS enforces from the descriptors hold without ROS too (run-time changes, tools, tests)."""
    with pytest.raises(ParameterError) as error:
        validate(dataclasses.replace(CPU, **{name: value}))
    assert str(error.value).startswith(f"parameter '{name}' = {value!r}: ") and reason in str(error.value)


def test_the_deprecated_name_points_at_a_parameter_of_the_table():
    assert DEPRECATED == {"checkpoint": "weights"} and "weights" in NodeSettings.__dataclass_fields__
    assert "checkpoint" not in NodeSettings.__dataclass_fields__
