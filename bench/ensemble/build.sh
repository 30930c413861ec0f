#!/bin/sh
# Builds bench/ensemble/greedy_bench with the project's Release flags (-O3 -DNDEBUG), from the
# sources it needs (the ensemble selection code and two leaves of core/); no CMake target, so the
# benchmark stays out of the default build and ctest. Usage: bench/ensemble/build.sh [OUT]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/build-bench/greedy_bench"}
mkdir -p "$(dirname "$out")"
${CXX:-g++} -std=c++17 -O3 -DNDEBUG -Wall -Wextra -pthread -I"$root" \
  "$root/bench/ensemble/greedy_bench.cc" "$root/ensemble/greedy.cc" \
  "$root/ensemble/weight_optimizer.cc" "$root/ensemble/candidate_stack.cc" \
  "$root/core/metrics.cc" "$root/core/parallel_for.cc" "$root/core/rng.cc" -o "$out"
echo "$out"
