#!/usr/bin/env bash
# The Slurm test: a one-node Slurm (tests/slurm/cluster.sh) on this machine, and every recipe in
# examples/slurm/ (docs/cluster.md) run on it with CPU workers standing in for GPU ones:
#   1. one_node.sbatch (srun --mpi=pmix), 20 trials on 4 worker ranks
#   2. salloc + mpirun, and mpirun_hostfile.sbatch
#   3. multi_node.sbatch on the one node (srun --distribution=arbitrary)
#   4. scancel mid-sweep, then the same job again: nothing lost, no retry charged
#   5. requeue.sbatch sent its time-limit signal mid-sweep: it stops, requeues itself, finishes
#   6. the finished study resubmitted: ends at once
#   7. plain srun -n 5 (no PMI plug-in): refused, naming --mpi=pmix; srun --mpi=pmi2: the run
#      names --mpi=pmix before Open MPI fails
#   8. workers_array.sbatch joining a coordinator started outside Slurm (token-file
#      authentication), one task cancelled mid-trial, one started after the study ended
#
#   tests/slurm/run.sh BUILD/apps/ensweep
#
# Exits 77 (CTest: skipped) with the reason when Slurm cannot be had here (not root and not
# installed). Every wait is bounded; the daemons are stopped by PID on any exit.
set -euo pipefail
ENSWEEP=$(realpath "${1:?usage: run.sh PATH/TO/ensweep}")
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
export ENSWEEP
source "$SOURCE/tests/slurm/cluster.sh"

if [[ $(id -u) != 0 ]]; then
  echo "SKIPPED: the Slurm test starts slurmd, which runs jobs as their users and needs root"
  exit 77
fi
if ! slurm_install; then
  echo "SKIPPED: the Slurm test needs slurm-wlm and munge, or root to install them"
  exit 77
fi
if ! command -v mpirun >/dev/null; then
  echo "SKIPPED: mpirun is not installed (scripts/setup.sh installs openmpi-bin)"
  exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ensweep-slurm.XXXXXX")
COORDINATOR_PID=
cleanup() {
  local status=$?
  [[ -n $COORDINATOR_PID ]] && kill "$COORDINATOR_PID" 2>/dev/null || true
  scancel --full --signal=KILL --user="$(id -un)" 2>/dev/null || true
  slurm_stop
  if ((status == 0)); then rm -rf "$WORK"; else echo "left for a look: $WORK"; fi
}
trap cleanup EXIT
# Open MPI refuses root unless told twice; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

slurm_start "$WORK/slurm" 16 || exit 1
cd "$WORK"
EXAMPLES=$SOURCE/examples/slurm
FAILED=0

pass() { echo "ok: $*"; }
fail() {
  echo "FAILED: $*"
  FAILED=1
}

# study NAME TRIALS EPOCH_TIME: a study file $WORK/NAME/study.yaml of the curve objective.
study() {
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/study.yaml" <<YAML
study: $1
storage: $WORK/$1/store.sqlite
artifacts: $WORK/$1/artifacts
trainer: {type: curve, epoch_time: $3, noise: 0.01}
objective: {metric: val_accuracy, direction: maximize}
budget: {trials: $2, epochs: 3}
space:
  lr: {log_uniform: [0.0001, 0.1]}
YAML
  echo "$WORK/$1/study.yaml"
}

# sql NAME QUERY: a query on study NAME's store.
sql() {
  /usr/bin/python3 - "$WORK/$1/store.sqlite" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute(sys.argv[2]).fetchone()[0])
PY
} 2>/dev/null || echo "?"

# check_done NAME TRIALS: every trial COMPLETE, none retried.
check_done() {
  local complete retried
  complete=$(sql "$1" "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'")
  retried=$(sql "$1" "SELECT COUNT(*) FROM trials WHERE retries > 0 OR state != 'COMPLETE'")
  if [[ $complete == "$2" && $retried == 0 ]]; then
    pass "$1: $2 trials complete, none retried"
  else
    fail "$1: $complete of $2 trials complete, $retried retried or not complete"
  fi
}

# wait_until SECONDS COMMAND...: polls until COMMAND succeeds; false after SECONDS.
wait_until() { slurm_wait_for "$@"; }

# job_state JOB: its state, e.g. RUNNING, COMPLETED, PENDING.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
job_ended() { [[ $(job_state "$1") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)$ ]]; }
complete_at_least() { (($(sql "$1" "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'" 2>/dev/null || echo 0) >= $2)); }

# submit OUTPUT OPTIONS... SCRIPT: sbatch --wait, bounded; returns the job's exit status.
submit_wait() {
  local out=$1
  shift
  timeout 180 sbatch --wait --output="$out" "$@" >/dev/null
}

scenario() { echo "== $*"; }

scenario "1. one_node.sbatch: srun --mpi=pmix, 20 trials on 4 worker ranks"
STUDY=$(study pmix 20 0s) submit_wait pmix.out "$EXAMPLES/one_node.sbatch" &&
  grep -q "4 MPI worker ranks" pmix.out && pass "one_node.sbatch ran" || fail "one_node.sbatch: $(cat pmix.out)"
check_done pmix 20

scenario "2. salloc + mpirun, and mpirun_hostfile.sbatch"
STUDY=$(study salloc 20 0s)
if timeout 180 salloc -n 5 mpirun --bind-to none "$ENSWEEP" run "$STUDY" \
  >salloc.out 2>&1; then
  pass "salloc -n 5 mpirun ran"
else
  fail "salloc + mpirun: $(cat salloc.out)"
fi
check_done salloc 20
STUDY=$(study hostfile 20 0s) submit_wait hostfile.out --nodes=1 "$EXAMPLES/mpirun_hostfile.sbatch" &&
  grep -q "4 MPI worker ranks" hostfile.out && pass "mpirun_hostfile.sbatch ran" ||
  fail "mpirun_hostfile.sbatch: $(cat hostfile.out)"
check_done hostfile 20

scenario "3. multi_node.sbatch on one node"
STUDY=$(study multi 20 0s) submit_wait multi.out --nodes=1 "$EXAMPLES/multi_node.sbatch" &&
  grep -q "4 MPI worker ranks" multi.out && pass "multi_node.sbatch ran" ||
  fail "multi_node.sbatch: $(cat multi.out)"
check_done multi 20

scenario "4. scancel mid-sweep, then the job again"
STUDY=$(study cancel 20 0.3s)
job=$(STUDY=$STUDY sbatch --parsable --output=cancel.out "$EXAMPLES/one_node.sbatch")
if wait_until 90 complete_at_least cancel 4; then
  scancel "$job"
  wait_until 60 job_ended "$job" || fail "job $job did not end within 60 s of scancel"
  interrupted=$(sql cancel "SELECT COUNT(*) FROM trials WHERE error LIKE 'interrupted:%'")
  echo "   cancelled with $(sql cancel "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'") complete, $interrupted interrupted"
  STUDY=$STUDY submit_wait cancel2.out "$EXAMPLES/one_node.sbatch" && pass "resubmitted job ran" ||
    fail "resubmitted job: $(cat cancel2.out)"
  check_done cancel 20
else
  fail "the sweep to cancel made no progress: $(cat cancel.out)"
fi

scenario "5. requeue.sbatch: the time-limit signal mid-sweep"
STUDY=$(study requeue 20 0.3s)
job=$(STUDY=$STUDY sbatch --parsable --output=requeue.out "$EXAMPLES/requeue.sbatch")
if wait_until 90 complete_at_least requeue 4; then
  scancel --batch --signal=TERM "$job"  # what --signal=B:TERM@120 sends before the limit
  # Requeued, it waits for Slurm's requeue delay (BeginTime: the credential lifetime, cut to 10 s
  # by cluster.sh's cred_expire; starting it sooner by hand races the node's revoked credential,
  # "Job credential revoked"); then it runs again and ends for good once the study is finished.
  if wait_until 240 bash -c "[[ \$(scontrol show job $job | grep -o 'Restarts=[0-9]*') != Restarts=0 ]] && \
      scontrol show job $job | grep -q JobState=COMPLETED"; then
    pass "requeue.sbatch stopped, requeued itself and finished"
  else
    fail "requeue.sbatch: $(scontrol show job "$job" | head -5) $(cat requeue.out)"
  fi
  grep -q "stopped: " requeue.out && grep -q "requeueing job" requeue.out ||
    fail "requeue.sbatch's output lacks its stop: $(cat requeue.out)"
  check_done requeue 20
else
  fail "the sweep to requeue made no progress: $(cat requeue.out)"
fi

scenario "6. the finished study resubmitted"
t0=$SECONDS
STUDY=$WORK/pmix/study.yaml submit_wait again.out "$EXAMPLES/one_node.sbatch" &&
  grep -q "nothing to run" again.out && pass "ended in $((SECONDS - t0)) s" ||
  fail "the finished study's job: $(cat again.out)"

scenario "7. plain srun -n 5 (no PMI plug-in)"
STUDY=$(study plain 4 0s)
if timeout 60 srun -n 5 "$ENSWEEP" run "$STUDY" >plain.out 2>&1; then
  fail "plain srun was not refused: $(cat plain.out)"
elif grep -q -- "--mpi=pmix" plain.out && [[ ! -e $WORK/plain/store.sqlite ]]; then
  pass "refused, naming --mpi=pmix"
else
  fail "plain srun: $(cat plain.out)"
fi

# srun --mpi=pmi2: Debian's Open MPI cannot start under it; the run says what to use.
timeout 60 srun --mpi=pmi2 -n 2 "$ENSWEEP" run "$STUDY" >pmi2.out 2>&1 || true
grep -q "use srun --mpi=pmix" pmi2.out && pass "srun --mpi=pmi2: the run names --mpi=pmix" ||
  fail "srun --mpi=pmi2: $(cat pmi2.out)"

scenario "8. workers_array.sbatch joining a coordinator started elsewhere"
STUDY=$(study array 12 0.3s)
"$ENSWEEP" run "$STUDY" --listen 0.0.0.0:0 --workers 0 >coordinator.out 2>&1 &
COORDINATOR_PID=$!
if wait_until 30 grep -q -- "--token-file" coordinator.out; then
  COORDINATOR=$(sed -n 's/.*ensweep worker --connect \([^ ]*\) --token-file.*/\1/p' coordinator.out)
  TOKEN_FILE=$(sed -n 's/.*--token-file \([^ )]*\)).*/\1/p' coordinator.out)
  # What the coordinator offers is its host's name; a container whose name does not resolve
  # (no /etc/hosts entry) uses the loopback address instead.
  getent hosts "${COORDINATOR%:*}" >/dev/null || COORDINATOR=127.0.0.1:${COORDINATOR##*:}
  export COORDINATOR TOKEN_FILE
  job=$(sbatch --parsable --array=1-4 --output="$WORK/array-%a.out" "$EXAMPLES/workers_array.sbatch")
  # One task cancelled while it trains: its trial goes back to the queue, uncharged.
  if wait_until 90 grep -q " started: " "$WORK/array-2.out"; then
    scancel "${job}_2"
  else
    fail "array task 2 got no trial: $(cat "$WORK/array-2.out" 2>/dev/null)"
  fi
  if wait_until 180 bash -c "! kill -0 $COORDINATOR_PID 2>/dev/null"; then
    wait "$COORDINATOR_PID" && pass "the coordinator finished with array workers" ||
      fail "coordinator: $(cat coordinator.out)"
  else
    fail "the coordinator did not finish: $(cat coordinator.out)"
  fi
  COORDINATOR_PID=
  grep -q "given back" "$WORK/array-2.out" || fail "task 2 did not give its trial back: $(cat "$WORK/array-2.out")"
  check_done array 12
  [[ $(sql array "SELECT COUNT(DISTINCT worker) FROM trials WHERE worker LIKE 'array-%'") -ge 2 ]] ||
    fail "fewer than 2 array tasks ran trials"
  wait_until 60 bash -c "! squeue -h -j $job | grep -q ." || fail "array tasks still running"
  # A task that starts after the study ended exits 0 at once.
  submit_wait late.out --array=5 "$EXAMPLES/workers_array.sbatch" && grep -q "is finished" late.out &&
    pass "a late array task exited 0" || fail "late array task: $(cat late.out)"
else
  fail "the coordinator did not start: $(cat coordinator.out)"
fi

if ((FAILED)); then
  echo "the Slurm test FAILED"
  exit 1
fi
echo "the Slurm test passed"
