#!/bin/sh
# Orchestration overhead: trials/s of an instant objective (branin, 1 epoch, no sleep) through the
# whole stack (coordinator, 2 worker processes, SQLite store, TPE), over local TCP and under
# mpirun (1 coordinator + 2 worker ranks), then Optuna + SQLite (TPE) in the same run.
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
rate() {  # label, command...
  label=$1; shift
  start=$(date +%s.%N)
  "$@" > "$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
  end=$(date +%s.%N)
  echo "$label: $trials trials in $(echo "$end - $start" | bc -l | cut -c1-6) s = $(echo "$trials / ($end - $start)" | bc -l | cut -c1-7) trials/s"
}
study tcp
rate "ensweep local TCP, 2 workers" "$bin" run "$dir/tcp.yaml" --workers 2 -q
study mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rate "ensweep mpirun -np 3 (2 worker ranks)" mpirun -np 3 --oversubscribe "$bin" run "$dir/mpi.yaml" -q
/usr/bin/python3 "$root/bench/search/optuna_peer.py" overhead "$trials"
