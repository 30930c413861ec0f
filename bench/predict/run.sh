#!/usr/bin/env bash
# `ensweep predict` against PyTorch running the module `ensweep export` wrote, on the same images
# with the same thread count, interleaved, medians of REPS runs. Usage (from the repository root,
# after building ensweep):
#   bench/predict/run.sh [BUILD_DIR]   (env: REPS=5 THREADS=2 EVAL_PEOPLE=200 BACKBONE=resnet18)
# Trains one short trial on generated data first (about a minute on 2 cores), then times both
# sides on the eval images (96x128 JPEGs, the study's image size, so neither side resizes).
# Prints a Markdown table; README.md in this folder records the results.
set -euo pipefail
build=${1:-build}
reps=${REPS:-5}
threads=${THREADS:-2}
eval_people=${EVAL_PEOPLE:-200}
backbone=${BACKBONE:-resnet18}
ensweep_bin=${ENSWEEP:-$build/apps/ensweep}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median() { $py -c 'import sys, statistics; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }

"$ensweep_bin" datagen --out "$out/data" --people 40 --eval-people "$eval_people" \
  --image-size 96x128 --seed 1 >/dev/null
cat >"$out/study.yaml" <<STUDY
study: bench
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [96, 128], split: {seed: 1}}
budget: {trials: 1, epochs: 1}
space: {backbone: $backbone, batch_size: 32, lr: 0.01}
STUDY
"$ensweep_bin" run "$out/study.yaml" --workers 1 --threads "$threads" >/dev/null
"$ensweep_bin" export "$out/study.yaml" --trial 0 -o "$out/model.pt" >/dev/null
images=$(($(wc -l <"$out/data/eval/info.csv") - 1))

ours=(); theirs=()
for _ in $(seq "$reps"); do
  t0=$(date +%s.%N)
  "$ensweep_bin" predict "$out/study.yaml" --trial 0 --data "$out/data/eval" -o "$out/p.csv" \
    --format probs --threads "$threads" --batch-size 64 --device cpu >/dev/null 2>&1
  t1=$(date +%s.%N)
  ours+=("$($py -c "print(round($images / ($t1 - $t0), 1))")")
  theirs+=("$($py "$here/peer.py" "$out/model.pt" "$out/data/eval" "$threads" 64 "$out/peer.npy" |
    awk '$1 == "images_per_s" {print $2}')")
done
diff=$($py -c "import numpy as n; print('%.2g' % abs(n.load('$out/p.npy') - n.load('$out/peer.npy')).max())")
a=$(median "${ours[@]}"); b=$(median "${theirs[@]}")
echo "| measurement | ensweep predict (median) | PyTorch + exported module (median) | ratio of medians | runs (ensweep / peer) |"
echo "|---|---|---|---|---|"
echo "| $backbone, $images eval JPEGs 96x128, batch 64, $threads threads, whole command (images/s) | $a | $b | $($py -c "print(round($a / $b, 2))") | ${ours[*]} / ${theirs[*]} |"
echo
echo "largest difference between the two sides' probabilities: $diff"
