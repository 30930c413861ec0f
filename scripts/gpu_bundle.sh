#!/usr/bin/env bash
# Prepares, on a Debian 12 machine, what a GPU machine without Debian's -dev packages needs to
# build ensweep against its PyTorch installation's CUDA LibTorch: downloads the build's other
# dependencies (headers, CMake files and their shared libraries; not MPI, which that build leaves
# out) as .deb files into .gpu/debs (ignored by git, about 15 MB). bench/trainer/gpu_check.sh
# unpacks them there. Usage: scripts/gpu_bundle.sh [DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.gpu/debs}
packages=(
  nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libsqlitecpp-dev libsqlite3-dev libsqlite3-0
  libcli11-dev libboost1.74-dev libturbojpeg0-dev libturbojpeg0 libjpeg62-turbo-dev
  libjpeg62-turbo libpng-dev libpng16-16 zlib1g-dev catch2
)
mkdir -p "$out"
cd "$out"
rm -f ./*.deb
# apt-get download as root warns that its sandbox user cannot write here; the files are fine.
apt-get download "${packages[@]}" 2> >(grep -v "unsandboxed" >&2)
echo "gpu_bundle: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $out"
