"""Start-up validation of the node's parameters (psmnet_ros/ros/parameters.py), without a node."""
import dataclasses

import pytest

from psmnet_ros.ros.parameters import NodeSettings, ParameterError, validate

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
