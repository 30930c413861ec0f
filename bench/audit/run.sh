#!/usr/bin/env bash
# The audit's precision and recall on injected label errors, at 5% and 10% noise, against the
# baseline (rank by the given value's predicted probability). Runs from the repository root:
#   bench/audit/run.sh [path/to/ensweep]
# For each noise rate: datagen (200 persons, 48x64, seed 1), the k-fold sweep of
# studies/audit_kfold.yaml on that data (timed), `ensweep audit` with confident learning and with
# the baseline, then evaluate.py against train_label_noise.csv. Everything goes under
# runs/bench_audit/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ensweep=${1:-build/apps/ensweep}
out=runs/bench_audit
mkdir -p "$out"
for noise in 05 10; do
  data=data/audit_noise$noise
  "$ensweep" datagen --out "$data" --people 200 --image-size 48x64 --label-noise "0.$noise" --seed 1
  study=$out/audit_noise$noise.yaml
  sed -e "s|^study: audit_kfold|study: audit_noise$noise|" \
      -e "s|\.\./runs/audit_kfold|noise$noise|" \
      -e "s|\.\./data/audit_noise10|../../$data|" studies/audit_kfold.yaml > "$study"
  rm -rf "$out/noise$noise"
  start=$(date +%s)
  "$ensweep" run "$study" --workers 2 > "$out/run$noise.log" 2>&1
  echo "noise 0.$noise: sweep took $(( $(date +%s) - start )) s" | tee -a "$out/times.txt"
  "$ensweep" audit "$study" -o "$out/noise$noise/audit_cl"
  "$ensweep" audit "$study" --method given-prob -o "$out/noise$noise/audit_baseline"
  /usr/bin/python3 bench/audit/evaluate.py "$data/train_label_noise.csv" \
      "$out/noise$noise/audit_cl/suspects.csv" "$out/noise$noise/audit_baseline/suspects.csv" \
      | tee "$out/noise$noise/figures.md"
done
