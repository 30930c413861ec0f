#!/usr/bin/env bash
# Trainer benchmarks: ensweep vs PyTorch / torchvision in the same run, interleaved, medians of
# REPS runs. Usage (from the repository root, after building worker_test and ensweep):
#   bench/trainer/run.sh [BUILD_DIR]        (default build; REPS=5 PEOPLE=100 env overrides)
# Prints a Markdown table; README.md in this folder records the results.
set -euo pipefail
build=${1:-build}
reps=${REPS:-5}
people=${PEOPLE:-100}
test_bin="$build/tests/worker/worker_test"
ensweep_bin=${ENSWEEP:-$build/apps/ensweep}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

value() { awk -v k="$1" '$1 == k {print $2}'; }
median() { $py -c 'import sys, statistics; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }

echo "| measurement | ensweep (median) | peer (median) | ratio of medians | runs |"
echo "|---|---|---|---|---|"
for model in resnet18 resnet34; do
  ours=(); theirs=()
  for _ in $(seq "$reps"); do
    ours+=("$(ENSWEEP_BENCH_MODEL=$model "$test_bin" "[step-bench]" | value step_images_per_s)")
    theirs+=("$($py "$here/step_peer.py" "$model" 2 | value step_images_per_s)")
  done
  a=$(median "${ours[@]}"); b=$(median "${theirs[@]}")
  echo "| $model step, 96x128, batch 32, 2 threads (images/s) | $a | $b | $($py -c "print(round($a / $b, 2))") | ${ours[*]} / ${theirs[*]} |"
done

"$ensweep_bin" datagen --out "$out/data" --people "$people" --image-size 384x512 >/dev/null
for epoch in 1 2 3; do declare -a "ours$epoch=()" "theirs$epoch=()"; done
for _ in $(seq "$reps"); do
  ENSWEEP_BENCH_DATA="$out/data/train" "$test_bin" "[pipeline-bench]" >"$out/ours.txt"
  $py "$here/pipeline_peer.py" "$out/data/train" 3 >"$out/theirs.txt"
  for epoch in 1 2 3; do
    eval "ours$epoch+=($(value epoch${epoch}_images_per_s <"$out/ours.txt"))"
    eval "theirs$epoch+=($(value epoch${epoch}_images_per_s <"$out/theirs.txt"))"
  done
done
images=$(awk '$1 == "images" {print $2}' "$out/ours.txt")
for epoch in 1 2 3; do
  eval "o=(\"\${ours$epoch[@]}\"); t=(\"\${theirs$epoch[@]}\")"
  a=$(median "${o[@]}"); b=$(median "${t[@]}")
  echo "| input pipeline epoch $epoch, $images JPEGs 384x512 -> 96x128 batches of 32 (images/s) | $a | $b | $($py -c "print(round($a / $b, 2))") | ${o[*]} / ${t[*]} |"
done
