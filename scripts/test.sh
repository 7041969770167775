#!/usr/bin/env bash
# The test command: set up the environment, then run every test on the CPU.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec python -m pytest -q "$@"
