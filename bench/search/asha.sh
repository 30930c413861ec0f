#!/bin/sh
# Early stopping on the learning-curve simulator: the same study (TPE, 60 trials x 27 epochs, 2
# local workers) without pruning and with ASHA (min_epochs 1, reduction 3), for several sampler
# seeds; prints epochs spent, the best COMPLETE value per run and that trial's noiseless value (what
# the picked configuration is really worth: the best value seen also carries the luck of its noise),
# then the medians.
# Usage: bench/search/asha.sh [ENSWEEP_BINARY] [SEEDS] [PRUNER...]
#   (MIN_EPOCHS=1, REDUCTION=3 and WORKERS=2 by default)
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-"$root/build/apps/ensweep"}
seeds=${2:-5}
shift 2 2>/dev/null || true
pruners=${*:-"none asha hyperband median"}
min_epochs=${MIN_EPOCHS:-1}
reduction=${REDUCTION:-3}
workers=${WORKERS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for pruner in $pruners; do
  seed=0
  while [ "$seed" -lt "$seeds" ]; do
    cat > "$dir/s.yaml" <<YAML
study: curve-$pruner-$seed
storage: $dir/$pruner-$seed.sqlite
artifacts: $dir/artifacts
trainer: {type: curve, noise: 0.01}
objective: {metric: val_accuracy, direction: maximize}
budget: {trials: 60, epochs: 27}
sampler: {type: tpe, seed: $seed}
pruner: {type: $pruner, min_epochs: $min_epochs, reduction: $reduction}
space:
  lr: {log_uniform: [1.0e-5, 1.0e-1]}
  weight_decay: {log_uniform: [1.0e-6, 1.0e-2]}
  batch_size: {int: [16, 256], step: 16}
  optimizer: {choice: [sgd, adam, adamw]}
  dropout: {uniform: [0.0, 0.5]}
YAML
    "$bin" run "$dir/s.yaml" --workers "$workers" -q > "$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
    /usr/bin/python3 - "$dir/$pruner-$seed.sqlite" "$pruner" "$seed" <<'PY' | tee -a "$dir/results"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
epochs, = db.execute("SELECT SUM(epochs_done) FROM trials").fetchone()
best, clean = db.execute("SELECT value, json_extract(metrics, '$.noiseless') FROM trials "
                         "WHERE state = 'COMPLETE' ORDER BY value DESC LIMIT 1").fetchone()
pruned, = db.execute("SELECT COUNT(*) FROM trials WHERE state = 'PRUNED'").fetchone()
print(f"{sys.argv[2]:9s} seed {sys.argv[3]}: epochs {epochs:5d} ({epochs / (60 * 27):.0%} of 1620)  "
      f"pruned {pruned:2d}  noiseless {clean:.4f}  best {best:.4f}")
PY
    seed=$((seed + 1))
  done
done
/usr/bin/python3 - "$dir/results" "$min_epochs" "$reduction" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    runs.setdefault(f[0], []).append((int(f[4]), float(f[-1]), float(f[-3])))
print(f"medians over seeds (min_epochs {sys.argv[2]}, reduction {sys.argv[3]}); best: the best "
      f"COMPLETE value seen; noiseless: that trial's value at epoch 27 without the noise")
def spread(values):
    values = sorted(values)
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[1]:.4f} [{q[0]:.4f}, {q[2]:.4f}]"
for pruner, rows in runs.items():
    spent = statistics.median(r[0] for r in rows)
    print(f"  {pruner:9s} epochs {spent:6.0f} ({spent / 1620:.0%})  best {spread(r[1] for r in rows)}"
          f"  noiseless {spread(r[2] for r in rows)}")
PY
