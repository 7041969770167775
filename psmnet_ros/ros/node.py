"""psmnet_node: PSMNet disparity, depth and an organized point cloud from a rectified stereo pair.

Topics follow stereo_image_proc: subscribes left/image_rect, left/camera_info,
right/image_rect, right/camera_info (by default only while one of its outputs has a subscriber);
publishes the outputs of :mod:`psmnet_ros.ros.outputs` (disparity, depth, points2,
disparity/image_color, confidence, frame_stats), each with the left image's header, and /diagnostics.
What it does is :class:`~psmnet_ros.ros.pipeline.StereoPipeline`, configured and activated at start-up;
psmnet_lifecycle_node (:mod:`.lifecycle_node`) drives the same object through lifecycle transitions.
"""
from __future__ import annotations

import os
import sys

from psmnet_ros.ros import stop_signals

if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "psmnet_node":
    # Run as the node program: stop signals are handled before the slow imports below (torch
    # takes seconds), so the imports come after this statement.
    stop_signals.install(stop_signals.Phase.IMPORTING)

from typing import Callable, NoReturn

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from psmnet_ros.core.errors import PSMNetError
from psmnet_ros.ros.node_logging import log_python_warnings
from psmnet_ros.ros.parameters import declare_parameters
from psmnet_ros.ros.pipeline import StereoPipeline

NODE_NAME = "psmnet_node"
SPIN_PERIOD_S = 0.1
"""The main loop's longest wait for ROS events: how soon it notices a stop signal (seconds)."""


class PSMNetNode(Node):
    """The ROS 2 node; see the module docstring and README for topics and parameters."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self.pipeline = StereoPipeline(self)
        log_python_warnings(self.get_logger())
        try:
            settings = declare_parameters(self)
            with stop_signals.interruptible():
                self.pipeline.configure(settings)
            self.pipeline.activate()
        except BaseException:
            self.destroy_node()
            raise

    def destroy_node(self):
        """Stop the worker (see :meth:`StereoPipeline.deactivate`), then the node."""
        self.pipeline.deactivate()
        return super().destroy_node()


def main(args=None) -> NoReturn:
    """Run psmnet_node until SIGINT / SIGTERM (see :func:`run`)."""
    run(PSMNetNode, NODE_NAME, args)


def run(make_node: Callable[[], Node], name: str, args=None, finished: Callable[[Node], bool] = lambda node: False
        ) -> NoReturn:
    """Run the node ``make_node()`` until SIGINT / SIGTERM or until ``finished(node)``, then end the process with
    status 0 within about a second; with status 1 when the node cannot start.

    The signals are handled by :mod:`psmnet_ros.ros.stop_signals`, not by rclpy: the main loop
    notices a stop within SPIN_PERIOD_S, then stops the worker, destroys the node and shuts rclpy
    down, in that order, from this thread; the process then ends at once. A forward pass the
    worker is in (it cannot be interrupted) ends with it.
    """
    stop_signals.install(stop_signals.Phase.STARTING)
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except _rclpy.RCLError as exc:  # e.g. a malformed --ros-args rule; rcl has logged the details
        print(f"{name}: cannot start: {str(exc).splitlines()[0]}", file=sys.stderr)
        stop_signals.exit_now(1)
    node = executor = None
    status = 0
    try:
        if not stop_signals.requested.is_set():  # else a signal came during rclpy.init
            node = make_node()
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            stop_signals.set_phase(stop_signals.Phase.RUNNING)
            while not stop_signals.requested.is_set() and not finished(node):
                executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except (stop_signals.StopRequested, ExternalShutdownException):
        pass
    except PSMNetError as exc:
        rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}")
        status = 1
    finally:
        stop_signals.set_phase(stop_signals.Phase.STOPPING)
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    # Not the interpreter's clean-up: it would tear torch down under a forward pass the worker may still be
    # in, and it restores the default signal actions, so that a second signal meanwhile (ros2 launch's
    # SIGTERM) would end the process with status -15.
    stop_signals.exit_now(status)


if __name__ == "__main__":
    sys.exit(main())
