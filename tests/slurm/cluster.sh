# A one-node Slurm cluster in a scratch folder, for tests/slurm/run.sh (sourced, not run).
#
#   slurm_start DIR CPUS   installs Debian's slurm-wlm and munge when missing (root only), writes
#                          DIR/slurm.conf (node "$(hostname -s)" on 127.0.0.1 offering CPUS CPUs
#                          through SlurmdParameters=config_overrides, whatever the machine has),
#                          starts munged, slurmctld and slurmd on it and waits until the node is
#                          idle; exports SLURM_CONF. Nothing is written outside DIR. The node
#                          has 4 stand-in GPUs (gres.conf names /dev/null, /dev/zero, /dev/full
#                          and /dev/urandom as their device files), so jobs may ask for --gpus
#                          and --gpus-per-task as on a GPU cluster; CPU workers train there.
#   slurm_stop             stops the three daemons by the PIDs they were started with.
#
# slurmd runs without cgroups (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none), so it
# runs in a container; ports come from ENSWEEP_SLURM_PORT (default 16817, and the next one).

SLURM_PIDS=()

slurm_log() { echo "[slurm] $*"; }

# Installs the packages when a daemon is missing. Returns 1 (with a message) when it cannot.
slurm_install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    slurm_log "slurm-wlm and munge are not installed and this is not root: cannot install them"
    return 1
  fi
  slurm_log "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null &&
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
    { slurm_log "apt-get install slurm-wlm munge failed"; return 1; }
}

# Waits up to $1 seconds for command $2... to succeed.
slurm_wait_for() {
  local limit=$1 t0=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || return 1
    sleep 0.5
  done
}

slurm_start() {
  local dir=$1 cpus=$2 node port
  node=$(hostname -s)
  port=${ENSWEEP_SLURM_PORT:-16817}
  mkdir -p "$dir"/{state,spool,munge}
  chmod 700 "$dir/munge"
  # munge: a fresh key, its own socket (slurm.conf's AuthInfo names it).
  dd if=/dev/urandom of="$dir/munge/key" bs=1024 count=1 status=none
  chmod 600 "$dir/munge/key"
  munged --force --key-file="$dir/munge/key" --socket="$dir/munge/sock" \
    --pid-file="$dir/munge/pid" --log-file="$dir/munge/log" --seed-file="$dir/munge/seed" ||
    { slurm_log "munged did not start"; cat "$dir/munge/log" 2>/dev/null; return 1; }
  slurm_wait_for 10 test -s "$dir/munge/pid" || { slurm_log "munged wrote no pid"; return 1; }
  SLURM_PIDS+=("$(cat "$dir/munge/pid")")
  cat >"$dir/slurm.conf" <<CONF
ClusterName=ensweep-test
GresTypes=gpu
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/sock,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  # Four stand-in GPUs: Slurm's gpu plug-in counts device files, and accepts any four.
  printf "Name=gpu File=/dev/null\nName=gpu File=/dev/zero\nName=gpu File=/dev/full\nName=gpu File=/dev/urandom\n" >"$dir/gres.conf"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -i -f "$SLURM_CONF" ||
    { slurm_log "slurmctld did not start"; tail -n 20 "$dir/slurmctld.log"; return 1; }
  slurm_wait_for 20 test -s "$dir/slurmctld.pid" || { slurm_log "slurmctld wrote no pid"; return 1; }
  SLURM_PIDS+=("$(cat "$dir/slurmctld.pid")")
  slurmd -f "$SLURM_CONF" -N "$node" ||
    { slurm_log "slurmd did not start"; tail -n 20 "$dir/slurmd.log"; return 1; }
  slurm_wait_for 20 test -s "$dir/slurmd.pid" || { slurm_log "slurmd wrote no pid"; return 1; }
  SLURM_PIDS+=("$(cat "$dir/slurmd.pid")")
  # The node is up once sinfo lists it idle.
  if ! slurm_wait_for 60 bash -c "sinfo -h -N -o %t | grep -qx idle"; then
    slurm_log "the node did not become idle within 60 s:"
    sinfo -N 2>&1 | sed 's/^/  /'
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log"
    return 1
  fi
  slurm_log "cluster up: node $node, $cpus CPUs, SLURM_CONF=$SLURM_CONF"
}

slurm_stop() {
  local pid i
  # slurmd first (it ends its job steps), then slurmctld, then munged.
  for ((i = ${#SLURM_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${SLURM_PIDS[i]}
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_PIDS=()
}
