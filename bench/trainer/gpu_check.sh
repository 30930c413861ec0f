#!/usr/bin/env bash
# The trainer on a CUDA GPU, once: builds ensweep against the machine's PyTorch installation
# (its LibTorch with CUDA, found through torch.utils.cmake_prefix_path) and runs
#   1. the worker tests (tests/worker), with the GPU visible;
#   2. a grid study over the arithmetic a trial can use on CUDA (precision fp32, bf16, fp16 x
#      memory format contiguous, channels_last), resnet18 on synthetic competition data at 192x256,
#      batch 64, 3 epochs, one worker on GPU 0; the leaderboard gives each trial's time and score.
# For a machine without Debian's -dev packages (the GPU machines this project borrows): the other
# dependencies come as .deb files from scripts/gpu_bundle.sh (run that first where apt works; it
# fills .gpu/debs) and are unpacked under /tmp/ensweep-deps. MPI is left out (-DENSWEEP_WITH_MPI=OFF).
# Everything it prints also lands in $OUT (default /tmp/gpu_check): env.txt, configure.txt,
# build.txt, worker_test.txt, study.txt, summary.txt.
# Usage, from the repository root: bench/trainer/gpu_check.sh   (about 6 to 10 minutes on an H200
# machine with 16 cores: most of it compiling the worker against LibTorch). Overrides for a dry
# run elsewhere: BUILD (build folder), TORCH_PREFIX, PEOPLE (240), EPOCHS (3), SIZE ("192, 256").
set -uo pipefail
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
say() { echo "== $*" | tee -a "$summary"; }
python=${PYTHON:-python3}
build=${BUILD:-build-gpu}
deps=/tmp/ensweep-deps
start=$(date +%s)

say "environment"
{
  nvidia-smi -L
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), "cxx11 abi", torch.compiled_with_cxx11_abi())'
  cmake --version | head -1
  "${CXX:-c++}" --version | head -1
  nproc
} > "$out/env.txt" 2>&1
cat "$out/env.txt" | tee -a "$summary"

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
  # libjpeg-turbo's CMake files name /usr literally; point them at the unpacked copy.
  sed -i "s#\"/usr#\"$deps/usr#g; s#PACKAGE_PREFIX_DIR \"/usr\"#PACKAGE_PREFIX_DIR \"$deps/usr\"#" \
    "$deps"/usr/lib/x86_64-linux-gnu/cmake/libjpeg-turbo/*.cmake
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  say "no .gpu/debs: using the system's packages"
fi

torch_prefix=${TORCH_PREFIX:-$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
generator=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja > /dev/null; then generator=(-G Ninja); fi
say "configure (LibTorch from $torch_prefix)"
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DENSWEEP_WITH_MPI=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" > "$out/configure.txt" 2>&1; then
  tail -40 "$out/configure.txt" | tee -a "$summary"
  exit 1
fi
grep -E "LibTorch|CUDA" "$out/configure.txt" | tee -a "$summary"

say "build ($(( $(date +%s) - start )) s so far)"
if ! cmake --build "$build" -j "$(nproc)" --target ensweep worker_test > "$out/build.txt" 2>&1; then
  grep -m 30 -B 2 -A 8 "error" "$out/build.txt" | tee -a "$summary"
  exit 1
fi

say "worker tests on the GPU ($(( $(date +%s) - start )) s so far)"
timeout 300 "$build/tests/worker/worker_test" > "$out/worker_test.txt" 2>&1
echo "worker_test exit status $?" | tee -a "$summary"
grep -E "FAILED|failed|passed" "$out/worker_test.txt" | tail -15 | tee -a "$summary"

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
timeout 420 "$build/apps/ensweep" run "$work/study.yaml" --workers 1 > "$out/study.txt" 2>&1
echo "ensweep run exit status $?" | tee -a "$summary"
grep -E "ready|finished|FAILED" "$out/study.txt" | tee -a "$summary"
"$build/apps/ensweep" top "$work/study.yaml" 2>&1 | tee -a "$summary"
say "done in $(( $(date +%s) - start )) s"
