#!/usr/bin/env bash
# The README's second command (and CI's): set up, build, run every test.
#   1. AddressSanitizer + UndefinedBehaviorSanitizer build (clang) of everything but the LibTorch
#      trainer, and its tests, the end-to-end ones included (scripts/sanitize.sh asan)
#   2. each fuzz target for 60 s on its seed corpus (scripts/fuzz.sh)
#   3. ThreadSanitizer over the coordinator and transport tests (scripts/sanitize.sh tsan)
#   4. the Release build and every test, LibTorch trainer and MPI included
# ENSWEEP_TEST_SANITIZERS=0 runs step 4 alone. Each step prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# MPI end-to-end tests run mpirun as root on CI machines.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
step() {  # step <name> <command...>: runs it and says how long it took
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - t0))s"
}
if [[ "${ENSWEEP_TEST_SANITIZERS:-1}" != 0 ]]; then
  step "asan+ubsan build and tests" scripts/sanitize.sh asan
  step "fuzzing" scripts/fuzz.sh 60
  step "tsan build and tests" scripts/sanitize.sh tsan
fi
step "release build" scripts/build.sh
cd build
echo "== release tests"  # ctest's closing lines say how long they took
ctest --output-on-failure --timeout 900 -j 2
# A skipped test's output is not shown: say why the Slurm test (tests/slurm/run.sh) was skipped.
grep -h "^SKIPPED: " Testing/Temporary/LastTest.log || true
