#!/usr/bin/env bash
# The main job: set up the environment, then run the demo on the Middlebury Motorcycle pair.
# Usage: bash scripts/main.sh [--checkpoint PATH|random] [--out-dir DIR] ...   (see: psmnet-demo --help)
# Without --checkpoint: the pretrained weights shipped in psmnet_ros/weights/.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec python -m psmnet_ros.cli.demo "$@"
