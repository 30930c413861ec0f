#!/bin/sh
# Orchestration overhead: trials/s of an instant objective (branin, 1 epoch, no sleep) through the
# whole stack (coordinator, 2 worker processes, SQLite store, TPE), over local TCP and under
# mpirun (1 coordinator + 2 worker ranks), then Optuna + SQLite (TPE) in the same run.
# Each ensweep line gives two rates: the whole command (process and mpirun start-up, store creation
# included) and the sweep itself (first trial queued to last trial finished, from the store), the
# window that Optuna's figure covers (study.optimize, after interpreter start-up and create_study).
# Usage: bench/search/overhead.sh [ENSWEEP_BINARY] [TRIALS]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-"$root/build/apps/ensweep"}
trials=${2:-1000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
study() {  # study file with its own store
  cat > "$dir/$1.yaml" <<YAML
study: overhead-$1
storage: $dir/$1.sqlite
artifacts: $dir/$1-artifacts
trainer: {type: branin}
objective: {metric: value, direction: minimize}
budget: {trials: $trials, epochs: 1}
sampler: {type: tpe, seed: 0}
space:
  x1: {uniform: [-5, 10]}
  x2: {uniform: [0, 15]}
YAML
}
rate() {  # label, store, command...
  label=$1; store=$2; shift 2
  start=$(date +%s.%N)
  "$@" > "$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
  end=$(date +%s.%N)
  sweep=$(/usr/bin/python3 -c "import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
first, last, done = db.execute(\"SELECT MIN(queued_at), MAX(finished_at), SUM(state = 'COMPLETE') FROM trials\").fetchone()
print(f'{done} COMPLETE; sweep {last - first:.3f} s = {done / (last - first):.0f} trials/s')" "$store")
  echo "$label: $trials trials in $(echo "$end - $start" | bc -l | cut -c1-6) s = $(echo "$trials / ($end - $start)" | bc -l | cut -c1-7) trials/s with start-up; $sweep"
}
study tcp
rate "ensweep local TCP, 2 workers" "$dir/tcp.sqlite" "$bin" run "$dir/tcp.yaml" --workers 2 -q
study mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rate "ensweep mpirun -np 3 (2 worker ranks)" "$dir/mpi.sqlite" mpirun -np 3 --oversubscribe "$bin" run "$dir/mpi.yaml" -q
/usr/bin/python3 "$root/bench/search/optuna_peer.py" overhead "$trials"
