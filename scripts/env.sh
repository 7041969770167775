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
# The ROS 2 launch stack (launch, launch_ros, ros2 launch/run/pkg): wheels beside the repository in development
# and CI (../shared/wheels/ros2-launch, installed as its README says), never in a user's clone.
launch_wheels="$repo/../shared/wheels/ros2-launch"
launch_stamp=.venv/.psmnet_ros_launch_installed
if [ -d "$launch_wheels" ] && { [ ! -f "$launch_stamp" ] || [ "$launch_wheels/SHA256SUMS" -nt "$launch_stamp" ]; }; then
    .venv/bin/python -m pip install -q --disable-pip-version-check osrf-pycommon==2.0.2 psutil==7.2.2 argcomplete==3.7.2
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "$launch_wheels"/*.whl
    touch "$launch_stamp"
fi
# The venv as a ROS 2 prefix, where ros2 launch/run/pkg look (the editable install puts none of this there):
# the ament index entry, share/psmnet_ros/{package.xml,launch/*,config/*} (links to the repository's files:
# edits apply at once; ros2 launch does not follow a linked folder) and the console scripts in lib/psmnet_ros
# (links to bin/). activate exports AMENT_PREFIX_PATH.
venv="$repo/.venv"
share="$venv/share/psmnet_ros"
mkdir -p "$venv/share/ament_index/resource_index/packages" "$share/launch" "$share/config" "$venv/lib/psmnet_ros"
touch "$venv/share/ament_index/resource_index/packages/psmnet_ros"
ln -sfn "$repo/package.xml" "$share/package.xml"
find "$share/launch" "$share/config" -xtype l -delete   # links to files since removed
for file in launch/*.launch.py config/*.yaml config/*.rviz; do
    ln -sfn "$repo/$file" "$share/$file"
done
for script in $(sed -n 's/^ *\([A-Za-z0-9_-]*\) = psmnet_ros\..*/\1/p' setup.cfg); do
    ln -sfn "../../bin/$script" "$venv/lib/psmnet_ros/$script"
done
if ! grep -q "psmnet_ros: ROS 2 prefix" .venv/bin/activate; then
    cat >> .venv/bin/activate <<'ACTIVATE'
# psmnet_ros: ROS 2 prefix (scripts/env.sh): ros2 launch/run/pkg find psmnet_ros in this environment
case ":${AMENT_PREFIX_PATH:-}:" in
    *":$VIRTUAL_ENV:"*) ;;
    *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
ACTIVATE
fi
# shellcheck disable=SC1091
source .venv/bin/activate
