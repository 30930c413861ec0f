#!/usr/bin/env bash
# The trainer on a CUDA GPU, once: builds ensweep against the machine's PyTorch installation
# (its LibTorch with CUDA, found through torch.utils.cmake_prefix_path) and runs
#   1. the worker tests (tests/worker), with the GPU visible;
#   2. the NCCL gang communicator (tests/collective/nccl_gang_check.cpp) on GPU 0: a gang of one
#      member (expected: "ok") and a gang of two members sharing GPU 0 (expected: "ok", or
#      "refused" when this NCCL will not put two ranks on one device; either way within 120 s,
#      never a hang: a timeout is reported as such);
#   3. a grid study over the arithmetic a trial can use on CUDA (precision fp32, bf16, fp16 x
#      memory format contiguous, channels_last), resnet18 on synthetic competition data at 192x256,
#      batch 64, 3 epochs, one worker on GPU 0; the leaderboard gives each trial's time and score.
# For a machine without Debian's -dev packages (the GPU machines this project borrows): the other
# dependencies come as .deb files from scripts/gpu_bundle.sh (run that first where apt works; it
# fills .gpu/debs) and are unpacked under /tmp/ensweep-deps. MPI is left out (-DENSWEEP_WITH_MPI=OFF).
# Everything it prints also lands in $OUT (default /tmp/gpu_check): env.txt, configure.txt,
# build.txt, worker_test.txt, nccl_gang.txt, study.txt, summary.txt. NCCL comes from the CUDA
# toolkit or, failing that, from PyTorch's nvidia-nccl wheel (NCCL_HOME); without it the NCCL
# step says so.
# Needs: a PyTorch with CUDA importable by $PYTHON (default python3), the CUDA toolkit (nvcc: the
# Torch CMake package needs it), CMake, a C++17 compiler, glibc 2.34 or newer (Ubuntu 22.04+).
# Usage, from the repository root: bench/trainer/gpu_check.sh [all | build | test]   (all by
# default; build then test in two calls keeps each well inside a 600 s limit: the build takes most
# of the time, compiling the worker against LibTorch). Overrides for a dry run elsewhere: OUT,
# BUILD (build folder), PYTHON, CXX, TORCH_PREFIX, PEOPLE (240), EPOCHS (3), SIZE ("192, 256").
set -uo pipefail
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
say() { echo "== $*" | tee -a "$summary"; }
python=${PYTHON:-python3}
build=${BUILD:-build-gpu}
deps=/tmp/ensweep-deps
zlib_flag=()
phase=${1:-all}
start=$(date +%s)

say "environment"
{
  nvidia-smi -L
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), "cxx11 abi", torch.compiled_with_cxx11_abi())'
  cmake --version | head -1
  "${CXX:-c++}" --version | head -1
  nvcc --version | tail -2
  nproc
} > "$out/env.txt" 2>&1
cat "$out/env.txt" | tee -a "$summary"
torch_prefix=${TORCH_PREFIX:-$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
if [[ -z "$torch_prefix" ]]; then
  say "$python cannot import torch: set PYTHON to the interpreter that has PyTorch"
  exit 1
fi
if ! command -v nvcc > /dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  say "no nvcc on PATH or in /usr/local/cuda: the CUDA LibTorch's CMake package will not configure"
fi

if ls .gpu/debs/*.deb > /dev/null 2>&1; then
  say "unpacking $(ls .gpu/debs/*.deb | wc -l) dependency packages into $deps"
  mkdir -p "$deps"
  for f in .gpu/debs/*.deb; do
    if command -v dpkg > /dev/null; then
      dpkg -x "$f" "$deps"
    else  # a .deb is an ar archive whose data.tar.* holds the files
      member=$(ar t "$f" | grep '^data\.tar')
      ar p "$f" "$member" | tar -x -a -f - -C "$deps" 2> /dev/null ||
        ar p "$f" "$member" | tar -x -J -f - -C "$deps"
    fi || say "could not unpack $f"
  done
  lib="$deps/usr/lib/x86_64-linux-gnu"
  # libjpeg-turbo's CMake files name /usr literally; point them at the unpacked copy.
  sed -i "s#\"/usr#\"$deps/usr#g; s#PACKAGE_PREFIX_DIR \"/usr\"#PACKAGE_PREFIX_DIR \"$deps/usr\"#" \
    "$lib"/cmake/libjpeg-turbo/*.cmake
  # zlib: the bundled libz.so points at Debian's /lib/.../libz.so.1.2.13 and its libz.a is not
  # position-independent (it cannot go into the torch module); link the machine's own libz.so.1.
  rm -f "$lib/libz.a" "$lib/libz.so"
  system_zlib=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  if [[ -n "$system_zlib" ]]; then zlib_flag=(-DZLIB_LIBRARY="$system_zlib"); fi
  broken=$(find "$deps" -xtype l)
  if [[ -n "$broken" ]]; then say "links in the unpacked packages that point nowhere:"$'\n'"$broken"; fi
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  say "no .gpu/debs: using the system's packages"
fi

# NCCL for the gang communicators: the toolkit's, else the one PyTorch's wheels ship.
if [[ -z "${NCCL_HOME:-}" ]] && ! ls /usr/local/cuda/include/nccl.h > /dev/null 2>&1; then
  NCCL_HOME=$("$python" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' \
    2> /dev/null || true)
  export NCCL_HOME
fi

generator=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja > /dev/null; then generator=(-G Ninja); fi
if [[ "$phase" != test ]]; then
say "configure (LibTorch from $torch_prefix)"
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DENSWEEP_WITH_MPI=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" "${zlib_flag[@]}" > "$out/configure.txt" 2>&1; then
  tail -40 "$out/configure.txt" | tee -a "$summary"
  exit 1
fi
grep -E "LibTorch|CUDA|NCCL" "$out/configure.txt" | tee -a "$summary"

say "build ($(( $(date +%s) - start )) s so far)"
if ! cmake --build "$build" -j "$(nproc)" --target ensweep worker_test > "$out/build.txt" 2>&1; then
  grep -m 30 -B 2 -A 8 "error" "$out/build.txt" | tee -a "$summary"
  exit 1
fi
if grep -q "ENSWEEP_WITH_NCCL:BOOL=ON" "$build/CMakeCache.txt"; then
  cmake --build "$build" -j "$(nproc)" --target collective_nccl_gang_check >> "$out/build.txt" 2>&1 ||
    say "the NCCL gang check did not build (see build.txt)"
fi
fi
if [[ "$phase" == build ]]; then say "built in $(( $(date +%s) - start )) s"; exit 0; fi

say "worker tests on the GPU ($(( $(date +%s) - start )) s so far)"
timeout 180 "$build/tests/worker/worker_test" > "$out/worker_test.txt" 2>&1
echo "worker_test exit status $?" | tee -a "$summary"
grep -E "FAILED|failed|passed" "$out/worker_test.txt" | tail -15 | tee -a "$summary"

say "NCCL gang communicator on GPU 0 ($(( $(date +%s) - start )) s so far)"
check="$build/tests/collective/collective_nccl_gang_check"
if [[ -x "$check" ]]; then
  : > "$out/nccl_gang.txt"
  for members in 1 2; do
    timeout 120 "$check" "$members" >> "$out/nccl_gang.txt" 2>&1
    status=$?
    case $status in
      0) verdict="ok" ;;
      3) verdict="refused by NCCL (ranks sharing one GPU), reported cleanly" ;;
      77) verdict="skipped: no GPU visible" ;;
      124) verdict="HUNG: killed after 120 s (the communicator should have timed out at 60 s)" ;;
      *) verdict="FAILED (exit status $status)" ;;
    esac
    echo "nccl gang of $members: $verdict" | tee -a "$summary"
  done
  tail -6 "$out/nccl_gang.txt" | tee -a "$summary"
else
  echo "nccl gang: not built (configure found no NCCL; see configure.txt)" | tee -a "$summary"
fi

say "grid study over precision and memory format ($(( $(date +%s) - start )) s so far)"
work=/tmp/ensweep-gpu-study
rm -rf "$work" && mkdir -p "$work"
"$build/apps/ensweep" datagen --out "$work/data" --people "${PEOPLE:-240}" --image-size 384x512 \
  > /dev/null
cat > "$work/study.yaml" <<YAML
study: gpu-arithmetic
storage: runs/ensweep.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [${SIZE:-192, 256}], split: {seed: 0}}
objective: {metric: val_macro_f1, direction: maximize}
budget: {trials: 6, epochs: ${EPOCHS:-3}}
sampler: {type: grid, seed: 0}
space:
  backbone: resnet18
  optimizer: sgd
  momentum: 0.9
  lr: 0.05
  batch_size: 64
  precision: {choice: [fp32, bf16, fp16]}
  memory_format: {choice: [contiguous, channels_last]}
YAML
timeout 240 "$build/apps/ensweep" run "$work/study.yaml" --workers 1 > "$out/study.txt" 2>&1
echo "ensweep run exit status $?" | tee -a "$summary"
grep -E "ready|finished|FAILED" "$out/study.txt" | tee -a "$summary"
"$build/apps/ensweep" top "$work/study.yaml" 2>&1 | tee -a "$summary"
cp "$work/runs/ensweep.sqlite" "$out/study.sqlite" 2> /dev/null
say "done in $(( $(date +%s) - start )) s"
