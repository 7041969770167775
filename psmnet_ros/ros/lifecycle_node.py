"""psmnet_lifecycle_node: psmnet_node as a managed (lifecycle) node, for systems that bring perception up and down.

Same parameters, topics and behaviour as psmnet_node (the same :class:`~psmnet_ros.ros.pipeline.StereoPipeline`),
one step per transition, driven through the standard lifecycle services (``ros2 lifecycle set``,
``<node>/change_state``):

- configure: parameters checked, weights loaded and warmed up, publishers created; an error (a missing weights
  file, a bad value) leaves the node unconfigured and logs the reason;
- activate: worker, timers and input subscriptions (lazy as in psmnet_node);
- deactivate: inputs dropped and worker stopped, no inference, the model kept;
- cleanup: publishers destroyed, the model and its memory freed;
- shutdown (from any state): everything released; the process then ends with status 0.
"""
from __future__ import annotations

import os
import sys

from psmnet_ros.ros import stop_signals

if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "psmnet_lifecycle_node":
    stop_signals.install(stop_signals.Phase.IMPORTING)  # before torch's slow import, as psmnet_node does

from typing import NoReturn

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from psmnet_ros.core.errors import PSMNetError
from psmnet_ros.ros.node import NODE_NAME, run
from psmnet_ros.ros.node_logging import log_python_warnings
from psmnet_ros.ros.parameters import declare_parameters
from psmnet_ros.ros.pipeline import StereoPipeline

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class PSMNetLifecycleNode(LifecycleNode):
    """psmnet_node's pipeline behind lifecycle transitions (see the module docstring). Named psmnet_node, so that
    params files for psmnet_node apply unchanged."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self.pipeline = StereoPipeline(self)
        self.finished = False
        self._configured = self._active = False
        log_python_warnings(self.get_logger())

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = declare_parameters(self)
            with stop_signals.interruptible():
                self.pipeline.configure(settings)
        except PSMNetError as exc:
            self.get_logger().error(f"configure failed, still unconfigured: {exc}")
            return FAILURE
        self._configured = True
        self.get_logger().info("configured: weights loaded and warmed up")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.pipeline.activate()
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release(unload=False)
        self.get_logger().info("deactivated: inputs dropped, model kept")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release(unload=True)
        self.get_logger().info("cleaned up: model freed")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release(unload=True)
        self.finished = True
        self.get_logger().info(f"shut down from {state.label}")
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release(unload=True)
        return SUCCESS  # back to unconfigured

    def _release(self, unload: bool) -> None:
        if self._active:
            self.pipeline.deactivate()
            self._active = False
        if unload and self._configured:
            self.pipeline.cleanup()
            self._configured = False

    def destroy_node(self):
        self._release(unload=False)
        return super().destroy_node()


def main(args=None) -> NoReturn:
    """Run psmnet_lifecycle_node until SIGINT / SIGTERM or the shutdown transition."""
    run(PSMNetLifecycleNode, "psmnet_lifecycle_node", args, finished=lambda node: node.finished)


if __name__ == "__main__":
    sys.exit(main())
