#!/bin/sh
# Early stopping on real training: the quickstart data (ensweep datagen, 160 persons) and the
# quickstart search space, the same random-sampler seed (so both runs propose the same trials),
# TRIALS trials x EPOCHS epochs on 2 local workers, without pruning and with ASHA (min_epochs 1,
# reduction 3). Prints epochs spent and the best COMPLETE val_macro_f1 of each run.
# Usage: bench/search/asha_quickstart.sh [ENSWEEP_BINARY] [SEED]   (TRIALS=12 EPOCHS=6 by default)
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-"$root/build/apps/ensweep"}
seed=${2:-0}
trials=${TRIALS:-12}
epochs=${EPOCHS:-6}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" datagen --out "$dir/data" --people 160 --image-size 96x128 --seed 0 > /dev/null
for pruner in none asha; do
  cat > "$dir/$pruner.yaml" <<YAML
study: asha-quickstart-$pruner
storage: $dir/$pruner.sqlite
artifacts: $dir/$pruner-artifacts
data:
  format: mask
  train: $dir/data/train
  image_size: [48, 64]
  split: {by: person, val_fraction: 0.2, seed: 0}
objective: {metric: val_macro_f1, direction: maximize}
budget: {trials: $trials, epochs: $epochs}
sampler: {type: random, seed: $seed}
pruner: {type: $pruner, min_epochs: 1, reduction: 3}
space:
  backbone: {choice: [custom_cnn, resnet18]}
  optimizer: {choice: [sgd, adam]}
  momentum: 0.9
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  weight_decay: {log_uniform: [1.0e-5, 1.0e-2]}
  flip_p: {uniform: [0.0, 0.8]}
  batch_size: 32
YAML
  start=$(date +%s)
  "$bin" run "$dir/$pruner.yaml" --workers 2 -q > "$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
  took=$(( $(date +%s) - start ))
  /usr/bin/python3 - "$dir/$pruner.sqlite" "$pruner" "$seed" "$trials" "$epochs" "$took" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
pruner, seed, trials, epochs, took = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
spent, = db.execute("SELECT SUM(epochs_done) FROM trials").fetchone()
best, = db.execute("SELECT MAX(value) FROM trials WHERE state = 'COMPLETE'").fetchone()
pruned, = db.execute("SELECT COUNT(*) FROM trials WHERE state = 'PRUNED'").fetchone()
failed, = db.execute("SELECT COUNT(*) FROM trials WHERE state = 'FAILED'").fetchone()
print(f"{pruner:5s} seed {seed}: epochs {spent:3d} ({spent / (trials * epochs):.0%} of {trials * epochs})  "
      f"pruned {pruned:2d}  failed {failed}  best val_macro_f1 {best:.4f}  wall {took} s")
PY
done
