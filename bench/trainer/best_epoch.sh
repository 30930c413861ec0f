#!/usr/bin/env bash
# ensweep's best-epoch value against PyTorch's with the same recipe, on the same images and the
# same person split. Runs from the repository root:
#   REPS=3 EPOCHS=15 bench/trainer/best_epoch.sh [path/to/ensweep]
# Data: the quickstart's (ensweep datagen --people 240 --image-size 96x128 --seed 0) under
# runs/bench_best_epoch/. ensweep: one study of REPS identical trials (custom_cnn, single head,
# SGD lr 0.05 momentum 0.9 weight decay 5e-4, cosine, flip 0.5, batch 32, 48x64, person split
# 0.2 with seed 0; trial seeds differ), 2 workers x 1 LibTorch thread, objective.scope best.
# Peer: best_epoch_peer.py, REPS seeds, 1 torch thread each, 2 at a time, on trial 0's
# val_index.csv. Prints every epoch's median validation macro F1 on each side, then each side's
# median best-epoch value, the epoch it came at, and the median last-epoch value.
set -euo pipefail
cd "$(dirname "$0")/../.."
ensweep=${1:-build/apps/ensweep}
reps=${REPS:-3}
epochs=${EPOCHS:-15}
out=runs/bench_best_epoch
mkdir -p "$out"
data=$out/data
[ -f "$data/train/train.csv" ] || "$ensweep" datagen --out "$data" --people 240 --image-size 96x128 --seed 0 > /dev/null
rm -rf "$out/study"
mkdir -p "$out/study"
cat > "$out/study/study.yaml" <<EOF
study: best_epoch
data:
  format: mask
  train: ../data/train
  image_size: [48, 64]
  split: {by: person, val_fraction: 0.2, seed: 0}
objective: {metric: val_macro_f1, direction: maximize, scope: best}
budget: {trials: $reps, epochs: $epochs}
sampler: {type: random, seed: 0}
space: {backbone: custom_cnn, head: single, optimizer: sgd, momentum: 0.9, lr: 0.05,
        weight_decay: 0.0005, schedule: cosine, flip_p: 0.5, batch_size: 32}
EOF
"$ensweep" run "$out/study/study.yaml" --workers 2 --threads 1 -q > "$out/ensweep_run.log"
"$ensweep" history "$out/study/study.yaml" -f csv -o "$out/ensweep_history.csv"
val_index=$(ls "$out"/study/artifacts/best_epoch/trial-00000/val_index.csv)
for seed in $(seq 0 $((reps - 1))); do
  /usr/bin/python3 bench/trainer/best_epoch_peer.py "$data/train" "$val_index" "$epochs" "$seed" \
      > "$out/peer_$seed.txt" &
  if (( seed % 2 == 1 )); then wait; fi
done
wait
/usr/bin/python3 - "$out" "$reps" "$epochs" <<'EOF'
import csv, statistics, sys
out, reps, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ours = {}  # trial -> [f1 per epoch]
for row in csv.DictReader(open(f"{out}/ensweep_history.csv")):
    ours.setdefault(row["trial"], {})[int(row["epoch"])] = float(row["val_macro_f1"])
ours = [[t[e] for e in range(1, epochs + 1)] for t in ours.values()]
peer = [[float(l.split()[3]) for l in open(f"{out}/peer_{s}.txt")] for s in range(reps)]
med = statistics.median
print(f"| epoch | ensweep val macro F1 (median of {reps}) | PyTorch (median of {reps}) |")
print("|---|---|---|")
for e in range(epochs):
    print(f"| {e + 1} | {med(c[e] for c in ours):.4f} | {med(c[e] for c in peer):.4f} |")
def summary(curves):
    best = [max(c) for c in curves]
    return med(best), med(c.index(max(c)) + 1 for c in curves), med(c[-1] for c in curves)
(ob, oe, ol), (pb, pe, pl) = summary(ours), summary(peer)
print()
print("| | best-epoch value | its epoch | last-epoch value |")
print("|---|---|---|---|")
print(f"| ensweep (median of {reps}) | {ob:.4f} | {oe} | {ol:.4f} |")
print(f"| PyTorch (median of {reps}) | {pb:.4f} | {pe} | {pl:.4f} |")
print(f"| ratio ensweep / PyTorch | {ob / pb:.3f} | | {ol / pl:.3f} |")
EOF
