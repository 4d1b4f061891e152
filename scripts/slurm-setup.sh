#!/bin/bash
# Sets up a real single-machine Slurm cluster for the tests (Debian 12's
# slurm-wlm 22.05): munge, slurmctld and slurmd on this host, one
# partition `debug` with this node, as root.
#
#   scripts/slurm-setup.sh          # install if needed, (re)start, wait until idle
#   scripts/slurm-setup.sh --stop   # stop slurmctld and slurmd
#
# Process tracking: proctrack/cgroup with the cgroup/v1 plugin when this
# machine has cgroup v1 hierarchies with a freezer (it tracks every process
# of a job, also those that start a session of their own, such as berth's
# detached container monitors, so scancel reaches them); else, or when a
# trial job fails with it, proctrack/linuxproc (tracks by parent process).
# The choice is printed and written to /run/berth-slurm/proctrack.
#
# The node declares at least 8 CPUs (SlurmdParameters=config_overrides),
# so that `srun -N1 -n4` fits on a 2-core machine.
set -euo pipefail

state=/run/berth-slurm
conf=/etc/slurm/slurm.conf
log() { printf 'slurm-setup: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "slurm-setup.sh: run as root" >&2; exit 1; }

stop() {
    for d in slurmd slurmctld; do
        if [ -s "$state/$d.pid" ] && kill -0 "$(cat "$state/$d.pid")" 2>/dev/null; then
            kill "$(cat "$state/$d.pid")" || true
        fi
    done
    # Wait for them to let go of their ports.
    for _ in $(seq 50); do
        local alive=false
        for d in slurmd slurmctld; do
            [ -s "$state/$d.pid" ] && kill -0 "$(cat "$state/$d.pid")" 2>/dev/null && alive=true
        done
        $alive || break
        sleep 0.1
    done
    rm -f "$state"/slurmd.pid "$state"/slurmctld.pid
}

if [ "${1:-}" = "--stop" ]; then
    stop
    exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in slurmctld slurmd slurm-client munge; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; }
fi

mkdir -p "$state"

# munge: a key, and the daemon (not under systemd on these machines).
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
        dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "slurm-setup.sh: munge does not work" >&2; exit 1; }

host=$(hostname -s)
getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >> /etc/hosts
cpus=$(nproc)
[ "$cpus" -ge 8 ] || cpus=8
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)

install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/log/slurm
install -d /var/lib/slurm/slurmd

write_conf() {
    cat > "$conf" <<CONF
# Written by berth's scripts/slurm-setup.sh: a one-machine test cluster.
ClusterName=berth
SlurmctldHost=$host
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/$1
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
InactiveLimit=0
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    cat > /etc/slurm/cgroup.conf <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
CONF
}

start() {
    stop
    slurmctld -i
    slurmd
    for _ in $(seq 100); do
        st=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
        case "$st" in
            idle*|mixed*|allocated*) return 0 ;;
            down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.2
    done
    echo "slurm-setup.sh: the node did not become idle; state: $(sinfo -h -N -o '%N %T %E' 2>&1)" >&2
    tail -5 /var/log/slurm/slurmd.log /var/log/slurm/slurmctld.log >&2 || true
    return 1
}

trial() { timeout 30 srun -N1 -n1 --quit-on-interrupt true >/dev/null 2>&1; }

proctrack=linuxproc
if [ -d /sys/fs/cgroup/freezer ] && grep -q ' - cgroup cgroup .*freezer' /proc/self/mountinfo; then
    write_conf cgroup
    if start && trial; then
        proctrack=cgroup
    else
        log "proctrack/cgroup does not work here; using proctrack/linuxproc"
    fi
fi
if [ "$proctrack" = linuxproc ]; then
    write_conf linuxproc
    start
    trial || { echo "slurm-setup.sh: a trial srun failed" >&2; exit 1; }
fi
echo "$proctrack" > "$state/proctrack"
log "ready: node $host ($cpus CPUs), partition debug, proctrack/$proctrack"
