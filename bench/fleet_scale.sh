#!/usr/bin/env bash
# How many VMs `ember up` holds at once on this host, and what they cost: starts N idle
# guests (guests/idle.c: sti; hlt forever) of MEM MiB each from N VM files, waits until
# all are Running, sums the VM processes' RSS and PSS, then stops the fleet (SIGTERM to
# ember up) and times it.   Usage: bench/fleet_scale.sh [N (default 100, max 256)] [MEM]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100} MEM=${2:-64}
EMBER=${EMBER:-build/ember}
make --no-print-directory "$EMBER" guests >/dev/null
dir=$(mktemp -d)
trap 'pkill -KILL -f "ember up --stop-timeout 5 $dir" 2>/dev/null || true; rm -rf "$dir"' EXIT
for i in $(seq 1 "$N"); do
	printf '[base]\nname = "idle%03d"\n[kernel]\nkernel_path = "%s"\nmemory_mib = %s\n' \
		"$i" "$PWD/build/guests/idle.elf" "$MEM" >"$dir/vm$i.toml"
done
export EMBER_RUN_DIR=$dir/run
t0=$(date +%s%N)
"$EMBER" up --stop-timeout 5 "$dir"/vm*.toml >"$dir/up.out" 2>&1 &
up=$!
n=0
for _ in $(seq 1 600); do
	n=$(grep -c " Running$" "$dir/up.out" || true)
	[ "$n" -ge "$N" ] && break
	sleep 0.1
done
t1=$(date +%s%N)
rss=0 pss=0 procs=0
for p in $(pgrep -f "ember run --config $dir/" || true); do
	rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
	pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
	procs=$((procs + 1))
done
sup=$(awk '/^VmRSS/ {print $2}' "/proc/$up/status")
t2=$(date +%s%N)
kill -TERM "$up"
wait "$up" || true
t3=$(date +%s%N)
echo "| VMs running at once | $n of $N ($MEM MiB each) |"
echo "| time until all Running | $(( (t1 - t0) / 1000000 )) ms |"
echo "| VM processes: sum of RSS / sum of PSS | $((rss / 1024)) MiB / $((pss / 1024)) MiB ($procs processes) |"
echo "| supervisor RSS | $((sup / 1024)) MiB |"
echo "| stop of the whole fleet (SIGTERM to ember up) | $(( (t3 - t2) / 1000000 )) ms |"
echo "| summary | $(tail -1 "$dir/up.out") |"
[ "$n" -ge "$N" ]
