#!/usr/bin/env bash
# The audit's precision and recall on injected label errors, at 5% and 10% noise, against two
# baselines. Runs from the repository root:
#   bench/audit/run.sh [path/to/ensweep]          # SEEDS="1 2 3" by default
# For each data seed and noise rate: datagen (200 persons, 48x64), the k-fold sweep of
# studies/audit_kfold.yaml on that data (timed), `ensweep audit` with confident learning, with
# --method given-prob (the same per-field, per-person probabilities ranked by the given value's
# probability) and image_baseline.py (images ranked by their given 18-class label's
# probability), then evaluate.py against train_label_noise.csv. Everything goes under
# runs/bench_audit/seed<S>/noise<NN>/; the data under data/audit_s<S>_noise<NN>.
set -euo pipefail
cd "$(dirname "$0")/../.."
ensweep=${1:-build/apps/ensweep}
for seed in ${SEEDS:-1 2 3}; do
  for noise in 05 10; do
    data=data/audit_s${seed}_noise$noise
    out=runs/bench_audit/seed$seed
    mkdir -p "$out"
    "$ensweep" datagen --out "$data" --people 200 --image-size 48x64 --label-noise "0.$noise" \
        --seed "$seed"
    study=$out/audit_noise$noise.yaml
    sed -e "s|^study: audit_kfold|study: audit_s${seed}_noise$noise|" \
        -e "s|\.\./runs/audit_kfold|noise$noise|" \
        -e "s|\.\./data/audit_noise10|../../../$data|" studies/audit_kfold.yaml > "$study"
    rm -rf "$out/noise$noise"
    start=$(date +%s)
    "$ensweep" run "$study" --workers 2 > "$out/run$noise.log" 2>&1
    echo "seed $seed noise 0.$noise: sweep took $(( $(date +%s) - start )) s" \
        | tee -a runs/bench_audit/times.txt
    "$ensweep" audit "$study" -o "$out/noise$noise/audit_cl"
    "$ensweep" audit "$study" --method given-prob -o "$out/noise$noise/audit_given_prob"
    /usr/bin/python3 bench/audit/image_baseline.py "$out/noise$noise/image_baseline.csv" \
        "$out"/noise$noise/artifacts/trial-*
    /usr/bin/python3 bench/audit/evaluate.py "$data/train_label_noise.csv" \
        "$out/noise$noise/audit_cl/suspects.csv" \
        "$out/noise$noise/audit_given_prob/suspects.csv" \
        "$out/noise$noise/image_baseline.csv" | tee "$out/noise$noise/figures.md"
  done
done
