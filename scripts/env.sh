# Sourced by main.sh and test.sh: create or reuse .venv in the repository, install the pinned requirements
# and the package (editable), and build its messages.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv || {
        echo "scripts/env.sh: cannot create .venv; on Debian/Ubuntu: apt install python3.11-venv" >&2
        exit 1
    }
fi
stamp=.venv/.psmnet_ros_installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ setup.py -nt "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
    touch "$stamp"
fi
# The package's messages (msg/*.msg -> psmnet_ros.msg and its libraries): built by the editable install
# above, rebuilt here only when a .msg file, the builder or the ROS wheels changed (a recorded hash).
.venv/bin/python -m psmnet_ros.tools.build_msgs
# shellcheck disable=SC1091
source .venv/bin/activate
