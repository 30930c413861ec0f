#!/bin/sh
# Coordinator scaling: TRIALS instant trials (branin, 1 epoch, the random sampler, so the sampler
# costs nothing) through the whole stack (coordinator, 2 local TCP workers, SQLite store), then
# the rate of the first and of the last WINDOW trials to finish, read from the store's
# timestamps, and their ratio (1.0: the coordinator's cost per trial does not grow with the
# study), then the rate of each tenth of the trials. Usage: bench/search/scale.sh [ENSWEEP_BINARY]
# [TRIALS] [WINDOW]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-"$root/build/apps/ensweep"}
trials=${2:-100000}
window=${3:-10000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/scale.yaml" <<YAML
study: scale
storage: $dir/scale.sqlite
artifacts: $dir/artifacts
trainer: {type: branin}
objective: {metric: value, direction: minimize}
budget: {trials: $trials, epochs: 1}
sampler: {type: random, seed: 0}
space:
  x1: {uniform: [-5, 10]}
  x2: {uniform: [0, 15]}
YAML
start=$(date +%s.%N)
"$bin" run "$dir/scale.yaml" --workers 2 -q > "$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
end=$(date +%s.%N)
/usr/bin/python3 - "$dir/scale.sqlite" "$window" "$(echo "$end - $start" | bc -l)" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
window, seconds = int(sys.argv[2]), float(sys.argv[3])
ends = [r[0] for r in db.execute("SELECT finished_at FROM trials WHERE state = 'COMPLETE' ORDER BY finished_at")]
def rate(part):
    return (len(part) - 1) / (part[-1] - part[0])
first, last = rate(ends[:window]), rate(ends[-window:])
print(f"{len(ends)} COMPLETE in {seconds:.1f} s; first {window}: {first:.0f} trials/s, "
      f"last {window}: {last:.0f} trials/s, last/first {last / first:.2f}")
tenth = len(ends) // 10
print("by tenths: " + " ".join(f"{rate(ends[i * tenth:(i + 1) * tenth]):.0f}" for i in range(10)))
PY
