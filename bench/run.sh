#!/usr/bin/env bash
# Ember's benchmark: Ember against QEMU's microvm machine and against the bare-KVM floor
# (bench/floor.c), in one run. `make bench` runs it. See bench/README.md.
#
# Writes, under $BENCH_OUT (default bench/results/):
#   latest.md     Markdown report: machine, versions, the results table, spreads, commands
#   latest.png    chart (gnuplot)
#   latest.csv    summary: one line per metric and VMM (median, p10, p90, min, max, n)
#   raw/*.csv     every run (startup, memory, exits, create), as the runner printed it
#
# Settings (environment):
#   BENCH_RUNS=30         start-up runs per VMM (minimal guest)
#   BENCH_EXIT_RUNS=15    runs per VMM and guest for the exit cost (N loops and 0 loops)
#   BENCH_LOOPS=20000     N: exits per exit-cost guest
#   BENCH_PAR=20          VMs started at once for the creation rate
#   BENCH_PAR_ROUNDS=10   rounds of BENCH_PAR VMs per VMM
#   BENCH_MEM_RUNS=5      peak-RSS runs and memory snapshots per VMM
#   BENCH_SNAPSHOT_MS=300 when the memory snapshot is taken, after spawning the VMM
#   BENCH_MEMORY=128      guest memory (MiB) for every run
#   BENCH_PIO_PORT=0x5e0  port the PIO guest writes (claimed by none of the three VMMs)
#   BENCH_MMIO_ADDR=0xd0000000  address the MMIO guest writes (3-4 GiB gap, unclaimed)
#   BENCH_NESTED=0        1: also run tests/nested/run.sh compare (Linux boot, minutes)
#                         and tests/nested/run.sh throughput (virtio-blk/net vs QEMU)
#   BENCH_NESTED_CMD="tests/nested/run.sh compare"   what BENCH_NESTED=1 runs
#   BENCH_OUT=bench/results
#   BENCH_BUILD_ONLY=1    build the runner, the floor and the guests, then stop
#   EMBER_KVM=auto        where the VMs of sections 1-4 run (tests/kvm-host.sh): this
#                         machine's /dev/kvm when usable, else the nested test host
#   BENCH_STAGE           "report": only remake the report from raw/ of an earlier run;
#                         ("measure" is the part tests/kvm-host.sh runs)
#   BUILD=build  EMBER=$BUILD/ember  QEMU=qemu-system-x86_64  QEMU_BIOS=/usr/share/qemu/qboot.rom
set -euo pipefail
shopt -s lastpipe   # `... | put` records its statistics in this shell

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BUILD=${BUILD:-build}
EMBER=${EMBER:-$BUILD/ember}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_BIOS=${QEMU_BIOS:-/usr/share/qemu/qboot.rom}
BENCH_RUNS=${BENCH_RUNS:-30}
BENCH_EXIT_RUNS=${BENCH_EXIT_RUNS:-15}
BENCH_LOOPS=${BENCH_LOOPS:-20000}
BENCH_PAR=${BENCH_PAR:-20}
BENCH_PAR_ROUNDS=${BENCH_PAR_ROUNDS:-10}
BENCH_MEM_RUNS=${BENCH_MEM_RUNS:-5}
BENCH_SNAPSHOT_MS=${BENCH_SNAPSHOT_MS:-300}
BENCH_MEMORY=${BENCH_MEMORY:-128}
BENCH_PIO_PORT=${BENCH_PIO_PORT:-0x5e0}
BENCH_MMIO_ADDR=${BENCH_MMIO_ADDR:-0xd0000000}
BENCH_NESTED=${BENCH_NESTED:-0}
BENCH_NESTED_CMD=${BENCH_NESTED_CMD:-tests/nested/run.sh compare}
BENCH_OUT=${BENCH_OUT:-bench/results}
# Seconds any single run may take before the runner kills it (a hung VMM fails, not hangs).
RUN_TIMEOUT=60

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# --- dependencies (fresh Debian 12) -------------------------------------------------------

need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    }
}
# Two stages: this script builds everything and makes the report on this machine; the
# measurements (sections 1-4) need a KVM and run in a second call of it, BENCH_STAGE=measure,
# through tests/kvm-host.sh: on this machine's /dev/kvm when it is usable, else inside the
# nested test host (the same files, no network there: nothing is installed or fetched).
BENCH_STAGE=${BENCH_STAGE:-all}
B=$BUILD/bench
G=$B/guests
RUNNER=$B/runner
FLOOR=$B/floor
if [ "$BENCH_STAGE" = all ]; then
need_pkgs gcc make libc6-dev binutils qemu-system-x86 qemu-system-data gnuplot-nox

# --- build: Ember, the runner, the floor, the guests ----------------------------------------

if [ "$EMBER" = "$BUILD/ember" ]; then make -s --no-print-directory "$EMBER" >/dev/null; fi
[ -x "$EMBER" ] || die "no Ember binary at $EMBER"
mkdir -p "$G"
HOSTCFLAGS="-std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion"
for t in runner floor; do
    if [ ! -x "$B/$t" ] || [ "bench/$t.c" -nt "$B/$t" ]; then
        gcc $HOSTCFLAGS -o "$B/$t" "bench/$t.c"
    fi
done

# guest NAME KIND LOOPS: one image of bench/guest.S (kinds: 0 reset, 1 pio, 2 mmio, 3 hold).
guest() {
    gcc -c -DBENCH_KIND="$2" -DBENCH_LOOPS="$3" -DBENCH_PORT="$BENCH_PIO_PORT" \
        -DBENCH_MMIO="$BENCH_MMIO_ADDR" -o "$G/$1.o" bench/guest.S
    ld -nostdlib -static --build-id=none -z max-page-size=4096 -z noexecstack \
        -T bench/guest.ld -o "$G/$1.elf" "$G/$1.o"
}
guest reset 0 0
guest hold 3 0
guest pio-0 1 0
guest pio-N 1 "$BENCH_LOOPS"
guest mmio-0 2 0
guest mmio-N 2 "$BENCH_LOOPS"
# bench/profile.sh uses the same build.
[ "${BENCH_BUILD_ONLY:-0}" = 1 ] && exit 0
fi  # BENCH_STAGE=all: packages and build
[ -x "$EMBER" ] || die "no Ember binary at $EMBER"

# --- the VMMs ---------------------------------------------------------------------------------

VMMS=(ember qemu floor floorirq)
EXIT_VMMS=(ember qemu floor)  # the exit-cost runs (the irqchip floor adds nothing there)
declare -A NAME=([ember]=Ember [qemu]="QEMU microvm" [floor]=floor
                 [floorirq]="floor + irqchip/PIT")
QEMU_ARGS=(-M microvm,pit=off,pic=off,rtc=off,acpi=off,pcie=off,isa-serial=off,graphics=off
           -bios "$QEMU_BIOS" -enable-kvm -cpu host,-arch-capabilities -smp 1
           -m "$BENCH_MEMORY" -nodefaults -no-user-config -display none -no-reboot)
QEMU_PATH=$(command -v "$QEMU") || die "no $QEMU"
# cmd VMM GUEST [hold]: prints the command line, one word per line.
cmd() {
    case $1 in
        ember) printf '%s\n' "$EMBER" run --kernel "$2" --memory "$BENCH_MEMORY" --vcpus 1 ;;
        qemu) printf '%s\n' "$QEMU_PATH" "${QEMU_ARGS[@]}" -kernel "$2" ;;
        floor) printf '%s\n' "$FLOOR" ${3:+--hold} --memory "$BENCH_MEMORY" "$2" ;;
        floorirq) printf '%s\n' "$FLOOR" --irqchip ${3:+--hold} --memory "$BENCH_MEMORY" "$2" ;;
    esac
}
# run VMM GUEST RUNNER-ARGS...: one runner call (CSV on stdout).
run() {
    local vmm=$1 g=$2; shift 2
    local -a c
    mapfile -t c < <(cmd "$vmm" "$G/$g.elf" ${HOLD:+hold})
    "$RUNNER" -t "$RUN_TIMEOUT" -e "$ERRLOG" "$@" -- "${c[@]}"
}

OUT=$BENCH_OUT
mkdir -p "$OUT/raw"
ERRLOG=$OUT/raw/stderr.log
S=$OUT/raw/startup.csv
H=$OUT/raw/memory-peak.csv
M=$OUT/raw/memory-snapshot.csv
X=$OUT/raw/exits.csv
C=$OUT/raw/create.csv
MACHINE=$OUT/raw/machine.env

if [ "$BENCH_STAGE" = all ]; then
    rm -f "$MACHINE"
    # Relative paths, so that the second call finds the same files from the repository.
    # (Its sections print one line each and run for minutes in the nested host.)
    KVM_HOST_QUIET=${KVM_HOST_QUIET:-1800} tests/kvm-host.sh --name bench env BENCH_STAGE=measure BUILD="$BUILD" EMBER="$EMBER" \
        BENCH_OUT="$BENCH_OUT" bench/run.sh ||
        die "the measurements did not complete (above); no report written"
    [ -s "$MACHINE" ] || die "the measurements wrote no $MACHINE"
    BENCH_STAGE=report
fi

if [ "$BENCH_STAGE" = measure ]; then
[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is missing or not usable by $(id -un)"
: > "$ERRLOG"
NPROC=$(nproc)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)

# --- 1. start-up: minimal guest, sequential, interleaved -------------------------------------

say "start-up: $BENCH_RUNS runs per VMM (minimal guest)"
echo "vmm,run,wall_us,user_us,sys_us,maxrss_kb,status" > "$S"
for ((i = 1; i <= BENCH_RUNS; i++)); do
    for v in "${VMMS[@]}"; do run "$v" reset -r "$i" -l "$v" >> "$S"; done
done

# --- 2. memory: snapshot of /proc/PID/smaps with the guest halted at its entry ---------------

say "memory: $BENCH_MEM_RUNS peak-RSS runs (minimal guest) and snapshots at ${BENCH_SNAPSHOT_MS} ms (hold guest) per VMM"
echo "vmm,run,hwm_kb,status" > "$H"
echo "vmm,run,rss_kb,guest_kb,other_kb,anon_kb,file_kb,threads,alive,guest_vmas" > "$M"
for ((i = 1; i <= BENCH_MEM_RUNS; i++)); do
    for v in "${VMMS[@]}"; do
        run "$v" reset -r "$i" -l "$v" -H >> "$H"
        HOLD=1 run "$v" hold -r "$i" -l "$v" -w "$BENCH_SNAPSHOT_MS" -g "$BENCH_MEMORY" >> "$M"
    done
done

# --- 3. exit cost: N loops and 0 loops, PIO and MMIO -------------------------------------------

say "exit cost: $BENCH_EXIT_RUNS runs per VMM and guest, N=$BENCH_LOOPS"
echo "vmm_guest,run,wall_us,user_us,sys_us,maxrss_kb,status" > "$X"
for ((i = 1; i <= BENCH_EXIT_RUNS; i++)); do
    for k in pio mmio; do
        for v in "${EXIT_VMMS[@]}"; do
            run "$v" "$k-N" -r "$i" -l "$v-$k-N" >> "$X"
            run "$v" "$k-0" -r "$i" -l "$v-$k-0" >> "$X"
        done
    done
done

# --- 4. creation rate: BENCH_PAR VMs at once -------------------------------------------------

say "creation rate: $BENCH_PAR_ROUNDS rounds of $BENCH_PAR VMs started at once per VMM"
echo "vmm,run,wall_us,cpu_us,maxrss_kb,failures" > "$C"
for ((i = 1; i <= BENCH_PAR_ROUNDS; i++)); do
    for v in "${VMMS[@]}"; do run "$v" reset -r "$i" -l "$v" -p "$BENCH_PAR" >> "$C"; done
done

# What the report says of the machine the VMs ran on (the nested test host, when it was).
KVM_FLAVOUR="${EMBER_KVM_WHERE:-host /dev/kvm}:"
for m in kvm_pvm kvm_intel kvm_amd; do
    if [ -d /sys/module/$m ]; then KVM_FLAVOUR+=" $m"; fi
done
case $KVM_FLAVOUR in
    *kvm_pvm*) KVM_FLAVOUR+=" (software KVM: every guest instruction is emulated)" ;;
    nested*) KVM_FLAVOUR+=" (real KVM on an emulated SVM CPU: guest code runs at QEMU TCG speed, every exit is a nested exit)" ;;
esac
{
    printf 'KVM_FLAVOUR=%q\n' "$KVM_FLAVOUR"
    printf 'CPU_MODEL=%q\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    printf 'KERNEL=%q\n' "$(uname -r)"
    printf 'NPROC=%q\n' "$NPROC"
    printf 'THP=%q\n' "$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
    printf 'LOAD_BEFORE=%q\n' "$LOAD_BEFORE"
    printf 'LOAD_AFTER=%q\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'T_START=%q\nT_END=%q\n' "$T_START" "$(date +%s)"
} > "$MACHINE"
exit 0
fi  # BENCH_STAGE=measure
# BENCH_STAGE=report: the machine facts of the measuring stage.
# shellcheck source=/dev/null
. "$MACHINE"

# --- 5. Linux boot in the nested test host (optional) -----------------------------------------

NESTED_MD=$OUT/raw/nested.md
NESTED_STATUS="not run (set BENCH_NESTED=1)"
rm -f "$NESTED_MD"
if [ "$BENCH_NESTED" = 1 ]; then
    say "nested: $BENCH_NESTED_CMD (takes minutes)"
    rc=0
    EMBER=$EMBER $BENCH_NESTED_CMD > "$OUT/raw/nested.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        NESTED_STATUS=ok
    else
        NESTED_STATUS="failed (exit $rc, see raw/nested.log)"
    fi
    grep '^|' "$OUT/raw/nested.log" > "$NESTED_MD" || true
fi
TP_MD=$OUT/raw/throughput.md
TP_STATUS="not run (set BENCH_NESTED=1, or run tests/nested/run.sh throughput)"
rm -f "$TP_MD"
if [ "$BENCH_NESTED" = 1 ]; then
    say "nested: tests/nested/run.sh throughput (takes minutes)"
    rc=0
    EMBER=$EMBER tests/nested/run.sh throughput > "$OUT/raw/throughput.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then TP_STATUS=ok; else TP_STATUS="failed (exit $rc, see raw/throughput.log)"; fi
    grep '^|' "$OUT/raw/throughput.log" > "$TP_MD" || true
fi


# --- statistics ---------------------------------------------------------------------------------

# Values on stdin, one per line -> "median p10 p90 min max n" (nearest-rank percentiles).
stats() {
    sort -g | awk '{ v[NR] = $1 }
        function rank(p,  i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] }
        END {
            if (NR == 0) { print "- - - - - 0"; exit }
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.6g %.6g %.6g %.6g %.6g %d\n", med, rank(0.1), rank(0.9), v[1], v[NR], NR
        }'
}
# col FILE LABEL EXPR: the awk expression over the CSV fields of LABEL's successful lines.
col() {
    awk -F, -v l="$2" 'NR > 1 && $1 == l '"${4:-}"' { print '"$3"' }' "$1"
}
# failures FILE LABEL STATUS_FIELD
failures() { awk -F, -v l="$2" -v f="$3" 'NR > 1 && $1 == l && $f != 0 { n++ } END { print n + 0 }' "$1"; }

SUM=$OUT/latest.csv
echo "metric,vmm,median,p10,p90,min,max,n,unit" > "$SUM"
declare -A MED P10 P90 CNT
# put METRIC VMM UNIT: reads "median p10 p90 min max n" on stdin, records it.
put() {
    local m med p10 p90 mn mx n
    read -r med p10 p90 mn mx n
    MED[$1.$2]=$med; P10[$1.$2]=$p10; P90[$1.$2]=$p90; CNT[$1.$2]=$n
    echo "$1,$2,$med,$p10,$p90,$mn,$mx,$n,$3" >> "$SUM"
}

FAILED=0
case $NESTED_STATUS in failed*) FAILED=1 ;; esac
declare -A FAILS
for v in "${VMMS[@]}"; do
    f=$(failures "$S" "$v" 7); FAILS[startup.$v]=$f; FAILED=$((FAILED + f))
    col "$S" "$v" '$3 / 1000' '&& $7 == 0' | stats | put startup_wall "$v" ms
    col "$S" "$v" '($4 + $5) / 1000' '&& $7 == 0' | stats | put startup_cpu "$v" ms
    col "$S" "$v" '$6 / 1024' '&& $7 == 0' | stats | put ru_maxrss "$v" MiB
    f=$(failures "$H" "$v" 4); FAILS[peak.$v]=$f; FAILED=$((FAILED + f))
    col "$H" "$v" '$3 / 1024' '&& $4 == 0 && $3 > 0' | stats | put maxrss "$v" MiB
    col "$M" "$v" '$4 / 1024' '&& $9 == 1' | stats | put guest_touched "$v" MiB
    col "$M" "$v" '$3 / 1024' '&& $9 == 1' | stats | put snap_rss "$v" MiB
    col "$M" "$v" '$5 / 1024' '&& $9 == 1' | stats | put snap_other "$v" MiB
    col "$M" "$v" '$6 / 1024' '&& $9 == 1' | stats | put snap_anon "$v" MiB
    col "$M" "$v" '$7 / 1024' '&& $9 == 1' | stats | put snap_file "$v" MiB
    col "$M" "$v" '$8' '&& $9 == 1' | stats | put snap_threads "$v" threads
    FAILS[memory.$v]=$(awk -F, -v l="$v" 'NR > 1 && $1 == l && ($9 != 1 || $10 != 1) { n++ } END { print n + 0 }' "$M")
    # Overhead: each minimal-guest run's peak RSS minus the median guest memory touched at
    # entry (the hold guest's guest-RAM mapping).
    gt=${MED[guest_touched.$v]}
    if [ "$gt" = - ]; then echo "- - - - - 0"; else col "$H" "$v" "\$3 / 1024 - $gt" '&& $4 == 0 && $3 > 0' | stats; fi |
        put overhead "$v" MiB
    # Creation rate: VMs per second per core, per round.
    f=$(failures "$C" "$v" 6); FAILS[create.$v]=$f; FAILED=$((FAILED + f))
    col "$C" "$v" "$BENCH_PAR / (\$3 / 1e6) / $NPROC" '&& $6 == 0' | stats | put create_rate "$v" "VMs/s/core"
    col "$C" "$v" "$BENCH_PAR / (\$3 / 1e6)" '&& $6 == 0' | stats | put create_total "$v" "VMs/s"
    col "$C" "$v" "\$3 / 1000" '&& $6 == 0' | stats | put create_wall "$v" ms
    col "$C" "$v" "\$4 / $BENCH_PAR / 1000" '&& $6 == 0' | stats | put create_cpu "$v" "ms/VM"
done
for v in "${EXIT_VMMS[@]}"; do
    for k in pio mmio; do
        f=$(( $(failures "$X" "$v-$k-N" 7) + $(failures "$X" "$v-$k-0" 7) ))
        FAILS[$k.$v]=$f; FAILED=$((FAILED + f))
        col "$X" "$v-$k-0" '$3 / 1000' '&& $7 == 0' | stats | put "${k}_t0" "$v" ms
        col "$X" "$v-$k-N" '$3 / 1000' '&& $7 == 0' | stats | put "${k}_tN" "$v" ms
        col "$X" "$v-$k-0" '($4 + $5) / 1000' '&& $7 == 0' | stats | put "${k}_c0" "$v" ms
        col "$X" "$v-$k-N" '($4 + $5) / 1000' '&& $7 == 0' | stats | put "${k}_cN" "$v" ms
        # Per exit: each N-loop run minus the median 0-loop run, over N (in µs).
        t0=${MED[${k}_t0.$v]} c0=${MED[${k}_c0.$v]}
        col "$X" "$v-$k-N" "(\$3 - $t0 * 1000) / $BENCH_LOOPS" '&& $7 == 0' | stats | put "${k}_exit" "$v" us
        col "$X" "$v-$k-N" "(\$4 + \$5 - $c0 * 1000) / $BENCH_LOOPS" '&& $7 == 0' | stats | put "${k}_exit_cpu" "$v" us
        # Sanity: the loop must have run (an exit costs microseconds on any host).
        if awk -v x="${MED[${k}_exit.$v]}" 'BEGIN { exit !(x == "-" || x < 0.05) }'; then
            say "$v: the $k loop guest's N-loop runs are no slower than its 0-loop runs: did the guest run?"
            FAILS[$k.$v]=$((FAILS[$k.$v] + 1)); FAILED=$((FAILED + 1))
        fi
    done
done

# --- the report ---------------------------------------------------------------------------------

fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN { if (x == "-" || x == "") print "-"; else printf "%.*f", d, x }'; }
# cell METRIC VMM DIGITS: "median (p10-p90)"
cell() {
    local k=$1.$2
    [ "${CNT[$k]:-0}" -gt 0 ] || { echo "-"; return; }
    if [ "${CNT[$k]}" -gt 1 ]; then
        echo "$(fmt "${MED[$k]}" "$3") ($(fmt "${P10[$k]}" "$3")–$(fmt "${P90[$k]}" "$3"))"
    else
        fmt "${MED[$k]}" "$3"
    fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
# verdict VALUE OP LIMIT
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { if (a == "-") { print "—"; exit }
    ok = (op == "<=") ? (a <= b) : (op == ">=") ? (a >= b) : (a < b); print ok ? "yes" : "**no**" }'; }

r_wall=$(ratio "${MED[startup_wall.ember]}" "${MED[startup_wall.floor]}")
r_cpu=$(ratio "${MED[startup_cpu.ember]}" "${MED[startup_cpu.qemu]}")
r_pio=$(ratio "${MED[pio_exit.ember]}" "${MED[pio_exit.floor]}")
r_mmio=$(ratio "${MED[mmio_exit.ember]}" "${MED[mmio_exit.floor]}")
r_create=$(ratio "${MED[create_rate.ember]}" "${MED[create_rate.qemu]}")
ovh=$(fmt "${MED[overhead.ember]}" 2)
r_wall_irq=$(ratio "${MED[startup_wall.ember]}" "${MED[startup_wall.floorirq]}")

EMBER_VERSION="$("$EMBER" --version) (git $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown))"
QEMU_VERSION=$("$QEMU_PATH" --version | head -1)
q() { local w out=; for w in "$@"; do [[ $w =~ [^A-Za-z0-9_./=,:+-] ]] && w="'$w'"; out+="$w "; done; echo "${out% }"; }
CMD_EMBER=$(q $(cmd ember GUEST.elf))
CMD_QEMU=$(q $(cmd qemu GUEST.elf))
CMD_FLOOR=$(q $(cmd floor GUEST.elf))
CMD_FLOORIRQ=$(q $(cmd floorirq GUEST.elf))

failnote() { # failnote KEY...: " (N failed runs)" if any
    local n=0 k
    for k in "$@"; do n=$((n + ${FAILS[$k]:-0})); done
    [ "$n" -eq 0 ] || echo " ($n runs failed or void, excluded)"
}

MD=$OUT/latest.md
{
cat <<EOF
# Ember benchmark: Ember, QEMU microvm and the bare-KVM floor

Generated by \`make bench\` (\`bench/run.sh\`) on $(date -u '+%Y-%m-%d %H:%M UTC'), in $((T_END - T_START)) s.
Medians, with the 10th–90th percentile range in parentheses. Everything in this file was
measured by that run; nothing is carried over from elsewhere.

## Results

| metric | Ember | QEMU microvm | floor | ratio vs target | target met? |
| --- | ---: | ---: | ---: | --- | --- |
| start-up wall, exec to exit, minimal guest (ms)$(failnote startup.ember startup.qemu startup.floor) | $(cell startup_wall ember 2) | $(cell startup_wall qemu 2) | $(cell startup_wall floor 2) | Ember/floor = $r_wall (target ≤ 1.25) | $(verdict "$r_wall" "<=" 1.25) |
| start-up CPU, user+sys (ms) | $(cell startup_cpu ember 2) | $(cell startup_cpu qemu 2) | $(cell startup_cpu floor 2) | Ember/QEMU = $r_cpu (target ≤ 0.15) | $(verdict "$r_cpu" "<=" 0.15) |
| VMM memory: peak RSS − guest memory touched, 1 vCPU, $BENCH_MEMORY MiB (MiB)$(failnote peak.ember peak.qemu peak.floor memory.ember memory.qemu memory.floor) | $(cell overhead ember 2) | $(cell overhead qemu 2) | $(cell overhead floor 2) | Ember = $ovh MiB (target < 2 MiB) | $(verdict "${MED[overhead.ember]}" "<" 2) |
| PIO exit round trip, port $BENCH_PIO_PORT (µs)$(failnote pio.ember pio.qemu pio.floor) | $(cell pio_exit ember 2) | $(cell pio_exit qemu 2) | $(cell pio_exit floor 2) | Ember/floor = $r_pio (target ≤ 1.1) | $(verdict "$r_pio" "<=" 1.1) |
| MMIO exit round trip, $BENCH_MMIO_ADDR (µs)$(failnote mmio.ember mmio.qemu mmio.floor) | $(cell mmio_exit ember 2) | $(cell mmio_exit qemu 2) | $(cell mmio_exit floor 2) | Ember/floor = $r_mmio (target ≤ 1.1) | $(verdict "$r_mmio" "<=" 1.1) |
| creation rate, $BENCH_PAR VMs at once (VMs/s per core)$(failnote create.ember create.qemu create.floor) | $(cell create_rate ember 1) | $(cell create_rate qemu 1) | $(cell create_rate floor 1) | Ember/QEMU = $r_create (no target) | — |
EOF
if [ "$BENCH_NESTED" = 1 ] && [ -s "$NESTED_MD" ]; then
    line=$(grep 'to inner /init' "$NESTED_MD" | head -1 || true)
    e=$(echo "$line" | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
    qq=$(echo "$line" | awk -F'|' '{ gsub(/ /, "", $4); print $4 }')
    echo "| Linux boot, VMM start to /init in the nested test host (ms) | ${e:--} | ${qq:--} | — | Ember/QEMU = $(ratio "${e:--}" "${qq:--}") (no target) | — ($NESTED_STATUS; table below) |"
else
    echo "| Linux boot in the nested test host | $NESTED_STATUS | | | | |"
fi
cat <<EOF
| VMM memory after a Linux boot | not measured by this script (needs the nested test host) | | | | |
EOF
if [ -s "$TP_MD" ]; then
    grep '^| virtio' "$TP_MD" | while IFS='|' read -r _ what e qq r _; do
        echo "|${what}(MB/s, nested test host) |${e}|${qq}| — | Ember/QEMU =${r}(target ≥ 1) | $(verdict "$(echo "$r" | tr -d ' ')" ">=" 1) |"
    done
else
    echo "| virtio throughputs | $TP_STATUS | | | | |"
fi
cat <<EOF

![chart](latest.png)

## Machine and versions

| | |
| --- | --- |
| CPUs (nproc) | $NPROC |
| CPU model | $CPU_MODEL |
| kernel | $KERNEL |
| KVM | $KVM_FLAVOUR |
| transparent huge pages | $THP |
| load average before / after | $LOAD_BEFORE / $LOAD_AFTER |
| Ember | $EMBER_VERSION |
| QEMU | $QEMU_VERSION |
| settings | BENCH_RUNS=$BENCH_RUNS BENCH_EXIT_RUNS=$BENCH_EXIT_RUNS BENCH_LOOPS=$BENCH_LOOPS BENCH_PAR=$BENCH_PAR BENCH_PAR_ROUNDS=$BENCH_PAR_ROUNDS BENCH_MEM_RUNS=$BENCH_MEM_RUNS BENCH_SNAPSHOT_MS=$BENCH_SNAPSHOT_MS BENCH_MEMORY=$BENCH_MEMORY |

A load average above zero before the run means other work shared the CPUs; every VMM's
runs are interleaved (one of each in turn) so such load spreads over all of them.

## Commands

\`GUEST.elf\` is one of the images \`bench/guest.S\` builds (\`$G/\`): \`reset.elf\`,
\`hold.elf\`, \`pio-0.elf\`, \`pio-N.elf\`, \`mmio-0.elf\`, \`mmio-N.elf\`. Every run goes through
\`$RUNNER\` (stdin and stdout /dev/null; wall from posix_spawn to wait4, CPU from the child's
rusage; \`-H\` peak-RSS runs under ptrace, \`-w\` smaps snapshots, \`-p\` parallel starts).

    Ember:         $CMD_EMBER
    QEMU microvm:  $CMD_QEMU
    floor:         $CMD_FLOOR
    floor+irqchip: $CMD_FLOORIRQ

## Details

### Start-up (minimal guest: reset at entry), $BENCH_RUNS runs each

| | Ember | QEMU microvm | floor | floor + irqchip/PIT |
| --- | ---: | ---: | ---: | ---: |
| wall (ms) | $(cell startup_wall ember 2) | $(cell startup_wall qemu 2) | $(cell startup_wall floor 2) | $(cell startup_wall floorirq 2) |
| CPU user+sys (ms) | $(cell startup_cpu ember 2) | $(cell startup_cpu qemu 2) | $(cell startup_cpu floor 2) | $(cell startup_cpu floorirq 2) |
| wait4 ru_maxrss (MiB; see Method: includes the runner's own RSS) | $(cell ru_maxrss ember 2) | $(cell ru_maxrss qemu 2) | $(cell ru_maxrss floor 2) | $(cell ru_maxrss floorirq 2) |

Ember's wall against the floor with the same in-kernel devices (\`floor --irqchip\`:
KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 in Ember's order, nothing else): $r_wall_irq.

### Memory, 1 vCPU, $BENCH_MEMORY MiB: $BENCH_MEM_RUNS peak-RSS runs and $BENCH_MEM_RUNS snapshots each

| MiB | Ember | QEMU microvm | floor | floor + irqchip/PIT |
| --- | ---: | ---: | ---: | ---: |
| peak RSS of the minimal guest's run (VmHWM at exit) | $(cell maxrss ember 2) | $(cell maxrss qemu 2) | $(cell maxrss floor 2) | $(cell maxrss floorirq 2) |
| guest memory touched at entry (Rss of the guest-RAM mapping) | $(cell guest_touched ember 3) | $(cell guest_touched qemu 3) | $(cell guest_touched floor 3) | $(cell guest_touched floorirq 3) |
| **overhead = peak RSS − guest touched** | $(cell overhead ember 2) | $(cell overhead qemu 2) | $(cell overhead floor 2) | $(cell overhead floorirq 2) |
| snapshot: total RSS | $(cell snap_rss ember 2) | $(cell snap_rss qemu 2) | $(cell snap_rss floor 2) | $(cell snap_rss floorirq 2) |
| snapshot: RSS outside guest RAM | $(cell snap_other ember 2) | $(cell snap_other qemu 2) | $(cell snap_other floor 2) | $(cell snap_other floorirq 2) |
| … of it anonymous (heap, stacks, kvm_run) | $(cell snap_anon ember 2) | $(cell snap_anon qemu 2) | $(cell snap_anon floor 2) | $(cell snap_anon floorirq 2) |
| … of it file-backed (binary, shared libraries) | $(cell snap_file ember 2) | $(cell snap_file qemu 2) | $(cell snap_file floor 2) | $(cell snap_file floorirq 2) |
| threads | $(cell snap_threads ember 0) | $(cell snap_threads qemu 0) | $(cell snap_threads floor 0) | $(cell snap_threads floorirq 0) |

### Exit cost, N = $BENCH_LOOPS, $BENCH_EXIT_RUNS runs each

| | Ember | QEMU microvm | floor |
| --- | ---: | ---: | ---: |
| PIO: wall, N loops (ms) | $(cell pio_tN ember 1) | $(cell pio_tN qemu 1) | $(cell pio_tN floor 1) |
| PIO: wall, 0 loops (ms) | $(cell pio_t0 ember 1) | $(cell pio_t0 qemu 1) | $(cell pio_t0 floor 1) |
| PIO: per exit, wall (µs) | $(cell pio_exit ember 2) | $(cell pio_exit qemu 2) | $(cell pio_exit floor 2) |
| PIO: per exit, CPU (µs) | $(cell pio_exit_cpu ember 2) | $(cell pio_exit_cpu qemu 2) | $(cell pio_exit_cpu floor 2) |
| MMIO: wall, N loops (ms) | $(cell mmio_tN ember 1) | $(cell mmio_tN qemu 1) | $(cell mmio_tN floor 1) |
| MMIO: wall, 0 loops (ms) | $(cell mmio_t0 ember 1) | $(cell mmio_t0 qemu 1) | $(cell mmio_t0 floor 1) |
| MMIO: per exit, wall (µs) | $(cell mmio_exit ember 2) | $(cell mmio_exit qemu 2) | $(cell mmio_exit floor 2) |
| MMIO: per exit, CPU (µs) | $(cell mmio_exit_cpu ember 2) | $(cell mmio_exit_cpu qemu 2) | $(cell mmio_exit_cpu floor 2) |

### Creation rate, $BENCH_PAR VMs started at once, $BENCH_PAR_ROUNDS rounds each

| | Ember | QEMU microvm | floor | floor + irqchip/PIT |
| --- | ---: | ---: | ---: | ---: |
| wall until the last exits (ms) | $(cell create_wall ember 1) | $(cell create_wall qemu 1) | $(cell create_wall floor 1) | $(cell create_wall floorirq 1) |
| VMs per second | $(cell create_total ember 1) | $(cell create_total qemu 1) | $(cell create_total floor 1) | $(cell create_total floorirq 1) |
| VMs per second per core ($NPROC cores) | $(cell create_rate ember 1) | $(cell create_rate qemu 1) | $(cell create_rate floor 1) | $(cell create_rate floorirq 1) |
| CPU per VM, user+sys (ms) | $(cell create_cpu ember 2) | $(cell create_cpu qemu 2) | $(cell create_cpu floor 2) | $(cell create_cpu floorirq 2) |
EOF
if [ "$BENCH_NESTED" = 1 ]; then
    echo
    echo "### Linux boot in the nested test host (\`$BENCH_NESTED_CMD\`: $NESTED_STATUS)"
    echo
    if [ -s "$NESTED_MD" ]; then cat "$NESTED_MD"; else echo "No table: see raw/nested.log."; fi
    echo
    echo "### virtio throughput in the nested test host (\`tests/nested/run.sh throughput\`: $TP_STATUS)"
    echo
    if [ -s "$TP_MD" ]; then cat "$TP_MD"; else echo "No table: see raw/throughput.log."; fi
fi
cat <<EOF

## Method

- **Guests** (\`bench/guest.S\`, linked by \`bench/guest.ld\`): one PT_LOAD at 0x100000, a
  PT_NOTE with XEN_ELFNOTE_PHYS32_ENTRY (type 18, "Xen") for QEMU's PVH loader, which enters
  \`entry32\` in 32-bit protected mode without paging; \`e_entry\` is \`entry64\`, which Ember
  and the floor enter in 64-bit long mode (identity-mapped 4 GiB, CS 0x10). Both entries run
  the same code: \`reset\` writes 0xFE to port 0x64 (ends Ember and the floor) and then
  triple-faults (ends QEMU microvm, which has no i8042, under -no-reboot); \`pio-N\`/\`mmio-N\`
  first loop N times on \`out %al, (%dx)\` to port $BENCH_PIO_PORT or a 32-bit store to
  $BENCH_MMIO_ADDR (no VMM here claims either: each is an exit to user space, dropped, and
  straight back into KVM_RUN); \`hold\` halts with interrupts off.
- **The floor** (\`bench/floor.c\`): one process, one thread: /dev/kvm, one VM, one memory
  slot, the ELF's PT_LOAD segments copied by p_paddr, GDT and page tables, one vCPU with the
  host's supported CPUID (hardware KVM rejects EFER.LME without CPUID.LM), Ember's 64-bit
  entry state, then KVM_RUN in a loop that ignores PIO/MMIO exits and exits on the reset,
  a triple fault or HLT. No irqchip, PIT, devices or threads. \`floor + irqchip/PIT\` is the
  same program with KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 (\`--irqchip\`), for reference.
- **Start-up**: wall time from posix_spawn to wait4's return (exec, VMM set-up, guest entry,
  reset, teardown, exit); CPU = the child's user + sys from wait4's rusage (their sum is
  exact; the split between them is tick-sampled, so only the sum is reported).
- **Memory**: overhead = peak RSS of a minimal guest's run − median guest memory touched.
  The peak RSS is VmHWM of the VMM's address space, read from /proc/PID/status while the
  process is stopped at exit (ptrace, PTRACE_O_TRACEEXIT; these runs are not timed).
  wait4's ru_maxrss is not used: Linux folds the peak RSS of the address space a process
  had before execve into it, and a posix_spawn child runs on the runner's until it execs,
  so ru_maxrss never reads below the runner's own RSS (~1.4 MiB); the start-up table shows
  it for reference only. The guest memory touched is measured, not computed: a run with
  the \`hold\` guest (the same pages as \`reset\`: one code page plus whatever the VMM's
  loader and firmware write) is sampled after ${BENCH_SNAPSHOT_MS} ms, and the Rss of the
  mapping of at least $BENCH_MEMORY MiB (the guest RAM; exactly one per VMM, checked) is the
  guest memory. With transparent huge pages on (this host: \`$THP\`), Ember and QEMU,
  which madvise their guest RAM for huge pages, fault a whole 2 MiB page for the guest's
  first 2 MiB; the floor (no advice) faults 4 KiB pages unless THP is \`always\`. QEMU's
  firmware ROM (qboot, 64 KiB, its own mapping) counts as VMM memory. The snapshot also
  gives the RSS outside guest RAM directly (the rows below the overhead), split into
  anonymous and file-backed (shared libraries count in full).
- **Exit cost**: per exit = (wall of an N-loop run − median wall of the 0-loop runs) / N,
  for each N-loop run; median and spread over those runs. The CPU row does the same with
  user+sys. On this host every guest instruction is emulated, so the loop's own
  instructions (\`dec\`, \`jnz\`) are part of every VMM's figure alike.
- **Creation rate**: $BENCH_PAR copies of the minimal guest's command spawned back to back,
  wall from the first spawn to the last exit; VMs/s = $BENCH_PAR / wall, per core = that / $NPROC.
- **Wall time and load**: a VM with an in-kernel irqchip and PIT (Ember, \`floor --irqchip\`)
  waits in the kernel twice on this host: the memory-slot update right after
  KVM_CREATE_IRQCHIP (~5 ms) and the PIT's teardown (0.5 ms or ~13 ms). Both waits grow
  when the other CPUs are busy, so those two columns' wall times are bimodal and follow the
  load average recorded above; their CPU times do not.
EOF
} > "$MD"

# --- the chart ------------------------------------------------------------------------------------

DAT=$OUT/raw/chart.dat
: > "$DAT"
panel() { # panel METRIC VMM...: one gnuplot data block
    local m=$1 v i=0; shift
    for v in "$@"; do
        [ "${CNT[$m.$v]:-0}" -gt 0 ] || continue
        local lo=${P10[$m.$v]} hi=${P90[$m.$v]}
        [ "$lo" = "-" ] && lo=${MED[$m.$v]} && hi=${MED[$m.$v]}
        echo "\"${NAME[$v]}\" ${MED[$m.$v]} $lo $hi $i" >> "$DAT"
        i=$((i + 1))
    done
    printf '\n\n' >> "$DAT"
}
panel startup_wall ember qemu floor floorirq
panel startup_cpu ember qemu floor floorirq
panel overhead ember qemu floor floorirq
panel pio_exit ember qemu floor
panel mmio_exit ember qemu floor
panel create_rate ember qemu floor floorirq
gnuplot <<EOF
set terminal pngcairo size 1500,850 font "sans,10" noenhanced
set output "$OUT/latest.png"
set multiplot layout 2,3 title "Ember vs QEMU microvm vs bare-KVM floor ($KERNEL, $NPROC CPUs, ${KVM_FLAVOUR%%:*}) — medians, bars p10–p90"
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set xtics scale 0 font ",9"
unset key
set palette defined (0 "#d95f02", 1 "#7570b3", 2 "#1b9e77", 3 "#66a61e")
unset colorbox
set cbrange [0:3]
set title "start-up wall (ms), minimal guest"
plot "$DAT" index 0 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
set title "start-up CPU, user+sys (ms)"
plot "$DAT" index 1 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
set title "memory overhead: peak RSS - guest touched (MiB)"
plot "$DAT" index 2 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
set title "PIO exit round trip (µs)"
plot "$DAT" index 3 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
set title "MMIO exit round trip (µs)"
plot "$DAT" index 4 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
set title "creation rate, $BENCH_PAR at once (VMs/s per core)"
plot "$DAT" index 5 using 0:2:3:4:(0.6):5:xtic(1) with boxerrorbars lc palette
unset multiplot
EOF

cat "$MD"
say "wrote $MD, $OUT/latest.png, $SUM, $OUT/raw/"
if [ "$FAILED" -gt 0 ]; then
    say "$FAILED runs did not exit 0 (see $ERRLOG and $OUT/raw/*.csv)"
    exit 1
fi
