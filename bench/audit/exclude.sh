#!/usr/bin/env bash
# Does leaving out what the audit found raise the eval score? After bench/audit/run.sh, for each
# seed's 10%-noise data, one k-fold trial of the best recipe (lr 0.03, trial 0 of a one-trial
# study, so every variant trains with the same seed) is trained four times:
#   none       every label
#   suspects   without the audit's gender suspects (ensweep audit --fields gender)
#   injected   without every person datagen mislabelled (what a perfect audit would find)
#   random     without as many rightly labelled persons as there are gender suspects
#   suspects_relabel  with the gender suspects' values replaced by the suggested ones
#   injected_relabel  with every injected error's value replaced by the true one
# and each is scored on the eval set with `ensweep ensemble STUDY -k 1`. The relabelled variants
# train on the same images in the same order as `none`, only some labels differ. Runs from the
# repository root:  bench/audit/exclude.sh [path/to/ensweep]
# (SEEDS="1 2 3", THREADS=2, VARIANTS="none suspects injected random suspects_relabel
# injected_relabel" by default)
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
  for variant in ${VARIANTS:-none suspects injected random suspects_relabel injected_relabel}; do
    key=exclude
    case $variant in
      none) edits= ;;
      suspects) edits=audit_gender/suspects.csv ;;
      suspects_relabel) edits=audit_gender/suspects.csv key=relabel ;;
      injected_relabel) edits=injected.csv key=relabel ;;
      *) edits=$variant.csv ;;
    esac
    sed -e "s|^study: .*|study: $variant|" -e "s|^storage: .*|storage: $variant/ensweep.sqlite|" \
        -e "s|^artifacts: .*|artifacts: $variant/artifacts|" -e "s|\.\./\.\./\.\./data/|../../../../data/|" \
        -e "s|^budget: .*|budget: {trials: 1, epochs: 12}|" -e "s|^  lr: .*|  lr: 0.03|" \
        "$kfold" > "$out/$variant.yaml"
    [ -n "$edits" ] && sed -i "s|^  split:|  $key: $edits\n  split:|" "$out/$variant.yaml"
    rm -rf "${out:?}/$variant"
    "$ensweep" run "$out/$variant.yaml" --workers 1 --threads "${THREADS:-2}" > "$out/$variant.log" 2>&1
    "$ensweep" ensemble "$out/$variant.yaml" -k 1 > "$out/$variant.ensemble.txt" 2>&1
    persons=0
    [ -n "$edits" ] && persons=$(( $(wc -l < "$out/$edits") - 1 ))
    echo "seed $seed $variant (persons in data.$key: $persons):" \
        "$(grep -A2 'eval score' "$out/$variant.ensemble.txt" | tail -1)" \
        | tee -a runs/bench_audit/exclude.txt
  done
done
