#!/usr/bin/env bash
# Does leaving out what the audit found raise the eval score? After bench/audit/run.sh, for each
# seed's 10%-noise data, one k-fold trial of the best recipe (lr 0.03, trial 0 of a one-trial
# study, so every variant trains with the same seed) is trained four times:
#   none       every label
#   suspects   without the audit's gender suspects (ensweep audit --fields gender)
#   injected   without every person datagen mislabelled (what a perfect audit would find)
#   random     without as many rightly labelled persons as there are gender suspects
# and each is scored on the eval set with `ensweep ensemble STUDY -k 1`. Runs from the repository
# root:  bench/audit/exclude.sh [path/to/ensweep]   (SEEDS="1 2 3", THREADS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
ensweep=${1:-build/apps/ensweep}
for seed in ${SEEDS:-1 2 3}; do
  dir=runs/bench_audit/seed$seed
  kfold=$dir/audit_noise10.yaml
  data=data/audit_s${seed}_noise10
  out=$dir/exclude
  mkdir -p "$out"
  "$ensweep" audit "$kfold" --fields gender -o "$out/audit_gender"
  /usr/bin/python3 bench/audit/edits.py injected "$data/train_label_noise.csv" "$out/injected.csv"
  suspects=$(( $(wc -l < "$out/audit_gender/suspects.csv") - 1 ))
  /usr/bin/python3 bench/audit/edits.py random "$data/train_label_noise.csv" \
      "$dir/noise10/artifacts/trial-00000/val_index.csv" "$suspects" "$seed" "$out/random.csv"
  for variant in none suspects injected random; do
    case $variant in
      none) exclude= ;;
      suspects) exclude=audit_gender/suspects.csv ;;
      *) exclude=$variant.csv ;;
    esac
    sed -e "s|^study: .*|study: $variant|" -e "s|^storage: .*|storage: $variant/ensweep.sqlite|" \
        -e "s|^artifacts: .*|artifacts: $variant/artifacts|" -e "s|\.\./\.\./\.\./data/|../../../../data/|" \
        -e "s|^budget: .*|budget: {trials: 1, epochs: 12}|" -e "s|^  lr: .*|  lr: 0.03|" \
        "$kfold" > "$out/$variant.yaml"
    [ -n "$exclude" ] && sed -i "s|^  split:|  exclude: $exclude\n  split:|" "$out/$variant.yaml"
    rm -rf "${out:?}/$variant"
    "$ensweep" run "$out/$variant.yaml" --workers 1 --threads "${THREADS:-2}" > "$out/$variant.log" 2>&1
    "$ensweep" ensemble "$out/$variant.yaml" -k 1 > "$out/$variant.ensemble.txt" 2>&1
    left_out=0
    [ -n "$exclude" ] && left_out=$(( $(wc -l < "$out/$exclude") - 1 ))
    echo "seed $seed $variant (persons left out: $left_out):" \
        "$(grep -A2 'eval score' "$out/$variant.ensemble.txt" | tail -1)" \
        | tee -a runs/bench_audit/exclude.txt
  done
done
