#!/bin/sh
# Builds bench/search/search_bench with Release flags (-O3 -DNDEBUG) from the sources it needs (the
# search library, the objective functions and the study loader); no CMake target, so the benchmark
# stays out of the default build and ctest. Usage: bench/search/build.sh [OUT]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/build-bench/search_bench"}
mkdir -p "$(dirname "$out")"
${CXX:-g++} -std=c++17 -O3 -DNDEBUG -Wall -Wextra -pthread -I"$root" \
  "$root/bench/search/search_bench.cc" "$root/search/space.cc" "$root/search/sampler.cc" \
  "$root/search/parzen.cc" "$root/search/tpe_sampler.cc" "$root/objectives/functions.cc" \
  "$root/core/study.cc" "$root/core/study_document.cc" "$root/core/study_space.cc" "$root/core/study_text.cc" "$root/core/rng.cc" -lyaml-cpp -o "$out"
echo "$out"
