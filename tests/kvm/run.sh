#!/usr/bin/env bash
# Tier 2: run Ember on this machine's /dev/kvm with the small guests built by `make guests`.
#
#   EMBER=build/ember GUESTS=build/guests tests/kvm/run.sh [FILTER]
#
# FILTER (optional, a bash glob) runs only the cases whose name matches, e.g. 'bootinfo*'.
# Each case runs Ember under `timeout`, then checks its exit status, stdout (the guest's
# serial output) and, for the bad-input cases, stderr. Output: "PASS <name>" or
# "FAIL <name>: <why>" per case, then "kvm: N passed, M failed". Exit status 0 only if
# every case passed. KVM_TEST_TIMEOUT (seconds, default 30) bounds each run;
# KVM_TEST_VERBOSE=1 prints every run's stdout/stderr.
set -u

EMBER=${EMBER:-build/ember}
GUESTS=${GUESTS:-build/guests}
TIMEOUT=${KVM_TEST_TIMEOUT:-30}
VERBOSE=${KVM_TEST_VERBOSE:-0}
FILTER=${1:-*}

if [ ! -e /dev/kvm ]; then
    echo "KVM TIER DID NOT RUN: no /dev/kvm"
    exit 1
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "KVM TIER DID NOT RUN: /dev/kvm is not readable and writable by $(id -un)"
    exit 1
fi
if [ ! -x "$EMBER" ]; then
    echo "KVM TIER DID NOT RUN: no ember binary at $EMBER"
    exit 1
fi
for g in bootinfo.elf bootinfo.bzImage bootinfo-s0.bzImage uart_irq.elf smp.elf \
         i8042_reset.elf halt_forever.elf triple_fault.elf virtio_blk.elf flood.elf; do
    if [ ! -f "$GUESTS/$g" ]; then
        echo "KVM TIER DID NOT RUN: guest $GUESTS/$g missing (make guests)"
        exit 1
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-kvm.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
T0=$(date +%s%N)

# ---------------------------------------------------------------------------------------
# Running Ember

# run_ember NAME STDIN ARGS... : runs "$EMBER run ARGS..." and sets
#   RC (exit status), OUT (stdout file, CRs removed), ERR (stderr file), MS (wall ms).
# STDIN is /dev/null, "pipe:FILE" (FILE's bytes through a pipe, as `printf ... | ember`)
# or a file given directly as standard input.
run_ember() {
    local name=$1 input=$2
    shift 2
    OUT=$TMP/$name.out
    ERR=$TMP/$name.err
    local t0 t1
    t0=$(date +%s%N)
    if [[ $input == pipe:* ]]; then
        # shellcheck disable=SC2002 # the point is a pipe, not a file, on Ember's stdin
        cat "${input#pipe:}" | timeout -k 5 "$TIMEOUT" "$EMBER" run "$@" >"$OUT.raw" 2>"$ERR"
    else
        timeout -k 5 "$TIMEOUT" "${WRAP[@]}" "$EMBER" run "$@" <"$input" >"$OUT.raw" 2>"$ERR"
    fi
    RC=$?
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
    tr -d '\r' <"$OUT.raw" >"$OUT"
    if [ "$VERBOSE" = 1 ]; then
        echo "---- $name: ember run $* -> status $RC in ${MS} ms"
        sed 's/^/  out| /' "$OUT"
        sed 's/^/  err| /' "$ERR"
    fi
}

# A command prefix for the next run_ember (e.g. to drop privileges); empty by default.
WRAP=()

# Failure reasons of the current case accumulate in WHY.
WHY=()
why() { WHY+=("$*"); }

# Describe the exit status for messages.
status_text() {
    case $RC in
    124) echo "timed out after ${TIMEOUT}s" ;;
    137) echo "killed after the timeout" ;;
    *) if [ "$RC" -ge 128 ]; then echo "killed by signal $((RC - 128))"; else echo "exit status $RC"; fi ;;
    esac
}

# Last lines of the guest output / stderr, for failure messages.
tail_of() { tail -n "${2:-3}" "$1" | tr '\n' '|' | cut -c1-300; }

finish() {
    local name=$1
    if [ ${#WHY[@]} -eq 0 ]; then
        echo "PASS $name (${MS} ms)"
        passed=$((passed + 1))
    else
        local IFS='; '
        echo "FAIL $name: ${WHY[*]}"
        failed=$((failed + 1))
    fi
    WHY=()
}

selected() {
    # shellcheck disable=SC2053
    [[ $1 == $FILTER ]]
}

# Common checks for a guest that must end with SUCCESS and exit status 0.
expect_success() {
    if [ "$RC" -ne 0 ]; then
        why "$(status_text) (want 0); stderr: $(tail_of "$ERR")"
    fi
    if grep -q '^FAIL' "$OUT"; then
        why "guest said: $(grep -m1 '^FAIL' "$OUT")"
    elif ! grep -qx 'SUCCESS' "$OUT"; then
        why "no SUCCESS line; output ends: $(tail_of "$OUT")"
    fi
}

# expect_line TEXT: stdout must have this exact line.
expect_line() {
    if ! grep -qxF -- "$1" "$OUT"; then
        local pfx=${1%% *}
        local got
        got=$(grep -m3 "^$pfx" "$OUT" | tr '\n' '|' | cut -c1-300)
        why "missing line '$1' (got: ${got:-nothing})"
    fi
}

# ---------------------------------------------------------------------------------------
# Expected values

low_ram_end() { # MiB -> bytes of RAM below the 3 GiB MMIO gap
    local b=$(( $1 * 1024 * 1024 ))
    echo $(( b < 0xC0000000 ? b : 0xC0000000 ))
}

e820_expected() { # MiB
    local b=$(( $1 * 1024 * 1024 )) low
    low=$(low_ram_end "$1")
    printf 'E820 0x0 0x9fc00 1\n'
    printf 'E820 0x9fc00 0x400 2\n'
    printf 'E820 0xf0000 0x10000 2\n'
    printf 'E820 0x100000 0x%x 1\n' $(( low - 0x100000 ))
    if [ "$b" -gt $((0xC0000000)) ]; then
        printf 'E820 0x100000000 0x%x 1\n' $(( b - 0xC0000000 ))
    fi
}

initrd_addr_expected() { # MiB initrd_addr_max size
    local low limit
    low=$(low_ram_end "$1")
    limit=$(( $2 + 1 ))
    [ "$low" -lt "$limit" ] && limit=$low
    printf '0x%x' $(( (limit - $3) & ~0xfff ))
}

file_size() { stat -c %s "$1"; }
# The initrd checksum guests/bootinfo.c prints (see initrd_checksum there).
initrd_checksum() {
    local size pad
    size=$(file_size "$1")
    pad=$(( (4 - size % 4) % 4 ))
    { cat "$1"; head -c "$pad" /dev/zero; } | od -An -v -tu4 -w4 |
        awk 'BEGIN { a = 1; b = 0; P = 4294967291 }
             { a = (a + $1) % P; b = (b + a) % P }
             END { printf "%.0f:%.0f\n", b, a }'
}

DEFAULT_CMDLINE='console=ttyS0 reboot=k panic=1'

# Initrd for the bootinfo cases: random, not a multiple of the page size.
INITRD=$TMP/initrd.bin
head -c $((300 * 1024 + 123)) /dev/urandom >"$INITRD"
INITRD_SIZE=$(file_size "$INITRD")
INITRD_SUM=$(initrd_checksum "$INITRD")

# ---------------------------------------------------------------------------------------
# bootinfo

# bootinfo_case NAME IMAGE INITRD_MAX MEM VCPUS CMDLINE(or -) WITH_INITRD(0/1)
bootinfo_case() {
    local name=$1 image=$2 imax=$3 mem=$4 vcpus=$5 cmdline=$6 with_initrd=$7
    local load entered
    case $image in
    *.elf) load=0x100000 entered=0x100200 ;;              # ELF: p_paddr / e_entry
    bootinfo.bzImage) load=0x1000000 entered=0x1000200 ;; # relocatable: at pref_address
    *) load=0x1000000 entered=0x100200 ;;                 # not relocatable: at 0x100000
    esac
    selected "$name" || return 0
    local args=(--kernel "$GUESTS/$image")
    [ "$mem" != - ] && args+=(--memory "$mem")
    [ "$vcpus" != - ] && args+=(--vcpus "$vcpus")
    [ "$cmdline" != - ] && args+=(--cmdline "$cmdline")
    [ "$with_initrd" = 1 ] && args+=(--initrd "$INITRD")
    run_ember "$name" /dev/null "${args[@]}"
    expect_success
    local m=${mem/-/128} n=${vcpus/-/1}
    expect_line "LOADADDR $load"
    expect_line "ENTERED $entered"
    if ! grep -Eq '^ENTRY cs=0x10 ds=0x18 es=0x18 ss=0x18 fs=0x18 gs=0x18 rflags=0x2 rsp=0x8ff0 rsi=0x[0-9a-f]+$' "$OUT"; then
        why "entry state: $(grep -m1 '^ENTRY' "$OUT" || echo none) (want cs=0x10 ds..gs=0x18 rflags=0x2 rsp=0x8ff0)"
    fi
    expect_line "PAGING identity-4g ok"
    local want got
    want=$(e820_expected "$m")
    got=$(grep '^E820 ' "$OUT")
    if [ "$want" != "$got" ]; then
        why "e820 map for ${m} MiB: got [$(echo "$got" | tr '\n' ',')] want [$(echo "$want" | tr '\n' ',')]"
    fi
    if [ "$cmdline" = - ]; then
        expect_line "CMDLINE $DEFAULT_CMDLINE pci=off"
    else
        expect_line "CMDLINE $cmdline pci=off"
    fi
    if [ "$with_initrd" = 1 ]; then
        expect_line "$(printf 'INITRD %s 0x%x %s' "$(initrd_addr_expected "$m" "$imax" "$INITRD_SIZE")" "$INITRD_SIZE" "$INITRD_SUM")"
    else
        expect_line "INITRD none"
    fi
    expect_line "MPTABLE cpus=$n"
    finish "$name"
}

ELF_MAX=0x7fffffff
BZ_MAX=0x37ffffff # bootinfo.bzImage's initrd_addr_max (guests.mk)
S0_MAX=0x7fffffff

bootinfo_case bootinfo-elf-defaults        bootinfo.elf     $ELF_MAX -    -  -  0
bootinfo_case bootinfo-bzimage-defaults    bootinfo.bzImage $BZ_MAX  -    -  -  0
for mem in 128 1024 3072 3200; do
    bootinfo_case "bootinfo-elf-${mem}m"     bootinfo.elf     $ELF_MAX "$mem" - "root=/dev/vda ember.test=elf-$mem" 1
    bootinfo_case "bootinfo-bzimage-${mem}m" bootinfo.bzImage $BZ_MAX  "$mem" - "ember.test=bz-$mem quiet" 1
done
# Not relocatable, setup_sects 0 (= 4 sectors), initrd_addr_max 0x7fffffff.
bootinfo_case bootinfo-bzimage-fixed-s0    bootinfo-s0.bzImage $S0_MAX 1024 - "setup_sects=0 means 4" 1
bootinfo_case bootinfo-elf-4100m           bootinfo.elf     $ELF_MAX 4100 - "above 4 GiB" 1
bootinfo_case bootinfo-elf-3-vcpus         bootinfo.elf     $ELF_MAX 64   3 - 0
bootinfo_case bootinfo-elf-254-vcpus       bootinfo.elf     $ELF_MAX -  254 - 0
# Command line exactly filling bootinfo.bzImage's cmdline_size (255): 247 + " pci=off" = 255.
CMD247=$(printf 'x%.0s' $(seq 1 247))
bootinfo_case bootinfo-bzimage-cmdline-255 bootinfo.bzImage $BZ_MAX  -    -  "$CMD247" 0

# ---------------------------------------------------------------------------------------
# uart_irq

uart_case() { # NAME HOW(pipe/file) TEXT
    local name=$1 how=$2 text=$3
    selected "$name" || return 0
    printf '%s\n' "$text" >"$TMP/$name.in"
    if [ "$how" = pipe ]; then
        run_ember "$name" "pipe:$TMP/$name.in" --kernel "$GUESTS/uart_irq.elf"
    else
        run_ember "$name" "$TMP/$name.in" --kernel "$GUESTS/uart_irq.elf"
    fi
    expect_success
    expect_line "UART IRQ READY"
    expect_line "ECHO $(printf '%s' "$text" | tr '[:lower:]' '[:upper:]')"
    finish "$name"
}
uart_case uart_irq-short pipe 'Hello, Ember 123'
uart_case uart_irq-long pipe "$(head -c 3000 /dev/urandom | tr -dc 'a-z0-9 ' | head -c 300)"
# Standard input redirected from a regular file (which epoll cannot watch).
uart_case uart_irq-file-stdin file "from a file"

# ---------------------------------------------------------------------------------------
# smp

for n in 1 2 4 16 254; do
    name=smp-$n
    selected "$name" || continue
    run_ember "$name" /dev/null --kernel "$GUESTS/smp.elf" --vcpus "$n"
    expect_success
    want=$(for ((i = 1; i < n; i++)); do echo "AP $i"; done)
    got=$(grep '^AP ' "$OUT" | sort -n -k2)
    if [ "$want" != "$got" ]; then
        why "AP lines: got [$(echo "$got" | tr '\n' ',')] want [$(echo "$want" | tr '\n' ',')]"
    fi
    expect_line "CPUS $n"
    finish "$name"
done

# ---------------------------------------------------------------------------------------
# virtio-mmio: virtio-blk and virtio-rng driven by guests/virtio_blk.c

# The disk: 128 sectors of random data, sectors 0 and 1 starting with a text tag.
VDISK=$TMP/virtio-disk.img
head -c $((128 * 512)) /dev/urandom >"$VDISK"
printf 'EMBER-SECTOR-0:' | dd of="$VDISK" bs=1 seek=0 conv=notrunc 2>/dev/null
printf 'EMBER-SECTOR-1:' | dd of="$VDISK" bs=1 seek=512 conv=notrunc 2>/dev/null
# What the guest writes to sector 2: "ABC...Z" repeated.
VPATTERN=$TMP/virtio-pattern.bin
for _ in $(seq 1 20); do printf 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'; done | head -c 512 >"$VPATTERN"

sector_of() { # FILE N -> sector N of FILE on stdout
    dd if="$1" bs=512 skip="$2" count=1 2>/dev/null
}

# The guest's SECTOR line for sector N of FILE: first 16 bytes (unprintable -> '.') and
# bootinfo's checksum.
sector_line() {
    local f=$TMP/sector.$2 text
    sector_of "$1" "$2" >"$f"
    text=$(head -c 16 "$f" | LC_ALL=C tr -c '\041-\176' '.')
    printf 'SECTOR %s %s %s' "$2" "$text" "$(initrd_checksum "$f")"
}

# Sectors FROM..127 of A and B are the same.
same_sectors() { # A B FROM
    cmp -s <(tail -c +$(($3 * 512 + 1)) "$1") <(tail -c +$(($3 * 512 + 1)) "$2")
}

virtio_blk_checks() { # IMAGE RO(0/1)
    expect_success
    expect_line "VIRTIO 2 at 0xd0000000 gsi 5"
    if ! grep -Eq "^BLK features=0x1:0x[0-9a-f]+ ro=$2 capacity=128\$" "$OUT"; then
        why "BLK line: $(grep -m1 '^BLK' "$OUT" || echo none) (want ro=$2 capacity=128)"
    fi
    expect_line "$(sector_line "$1" 0)"
    expect_line "$(sector_line "$1" 1)"
    expect_line "FLUSH status=0"
    expect_line "ID ember-disk0"
    expect_line "PASTEND status=1"
    if ! grep -Eq '^IRQS used=[1-9][0-9]* config=0$' "$OUT"; then
        why "interrupts: $(grep -m1 '^IRQS' "$OUT" || echo none)"
    fi
}

if selected virtio-blk; then
    cp "$VDISK" "$TMP/vblk.img"
    run_ember virtio-blk /dev/null --kernel "$GUESTS/virtio_blk.elf" --disk "$TMP/vblk.img"
    virtio_blk_checks "$VDISK" 0
    expect_line "WRITE status=0"
    expect_line "READBACK ok"
    # After Ember exits: sector 2 holds the pattern, nothing else changed.
    cmp -s <(sector_of "$TMP/vblk.img" 2) "$VPATTERN" ||
        why "sector 2 of the image is not the pattern the guest wrote"
    cmp -s <(head -c 1024 "$TMP/vblk.img") <(head -c 1024 "$VDISK") ||
        why "sectors 0-1 of the image changed"
    same_sectors "$TMP/vblk.img" "$VDISK" 3 || why "sectors 3-127 of the image changed"
    [ "$(file_size "$TMP/vblk.img")" -eq $((128 * 512)) ] || why "the image changed size"
    finish virtio-blk
fi

if selected virtio-blk-ro; then
    cp "$VDISK" "$TMP/vblk-ro.img"
    run_ember virtio-blk-ro /dev/null --kernel "$GUESTS/virtio_blk.elf" --disk "$TMP/vblk-ro.img,ro"
    virtio_blk_checks "$VDISK" 1
    expect_line "WRITE status=1"
    expect_line "READBACK unchanged"
    cmp -s "$TMP/vblk-ro.img" "$VDISK" || why "the read-only image changed"
    finish virtio-blk-ro
fi

if selected virtio-rng; then
    run_ember virtio-rng /dev/null --kernel "$GUESTS/virtio_blk.elf" --rng --cmdline "ember.test=rng"
    expect_success
    expect_line "VIRTIO 4 at 0xd0000000 gsi 5"
    expect_line "RNG 64 bytes ok"
    finish virtio-rng
fi

if selected virtio-blk-and-rng; then
    cp "$VDISK" "$TMP/vblk2.img"
    run_ember virtio-blk-and-rng /dev/null --kernel "$GUESTS/virtio_blk.elf" \
        --disk "$TMP/vblk2.img" --rng --cmdline "ember.test=blk+rng"
    virtio_blk_checks "$VDISK" 0
    expect_line "VIRTIO 4 at 0xd0001000 gsi 6"
    expect_line "RNG 64 bytes ok"
    expect_line "ACPI 2 virtio devices"
    finish virtio-blk-and-rng
fi

# acpi=off: the devices are named on the command line instead of in the DSDT (kernels
# built without ACPI); the guest must find the same two there, and no ACPI scan runs.
if selected virtio-acpi-off-cmdline; then
    cp "$VDISK" "$TMP/vblk3.img"
    run_ember virtio-acpi-off-cmdline /dev/null --kernel "$GUESTS/virtio_blk.elf" \
        --disk "$TMP/vblk3.img" --rng --cmdline "acpi=off ember.test=blk+rng"
    virtio_blk_checks "$VDISK" 0
    expect_line "VIRTIO 4 at 0xd0001000 gsi 6"
    expect_line "RNG 64 bytes ok"
    grep -q "^ACPI " "$OUT" && why "the guest scanned ACPI although the command line named the devices"
    finish virtio-acpi-off-cmdline
fi

# A hostile driver: a malformed chain (or rings outside RAM) must set DEVICE_NEEDS_RESET
# with a config interrupt; Ember keeps running, the device comes back after a reset, the
# image is untouched, and (loop+rng) the other device keeps working.
hostile_case() { # MODE [EXTRA EMBER ARGS]
    local m=$1 name=virtio-hostile-$1
    shift
    selected "$name" || return 0
    cp "$VDISK" "$TMP/vhostile.img"
    run_ember "$name" /dev/null --kernel "$GUESTS/virtio_blk.elf" --disk "$TMP/vhostile.img" \
        "$@" --cmdline "ember.test=blk+${m/-/+}"
    expect_success
    case $m in
    robuf)
        expect_line "HOSTILE robuf status=0xf used_len=1 blk_status=0" ;;
    *)
        expect_line "HOSTILE ${m%%-*} status=0x4f isr=0x0 config_irqs=1"
        expect_line "RECOVERED"
        grep -Eq 'malformed ring|invalid ring' "$ERR" ||
            why "no warning on stderr: $(tail_of "$ERR")" ;;
    esac
    cmp -s "$TMP/vhostile.img" "$VDISK" || why "the image changed"
    finish "$name"
}
hostile_case loop
hostile_case oob
hostile_case rafterw
hostile_case badring
hostile_case robuf
hostile_case loop-rng --rng

# Regression (see tests/unit/test_virtio_blk.c, regression_notify_without_a_ready_queue_
# spins_the_worker; fixed in 9d699dd): DRIVER_OK without a ready queue, a non-zero word at
# GPA 2 and a notify made the virtio-blk worker spin writing GPA 0, and the guest's next
# reset never returned (Ember hung until killed). Bounded to 5 s so a relapse stays cheap.
if selected regression-virtio-no-ready-queue; then
    cp "$VDISK" "$TMP/vnoq.img"
    saved_timeout=$TIMEOUT
    TIMEOUT=5
    run_ember regression-virtio-no-ready-queue /dev/null --kernel "$GUESTS/virtio_blk.elf" \
        --disk "$TMP/vnoq.img" --cmdline "ember.test=blk+noqueue"
    expect_success
    expect_line "NOQUEUE untouched"
    expect_line "NOQUEUE reset"
    TIMEOUT=$saved_timeout
    finish regression-virtio-no-ready-queue
fi

# virtio-net on a tap this runner creates (root, ip, python3): the guest sends a broadcast
# frame of EtherType 0x88b5, a peer on the tap (an AF_PACKET socket) answers it.
virtio_net_case() {
    local name=virtio-net tap=embt$$ peer
    selected "$name" || return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
        echo "SKIP $name: needs root, ip and python3 (NOT TESTED)"
        return 0
    fi
    if ! ip tuntap add "$tap" mode tap 2>/dev/null; then
        echo "SKIP $name: cannot create a tap device (NOT TESTED)"
        return 0
    fi
    # shellcheck disable=SC2064 # the tap's name now, not at exit
    trap "ip link del '$tap' 2>/dev/null; rm -rf '$TMP'" EXIT
    sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" 2>/dev/null || true
    ip link set "$tap" up
    cat >"$TMP/netpeer.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((sys.argv[1], 0))
s.settimeout(float(sys.argv[2]))
print("READY", flush=True)
while True:
    f = s.recv(4096)
    if len(f) >= 24 and f[12:14] == b"\x88\xb5" and f[14:24] == b"EMBER-PING":
        break
print("PING from " + ":".join("%02x" % b for b in f[6:12]), flush=True)
s.send(f[6:12] + bytes([2, 0, 0, 0, 0, 0x99]) + b"\x88\xb5" + b"EMBER-PONG" + bytes(36))
PY
    python3 "$TMP/netpeer.py" "$tap" "$TIMEOUT" >"$TMP/netpeer.out" 2>&1 &
    peer=$!
    for _ in $(seq 1 50); do
        grep -q READY "$TMP/netpeer.out" 2>/dev/null && break
        sleep 0.1
    done
    run_ember "$name" /dev/null --kernel "$GUESTS/virtio_blk.elf" \
        --net "tap=$tap,mac=02:00:00:00:00:42" --cmdline "ember.test=net"
    kill "$peer" 2>/dev/null
    wait "$peer" 2>/dev/null
    ip link del "$tap" 2>/dev/null
    trap 'rm -rf "$TMP"' EXIT
    expect_success
    expect_line "VIRTIO 1 at 0xd0000000 gsi 5"
    expect_line "NET mac=02:00:00:00:00:42"
    expect_line "NET sent"
    expect_line "NET received 60 bytes from 02:00:00:00:00:99"
    grep -qx "PING from 02:00:00:00:00:42" "$TMP/netpeer.out" ||
        why "the peer did not see the guest's frame: $(tail_of "$TMP/netpeer.out")"
    finish "$name"
}
virtio_net_case

# virtio-vsock (guests/virtio_blk.c ember.test=vsock) against a Unix peer (python3): the
# guest connects to host port 1234 (the peer listens at <uds>_1234, reads
# "EMBER-VSOCK-HELLO", answers "EMBER-VSOCK-WORLD", hangs up), then the peer connects
# to the uds with "CONNECT 4321", expects "OK <port>", sends "PING", reads "PONG".
virtio_vsock_case() {
    local name=virtio-vsock peer uds=$TMP/v.sock
    selected "$name" || return 0
    if ! command -v python3 >/dev/null; then
        echo "SKIP $name: needs python3 (NOT TESTED)"
        return 0
    fi
    cat >"$TMP/vsockpeer.py" <<'PY'
import socket, sys
uds, t = sys.argv[1], float(sys.argv[2])
l = socket.socket(socket.AF_UNIX)
l.bind(uds + "_1234")
l.listen(1)
l.settimeout(t)
print("READY", flush=True)
c, _ = l.accept()
c.settimeout(t)
data = b""
while len(data) < 17:
    d = c.recv(17 - len(data))
    if not d:
        break
    data += d
print("GUEST SAID " + data.decode(errors="replace"), flush=True)
c.sendall(b"EMBER-VSOCK-WORLD")
c.close()
h = socket.socket(socket.AF_UNIX)
h.settimeout(t)
h.connect(uds)
h.sendall(b"CONNECT 4321\n")
line = b""
while not line.endswith(b"\n"):
    d = h.recv(1)
    if not d:
        break
    line += d
print("HOST GOT " + line.decode(errors="replace").strip(), flush=True)
h.sendall(b"PING")
r = b""
while len(r) < 4:
    d = h.recv(4 - len(r))
    if not d:
        break
    r += d
print("HOST RECEIVED " + r.decode(errors="replace"), flush=True)
h.close()
PY
    python3 "$TMP/vsockpeer.py" "$uds" "$TIMEOUT" >"$TMP/vsockpeer.out" 2>&1 &
    peer=$!
    for _ in $(seq 1 50); do
        grep -q READY "$TMP/vsockpeer.out" 2>/dev/null && break
        sleep 0.1
    done
    run_ember "$name" /dev/null --kernel "$GUESTS/virtio_blk.elf" \
        --vsock "cid=7,uds=$uds" --cmdline "ember.test=vsock"
    kill "$peer" 2>/dev/null
    wait "$peer" 2>/dev/null
    expect_success
    expect_line "VIRTIO 19 at 0xd0000000 gsi 5"
    expect_line "VSOCK cid=7"
    expect_line "VSOCK connected to host port 1234"
    expect_line "VSOCK received EMBER-VSOCK-WORLD"
    expect_line "VSOCK shutdown send=1"
    expect_line "VSOCK host connection PING PONG"
    grep -qx "GUEST SAID EMBER-VSOCK-HELLO" "$TMP/vsockpeer.out" ||
        why "the peer did not get the guest's bytes: $(tail_of "$TMP/vsockpeer.out")"
    grep -Eqx "HOST GOT OK [0-9]+" "$TMP/vsockpeer.out" ||
        why "no OK line for CONNECT: $(tail_of "$TMP/vsockpeer.out")"
    grep -qx "HOST RECEIVED PONG" "$TMP/vsockpeer.out" ||
        why "the peer did not get PONG: $(tail_of "$TMP/vsockpeer.out")"
    [ ! -e "$uds" ] || why "Ember left its socket $uds behind"
    finish "$name"
}
virtio_vsock_case

# ---------------------------------------------------------------------------------------
# How a guest ends

if selected i8042_reset; then
    run_ember i8042_reset /dev/null --kernel "$GUESTS/i8042_reset.elf"
    [ "$RC" -eq 0 ] || why "$(status_text) (want 0); stderr: $(tail_of "$ERR")"
    expect_line "BEFORE RESET"
    grep -q 'AFTER RESET' "$OUT" && why "the guest ran on after the reset: $(grep -c 'AFTER RESET' "$OUT") lines"
    finish i8042_reset
fi

if selected halt_forever; then
    run_ember halt_forever /dev/null --kernel "$GUESTS/halt_forever.elf"
    [ "$RC" -eq 0 ] || why "$(status_text) (want 0 once every vCPU halted with interrupts off)"
    expect_line "HALTING"
    grep -q '^FAIL' "$OUT" && why "guest said: $(grep -m1 '^FAIL' "$OUT")"
    finish halt_forever
fi

# Console output to a reader that never reads (a FIFO held open, its pipe shrunk to one
# page): Ember buffers and drops guest output instead of blocking the vCPU in write(), so
# SIGTERM still ends it promptly (the old blocking path retried write() after every kick
# and ignored SIGTERM until killed).
if selected console-stalled-reader; then
    fifo=$TMP/stalled.fifo
    mkfifo "$fifo"
    exec 7<>"$fifo"
    python3 -c 'import fcntl; fcntl.fcntl(7, 1031, 4096)' 2>/dev/null || true  # F_SETPIPE_SZ
    "$EMBER" run --kernel "$GUESTS/flood.elf" </dev/null >"$fifo" 2>"$TMP/stalled.err" &
    pid=$!
    sleep 3
    kill -TERM "$pid" 2>/dev/null
    t0=$(date +%s%N)
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null   # (still there after 15 s: the case fails below)
    wait "$pid"
    RC=$? MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    exec 7>&-
    [ "$RC" -eq 0 ] || why "$(status_text) after SIGTERM with stdout stalled (want 0); stderr: $(tail_of "$TMP/stalled.err")"
    [ "$MS" -lt 15000 ] || why "still running ${MS} ms after SIGTERM (killed)"
    grep -q 'bytes of guest output dropped' "$TMP/stalled.err" ||
        why "no warning counting the dropped output: $(tail_of "$TMP/stalled.err")"
    finish console-stalled-reader
fi

if selected triple_fault; then
    run_ember triple_fault /dev/null --kernel "$GUESTS/triple_fault.elf"
    [ "$RC" -eq 0 ] || why "$(status_text) (want 0: a triple fault is a reboot); stderr: $(tail_of "$ERR")"
    expect_line "TRIPLE FAULT NOW"
    grep -q '^FAIL' "$OUT" && why "guest said: $(grep -m1 '^FAIL' "$OUT")"
    grep -q 'triple fault' "$ERR" || why "no warning naming the triple fault on stderr"
    finish triple_fault
fi

# ---------------------------------------------------------------------------------------
# Bad input: Ember must refuse with one line on stderr, a non-zero status < 128, in time.

# bad_case NAME REGEX ARGS... : REGEX (grep -Ei) must match the stderr line.
bad_case() {
    local name=$1 re=$2
    shift 2
    selected "$name" || return 0
    run_ember "$name" /dev/null "$@"
    if [ "$RC" -eq 0 ]; then
        why "exit status 0 (want non-zero)"
    elif [ "$RC" -ge 124 ]; then
        why "$(status_text) (want a clean non-zero exit)"
    fi
    local lines
    lines=$(wc -l <"$ERR")
    if [ "$lines" -ne 1 ]; then
        why "stderr has $lines lines (want exactly 1): $(tail_of "$ERR" 4)"
    elif ! grep -Eqi -- "$re" "$ERR"; then
        why "stderr '$(head -c 200 "$ERR")' does not mention /$re/"
    fi
    if grep -q '^SUCCESS' "$OUT"; then
        why "the guest ran"
    fi
    finish "$name"
}

mkdir -p "$TMP/bad"
B=$TMP/bad
head -c 65536 /dev/urandom >"$B/garbage.bin"
printf 'not a kernel\n' >"$B/text.img"
head -c 40 "$GUESTS/bootinfo.elf" >"$B/elf-header-cut.elf"
head -c $((0x1800)) "$GUESTS/bootinfo.elf" >"$B/elf-segment-cut.elf"
head -c $((0x300)) "$GUESTS/bootinfo.bzImage" >"$B/bz-setup-cut.bzImage"
head -c $((1024 + 0x100)) "$GUESTS/bootinfo.bzImage" >"$B/bz-payload-cut.bzImage"
truncate -s 256M "$B/huge-initrd.img"
: >"$B/empty.img"
CMD400=$(printf 'y%.0s' $(seq 1 400))
CMD248=$(printf 'z%.0s' $(seq 1 248))

bad_case bad-missing-kernel    'no-such-kernel'      --kernel "$B/no-such-kernel.elf"
bad_case bad-empty-kernel      'empty\.img'          --kernel "$B/empty.img"
bad_case bad-garbage-kernel    'garbage\.bin'        --kernel "$B/garbage.bin"
bad_case bad-text-kernel       'text\.img'           --kernel "$B/text.img"
bad_case bad-elf-header-cut    'elf-header-cut'      --kernel "$B/elf-header-cut.elf"
bad_case bad-elf-segment-cut   'elf-segment-cut'     --kernel "$B/elf-segment-cut.elf"
bad_case bad-bz-setup-cut      'bz-setup-cut'        --kernel "$B/bz-setup-cut.bzImage"
bad_case bad-bz-payload-cut    'bz-payload-cut'      --kernel "$B/bz-payload-cut.bzImage"
bad_case bad-missing-initrd    'no-such-initrd'      --kernel "$GUESTS/bootinfo.elf" --initrd "$B/no-such-initrd.img"
bad_case bad-initrd-too-big    'initrd|huge-initrd'  --kernel "$GUESTS/bootinfo.elf" --initrd "$B/huge-initrd.img"
bad_case bad-cmdline-too-long  'cmdline|command.line' --kernel "$GUESTS/bootinfo.bzImage" --cmdline "$CMD400"
bad_case bad-cmdline-256       'cmdline|command.line' --kernel "$GUESTS/bootinfo.bzImage" --cmdline "$CMD248"
bad_case bad-memory-0          'memory'              --kernel "$GUESTS/bootinfo.elf" --memory 0
bad_case bad-memory-huge       'memory'              --kernel "$GUESTS/bootinfo.elf" --memory 1000000000
bad_case bad-memory-text       'memory'              --kernel "$GUESTS/bootinfo.elf" --memory lots
bad_case bad-vcpus-0           'vcpus'               --kernel "$GUESTS/bootinfo.elf" --vcpus 0
bad_case bad-vcpus-255         'vcpus'               --kernel "$GUESTS/bootinfo.elf" --vcpus 255
bad_case bad-vcpus-100000      'vcpus'               --kernel "$GUESTS/bootinfo.elf" --vcpus 100000
bad_case bad-no-kernel         'kernel'
bad_case bad-unknown-option    'bogus'               --kernel "$GUESTS/bootinfo.elf" --bogus 1
head -c 1000 /dev/zero >"$B/odd-size.img"
bad_case bad-disk-missing      'no-such-disk.*(no such file|create)' --kernel "$GUESTS/bootinfo.elf" --disk "$B/no-such-disk.img"
bad_case bad-disk-odd-size     'odd-size.*512'       --kernel "$GUESTS/bootinfo.elf" --disk "$B/odd-size.img"
bad_case bad-disk-directory    "$B"                  --kernel "$GUESTS/bootinfo.elf" --disk "$B"
bad_case bad-net-missing-tap   'embernotap0.*(no such tap|ip tuntap)' --kernel "$GUESTS/bootinfo.elf" --net tap=embernotap0
bad_case bad-vsock-cid         'cid 2.*3'            --kernel "$GUESTS/bootinfo.elf" --vsock "cid=2,uds=$B/v.sock"
touch "$B/taken.sock"
bad_case bad-vsock-uds-exists  'taken.sock.*exists'  --kernel "$GUESTS/bootinfo.elf" --vsock "cid=3,uds=$B/taken.sock"
bad_case bad-vsock-uds-nodir   'no-such-dir.*director' --kernel "$GUESTS/bootinfo.elf" --vsock "cid=3,uds=$B/no-such-dir/v.sock"

# /dev/kvm absent (a private mount namespace with an empty /dev) and not writable (run as
# nobody: the device is root's, mode 0600). Both need root to set up.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && command -v setpriv >/dev/null; then
    WRAP=(unshare --mount sh -c 'mount -t tmpfs none /dev && exec "$@"' sh)
    bad_case bad-kvm-absent        '/dev/kvm.*(does not exist|modprobe)' --kernel "$GUESTS/bootinfo.elf"
    WRAP=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod -R a+rX "$GUESTS" 2>/dev/null || true
    bad_case bad-kvm-not-writable  '/dev/kvm.*permission' --kernel "$GUESTS/bootinfo.elf"
    WRAP=()
else
    echo "SKIP bad-kvm-absent, bad-kvm-not-writable: need root, unshare and setpriv (NOT TESTED)"
fi

# ---------------------------------------------------------------------------------------
T1=$(date +%s%N)
echo "kvm tier took $(( (T1 - T0) / 1000000 )) ms"
echo "kvm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
