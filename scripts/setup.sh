#!/usr/bin/env bash
# Installs the Debian 12 packages ensweep needs, and nothing when they are all present.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also what the tests use (numpy, to check that numpy reads our .npy
#                             files; torchvision, for the backbone conformance tests; scikit-learn,
#                             whose macro F1 the scoring tests compare with; Optuna, whose
#                             fANOVA the importance tests compare with; clang and its
#                             sanitizer and libFuzzer runtimes, for scripts/sanitize.sh and
#                             scripts/fuzz.sh; chromium, node and npm, for the dashboard's
#                             browser tests)
# CUDA and NCCL are not installed here: where configure finds them (e.g. under /usr/local/cuda)
# the NCCL backend of gang communicators is built, and without them it is left out with a message.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libtorch-dev                       # LibTorch 1.13 (CPU), the worker's trainer
  libopenmpi-dev openmpi-bin         # MPI launch: mpirun -np N+1 ensweep run ...
  libsqlitecpp-dev libsqlite3-dev    # the store
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libboost-dev
  libssl-dev                         # libcrypto: HMAC-SHA256 for the TCP workers' handshake
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev   # image codecs
  catch2
  libjs-chart.js                     # Chart.js 3, embedded into the dashboard (dashboard/)
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3-numpy python3-torchvision python3-sklearn python3-optuna clang libclang-rt-14-dev)
  # The dashboard's browser tests (tests/browser/): Playwright (from npm) drives chromium. Node
  # and npm from elsewhere (e.g. NodeSource, whose nodejs holds npm) are used where present.
  packages+=(chromium)
  if ! command -v node >/dev/null; then packages+=(nodejs); fi
  if ! command -v npm >/dev/null; then packages+=(npm); fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
