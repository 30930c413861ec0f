#!/usr/bin/env bash
# Builds everything that does not include LibTorch with clang under sanitizers and runs its tests.
#   scripts/sanitize.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): every
#                              test of a build without the LibTorch trainer (ENSWEEP_WITH_TORCH=OFF)
#                              and without MPI, the end-to-end tests included; the fuzz targets
#                              are built in the same tree (scripts/fuzz.sh runs them)
#   scripts/sanitize.sh tsan   ThreadSanitizer (build-tsan/): the coordinator and transport tests,
#                              and the gang collectives (in-memory and TCP groups on threads)
#   scripts/sanitize.sh        both
# LibTorch is left out because it is not built with sanitizers; Open MPI because its libraries
# keep memory until exit by design (the MPI transport is tested in the ordinary build); NCCL and
# the CUDA runtime for the same reason (their no-GPU path is tested in the ordinary build).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
jobs=$(nproc)
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

configure() {  # configure <dir> <sanitizer flags> [cmake args...]
  local dir=$1 flags=$2
  shift 2
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DENSWEEP_WITH_TORCH=OFF -DENSWEEP_WITH_MPI=OFF -DENSWEEP_WITH_NCCL=OFF "${launcher[@]}" \
    -DCMAKE_CXX_FLAGS="-O1 -fno-omit-frame-pointer $flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" "$@" >/dev/null
}

run_asan() {
  local t0=$SECONDS
  # No vptr check: its runtime tests memory through a pipe, which fails while a test has used up
  # every file descriptor on purpose (the accept loop's EMFILE test), and it then reports a valid
  # object as having an invalid vptr.
  configure build-asan \
    "-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined" \
    -DENSWEEP_FUZZ=ON
  cmake --build build-asan -j "$jobs"
  echo "sanitize: asan build took $((SECONDS - t0))s"
  t0=$SECONDS
  # The executable under test is instrumented too, so the end-to-end tests check it as well.
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure --timeout 900 -j "$jobs")
  echo "sanitize: asan tests took $((SECONDS - t0))s"
}

run_tsan() {
  local t0=$SECONDS
  configure build-tsan "-fsanitize=thread"
  cmake --build build-tsan -j "$jobs" --target orchestrator_test collective_test
  echo "sanitize: tsan build took $((SECONDS - t0))s"
  t0=$SECONDS
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    build-tsan/tests/orchestrator/orchestrator_test
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    build-tsan/tests/collective/collective_test
  echo "sanitize: tsan tests took $((SECONDS - t0))s"
}

case "$what" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: scripts/sanitize.sh [asan|tsan]" >&2; exit 2 ;;
esac
