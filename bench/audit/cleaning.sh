#!/usr/bin/env bash
# What is cleaning worth, over several training seeds? On one generated data set (120 training
# persons, 400 eval persons, 40x48, 10% of the persons with a wrong gender or age), the same recipe
# (custom_cnn, 30 epochs, 3 folds) is trained TRIALS times, trial seeds 0..TRIALS-1, on:
#   noisy     every label as given
#   clean     the same images with every label right (datagen --label-noise 0, same seed)
#   suspects  noisy, without the gender suspects of `ensweep audit --fields gender` on `noisy`
#   injected  noisy, without every person datagen mislabelled (what a perfect audit would remove)
#   random    noisy, without as many rightly labelled persons as there are suspects
# and trial_scores.py prints each trial's eval macro F1, accuracy and per-field accuracy, with the
# mean and range. Runs from the repository root:  bench/audit/cleaning.sh [path/to/ensweep]
# (SEED=1, TRIALS=4, EPOCHS=30, WORKERS=2, VARIANTS="clean suspects injected random" by default;
# noisy is always trained; one LibTorch thread a worker). Figures: runs/bench_audit/cleaning_sSEED/scores.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
ensweep=${1:-build/apps/ensweep}
seed=${SEED:-1} trials=${TRIALS:-4}
out=runs/bench_audit/cleaning_s$seed
mkdir -p "$out"
for noise in 0.1 0; do
  "$ensweep" datagen --out "$out/data_noise$noise" --people 120 --eval-people 400 \
      --image-size 40x48 --label-noise "$noise" --seed "$seed" > /dev/null 2>&1
done
study() {  # study NAME DATA [EXCLUDE_CSV]
  {
    echo "study: $1"
    echo "storage: $1/ensweep.sqlite"
    echo "artifacts: $1/artifacts"
    echo "data: {format: mask, train: $2/train, eval: $2/eval, image_size: [40, 48],"
    [ -n "${3:-}" ] && echo "       exclude: $3,"
    echo "       split: {by: person, folds: 3, seed: 0}}"
    echo "objective: {metric: val_macro_f1, direction: maximize}"
    echo "budget: {trials: $trials, epochs: ${EPOCHS:-30}}"
    echo "sampler: {type: random, seed: 0}"
    echo "space: {backbone: custom_cnn, head: multitask, optimizer: sgd, momentum: 0.9, lr: 0.03,"
    echo "        schedule: cosine, weight_decay: 0.0005, flip_p: 0.5, batch_size: 32}"
  } > "$out/$1.yaml"
  rm -rf "${out:?}/$1"
  "$ensweep" run "$out/$1.yaml" --workers "${WORKERS:-2}" --threads 1 > "$out/$1.log" 2>&1
  echo "== $1: $(grep '^finished:' "$out/$1.log" | sed 's/;.*//')" | tee -a "$out/scores.txt"
  /usr/bin/python3 bench/audit/trial_scores.py "$out/$1/artifacts" "$out/$2" \
      | tee -a "$out/scores.txt"
}
: > "$out/scores.txt"
variants=" ${VARIANTS:-clean suspects injected random} "
study noisy data_noise0.1
if [[ $variants == *" clean "* ]]; then study clean data_noise0; fi
"$ensweep" audit "$out/noisy.yaml" --fields gender -o "$out/audit_gender" > "$out/audit.log" 2>&1
suspects=$(( $(wc -l < "$out/audit_gender/suspects.csv") - 1 ))
/usr/bin/python3 bench/audit/evaluate.py "$out/data_noise0.1/train_label_noise.csv" \
    "$out/audit_gender/suspects.csv" | grep gender | tee -a "$out/scores.txt"
/usr/bin/python3 bench/audit/edits.py injected "$out/data_noise0.1/train_label_noise.csv" \
    "$out/injected.csv"
/usr/bin/python3 bench/audit/edits.py random "$out/data_noise0.1/train_label_noise.csv" \
    "$out/noisy/artifacts/trial-00000/val_index.csv" "$suspects" "$seed" "$out/random.csv"
for variant in suspects injected random; do
  edits=$variant.csv
  [ "$variant" = suspects ] && edits=audit_gender/suspects.csv
  if [[ $variants == *" $variant "* ]]; then study "$variant" data_noise0.1 "$edits"; fi
done
