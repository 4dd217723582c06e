#!/usr/bin/env bash
# Runs a command with a usable /dev/kvm: the one way every live-VM tier and `make bench`
# get a real KVM.
#
#   tests/kvm-host.sh [--name NAME] [--] COMMAND [ARG...]
#   tests/kvm-host.sh --where        print where a command would run, exit 0 (or 2)
#
# Where it runs (EMBER_KVM=auto, the default):
#   host    this machine's /dev/kvm, when tests/lib/kvm_probe.c finds it usable (it opens,
#           creates a VM and runs a one-instruction guest to its HLT exit);
#   nested  otherwise, inside the nested test host: QEMU TCG emulating an AMD CPU with SVM
#           and nested paging, Debian's kernel with its kvm-amd, and this machine's whole
#           root mounted over virtio-9p and chrooted into (tests/kvm-host-init.sh). The
#           command sees the same files and tools, at the same paths, with a real
#           /dev/kvm. Unix sockets cannot be bound on 9p, so TMPDIR is a tmpfs there
#           (/run/tmp); the command cannot reach the network (no package installs).
# EMBER_KVM=host or EMBER_KVM=nested forces one; a forced host that is not usable fails.
#
# The command's standard output and error are printed when it ends (with
# KVM_HOST_VERBOSE=1 also streamed to stderr while it runs), then one line:
#   KVM: <where it ran>; NAME <seconds> s
# which tests/run-all.sh reports per tier. The exit status is the command's; 2 when no
# KVM could be had either way (loudly: "KVM TIER DID NOT RUN: ...").
#
# The nested test host fails on its own now and then (outer RCU stalls and soft lockups,
# spurious inner resets; tests/nested/README.md). A command that fails there gets up to
# KVM_HOST_ATTEMPTS (default 2) outer boots: each failed attempt prints a RETRY line with
# its reason and its output indented (its summary lines then do not count), and its
# console log is kept. A real failure fails every attempt.
#
# Other settings: KVM_HOST_TIMEOUT (seconds per outer boot, default 2400), KVM_HOST_STALL
# (seconds without the outer host's 20-second heartbeat before it counts as wedged and is
# killed, default 240), KVM_HOST_QUIET (seconds without new output from the command before
# it counts as stuck, default 300), KVM_HOST_SMP (outer vCPUs, default 1), KVM_HOST_MEM
# (MiB, default 6144), KVM_HOST_WORK (job files and logs; default build/kvm-host: it must
# be on this machine's root file system, which the nested host mounts).
set -euo pipefail
# shellcheck source=nested/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/nested/lib.sh"
# shellcheck source=nested/kernel.sh
. "$NESTED_DIR/kernel.sh"

EMBER_KVM=${EMBER_KVM:-auto}
KVM_HOST_ATTEMPTS=${KVM_HOST_ATTEMPTS:-2}
KVM_HOST_TIMEOUT=${KVM_HOST_TIMEOUT:-2400}
KVM_HOST_STALL=${KVM_HOST_STALL:-240}
KVM_HOST_QUIET=${KVM_HOST_QUIET:-300}
KVM_HOST_MEM=${KVM_HOST_MEM:-6144}
# One outer vCPU: with two (MTTCG), the outer host wedged in the SMP cases of check-kvm
# (3 and 254 inner vCPUs) in two runs of three on a loaded machine, heartbeat gone; with
# one, both runs passed. Nothing here needs two: the tiers' guests are small.
KVM_HOST_SMP=${KVM_HOST_SMP:-1}
KVM_HOST_WORK=${KVM_HOST_WORK:-$REPO_ROOT/build/kvm-host}
KVM_HOST_VERBOSE=${KVM_HOST_VERBOSE:-0}
NESTED_WHERE="nested kvm-amd in QEMU TCG"

kh_log() { printf 'kvm-host: %s\n' "$*" >&2; }
did_not_run() { echo "KVM TIER DID NOT RUN: $*"; exit 2; }

# The probe, compiled on demand (it needs only the kernel headers in libc6-dev).
probe_host() {
    local bin=$REPO_ROOT/build/tests/kvm_probe src=$REPO_ROOT/tests/lib/kvm_probe.c
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        mkdir -p "$(dirname "$bin")"
        gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$bin" "$src" >&2 ||
            did_not_run "cannot compile $src (gcc)"
    fi
    PROBE_OUT=$("$bin" 2>&1) && return 0
    return 1
}

# Sets WHERE to "host /dev/kvm (<module>)" or NESTED_WHERE; fails loudly when forced to
# a host KVM that is not usable.
decide() {
    case "$EMBER_KVM" in
    host)
        probe_host || did_not_run "EMBER_KVM=host but $PROBE_OUT"
        WHERE="host ${PROBE_OUT#usable: }" ;;
    nested) WHERE=$NESTED_WHERE ;;
    auto)
        if probe_host; then
            WHERE="host ${PROBE_OUT#usable: }"
        else
            kh_log "host KVM $PROBE_OUT; using the nested test host"
            WHERE=$NESTED_WHERE
        fi ;;
    *) did_not_run "EMBER_KVM=$EMBER_KVM: want auto, host or nested" ;;
    esac
}

# --- the nested test host ---------------------------------------------------------

# Builds the outer initramfs: busybox, the shared-root modules, kvm-host-init.sh.
build_share_initramfs() {
    local out=$1 root
    root=$(mktemp -d)
    make_root_skeleton "$root"
    install_busybox "$root"
    install -m 755 "$REPO_ROOT/tests/kvm-host-init.sh" "$root/init"
    install -m 644 "$NESTED_DIR/init-lib.sh" "$root/init-lib.sh"
    mkdir -p "$root/modules"
    cp "$KERNEL_DIR"/modules-share/*.ko "$KERNEL_DIR/modules-share/order" "$root/modules/"
    pack_cpio "$root" "$out"
    rm -rf "$root"
}

# Writes the job script: this shell's exported environment (less what must not cross),
# the working directory, the command; output and status go next to it.
write_job() {
    local job=$1 dir name
    shift
    dir=$(dirname "$job")
    {
        echo '#!/bin/bash'
        echo "# Generated by tests/kvm-host.sh; run inside the nested test host."
        for name in $(compgen -e); do
            [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
            case "$name" in
            PWD|OLDPWD|SHLVL|_|TMPDIR|XDG_RUNTIME_DIR|MAKEFLAGS|MFLAGS|MAKELEVEL|MAKE_TERMOUT|MAKE_TERMERR) continue ;;
            esac
            printf 'export %s=%q\n' "$name" "${!name}"
        done
        printf 'export TMPDIR=/run/tmp EMBER_KVM=host EMBER_KVM_WHERE=%q\n' "$NESTED_WHERE"
        printf 'cd %q || exit 126\n' "$PWD"
        printf 'exec >%q 2>&1\n' "$dir/out"
        printf '%q ' "$@"
        echo
        printf 'echo $? > %q\n' "$dir/rc"
    } > "$job"
}

# The first sign on the outer console that the outer kernel stalled or crashed.
outer_fault() {
    tr -d '\r' < "$1" | grep -a -m1 -o -E \
        'soft lockup[^!]*|rcu: INFO: [a-z_]* detected stalls|Kernel panic - [^\[]*|BUG: [^\[]*' || true
}

# One outer boot running the job; sets ATTEMPT_RC and ATTEMPT_WHY.
nested_attempt() {
    local dir=$1 console=$dir/console.log qrc=0 tailpid="" t0
    rm -f "$dir/out" "$dir/rc"
    : > "$dir/out"
    t0=$(now_ms)
    if [ "$KVM_HOST_VERBOSE" = 1 ]; then
        tail -n +1 -f "$dir/out" >&2 &
        tailpid=$!
    fi
    # shellcheck disable=SC2054  # the commas are inside QEMU option values
    (timeout -k 10 "$KVM_HOST_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi \
        -M q35 -cpu qemu64,+svm,+npt -m "$KVM_HOST_MEM" -smp "$KVM_HOST_SMP" \
        -kernel "$KERNEL_DIR/vmlinuz" -initrd "$dir/outer.cpio" \
        -append "console=ttyS0 panic=-1 quiet kvmhost.job=${dir// /%20}/job.sh" \
        -fsdev local,id=root,path=/,security_model=passthrough,multidevs=remap \
        -device virtio-9p-pci,fsdev=root,mount_tag=host \
        -no-user-config -nodefaults -display none -no-reboot \
        -serial "file:$console" < /dev/null > "$dir/qemu.log" 2>&1) &
    local qpid=$! beats=0 n last_beat out_size=0 sz last_out
    last_beat=$(now_ms)
    last_out=$last_beat
    STALLED=""
    # The outer /init prints a heartbeat every 20 s. A wedged outer kernel (seen: silent
    # hangs, not only panics) stops them: end that boot after KVM_HOST_STALL seconds of
    # silence instead of waiting out the whole timeout.
    while kill -0 "$qpid" 2>/dev/null; do
        sleep 2
        n=$(grep -a -c '^KVMHOST-ALIVE' "$console" 2>/dev/null || true)
        if [ "${n:-0}" != "$beats" ]; then
            beats=${n:-0}
            last_beat=$(now_ms)
        elif [ $(( ($(now_ms) - last_beat) / 1000 )) -ge "$KVM_HOST_STALL" ]; then
            STALLED="no heartbeat from the outer host for $KVM_HOST_STALL s"
        fi
        # The tiers print a line per case and bound each case; a command silent for
        # KVM_HOST_QUIET seconds is stuck in a way its own timeouts did not catch.
        sz=$(stat -c %s "$dir/out" 2>/dev/null || echo 0)
        if [ "$sz" != "$out_size" ]; then
            out_size=$sz
            last_out=$(now_ms)
        elif [ $(( ($(now_ms) - last_out) / 1000 )) -ge "$KVM_HOST_QUIET" ]; then
            STALLED="no output from the command for $KVM_HOST_QUIET s"
        fi
        if [ -n "$STALLED" ]; then
            # Both the timeout and the QEMU it runs carry this job's path.
            pkill -KILL -f "kvmhost.job=${dir// /%20}/job.sh" 2>/dev/null || true
            break
        fi
    done
    # (stderr: no "Killed" job report from bash when the watchdog ended it.)
    { wait "$qpid"; } 2>/dev/null || qrc=$?
    [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
    ATTEMPT_SECONDS=$(( ($(now_ms) - t0) / 1000 ))
    local ready fault
    ready=$(tr -d '\r' < "$console" | sed -n 's/^KVMHOST-READY uptime=//p' | head -n1)
    [ -n "$ready" ] && ATTEMPT_BOOT="outer boot ${ready%.*} s" || ATTEMPT_BOOT=""
    if grep -aq KVMHOST-NO-KVM "$console"; then
        sed 's/^/    /' "$console" | tail -n 25
        did_not_run "no /dev/kvm inside the nested test host (kvm-amd did not load)"
    fi
    if grep -aq KVMHOST-NO-ROOT "$console"; then
        sed 's/^/    /' "$console" | tail -n 25
        did_not_run "the nested test host could not mount this machine's root over virtio-9p"
    fi
    if [ -z "$ready" ] && [ -z "$STALLED" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ]; then
        sed 's/^/    /' "$dir/qemu.log" "$console" | tail -n 30
        did_not_run "the nested test host did not boot (outer QEMU exit $qrc)"
    fi
    fault=$(outer_fault "$console")
    if [ -f "$dir/rc" ]; then
        ATTEMPT_RC=$(cat "$dir/rc")
        ATTEMPT_WHY="exit $ATTEMPT_RC"
    elif [ -n "$STALLED" ]; then
        ATTEMPT_RC=124
        ATTEMPT_WHY="no result: $STALLED (killed)"
    elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        ATTEMPT_RC=124
        ATTEMPT_WHY="no result: the outer host was killed after $KVM_HOST_TIMEOUT s"
    else
        ATTEMPT_RC=125
        ATTEMPT_WHY="no result: the outer host ended (QEMU exit $qrc) before the command did"
    fi
    [ -n "$fault" ] && ATTEMPT_WHY="$ATTEMPT_WHY; outer kernel: $fault"
    return 0
}

run_nested() {
    local name=$1 dir attempt=1
    shift
    need_host_tools || did_not_run "cannot install the nested test host's tools (apt-get failed)"
    KERNEL_DIR=$(kernel_fetch >&2 && echo "$KERNEL_DIR") ||
        did_not_run "cannot fetch Debian's kernel package (see messages above)"
    (kernel_module_set modules-share "${SHARE_MODULES[@]}" >&2) ||
        did_not_run "cannot extract the 9p/kvm modules from the kernel package"
    mkdir -p "$KVM_HOST_WORK"
    KVM_HOST_WORK=$(cd "$KVM_HOST_WORK" && pwd -P)
    case "$KVM_HOST_WORK/" in
    /proc/*|/sys/*|/dev/*|/run/*) did_not_run "KVM_HOST_WORK=$KVM_HOST_WORK is not on the root file system the nested host mounts" ;;
    esac
    # The job's path goes on the outer kernel's command line: no blanks or odd characters
    # in the part we choose; blanks in KVM_HOST_WORK itself travel as %20.
    dir=$(mktemp -d "$KVM_HOST_WORK/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').XXXXXX")
    build_share_initramfs "$dir/outer.cpio"
    write_job "$dir/job.sh" "$@"
    kh_log "$name: booting the nested test host (log: $dir/console.log, output: $dir/out)"
    while :; do
        nested_attempt "$dir"
        [ "$ATTEMPT_RC" = 0 ] && break
        [ "$attempt" -lt "$KVM_HOST_ATTEMPTS" ] && [ "$ATTEMPT_RC" != 126 ] || break
        echo "RETRY $name: attempt $attempt failed in the nested test host: $ATTEMPT_WHY; failed checks: $(grep -a -E '^(FAIL|.*DID NOT RUN)' "$dir/out" | head -n 5 | cut -c1-160 | tr '\n' '|')"
        echo "RETRY $name: attempt $attempt's output (its summaries do not count), then another outer boot:"
        sed 's/^/    attempt '"$attempt"'| /' "$dir/out"
        mv "$dir/console.log" "$dir/console.attempt$attempt.log"
        mv "$dir/out" "$dir/out.attempt$attempt"
        attempt=$((attempt + 1))
    done
    cat "$dir/out"
    [ "$ATTEMPT_RC" = 0 ] || echo "kvm-host: $name failed in the nested test host: $ATTEMPT_WHY (console: $dir/console.log)"
    ATTEMPTS_USED=$attempt
    rm -f "$dir/outer.cpio"
    return "$ATTEMPT_RC"
}

# --- main --------------------------------------------------------------------------

NAME=""
case "${1:-}" in
--where)
    decide
    echo "$WHERE"
    exit 0 ;;
--name)
    NAME=$2
    shift 2 ;;
esac
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "usage: tests/kvm-host.sh [--name NAME] [--] COMMAND [ARG...] | --where" >&2; exit 2; }
NAME=${NAME:-$(basename "$1")}

decide
start=$(now_ms)
rc=0
if [ "$WHERE" = "$NESTED_WHERE" ]; then
    run_nested "$NAME" "$@" || rc=$?
    extra="; $ATTEMPT_BOOT"
    [ "$ATTEMPTS_USED" -gt 1 ] && extra+=", on attempt $ATTEMPTS_USED: see RETRY above"
else
    EMBER_KVM_WHERE=$WHERE "$@" || rc=$?
    extra=""
fi
echo "KVM: $WHERE; $NAME $(( ($(now_ms) - start) / 1000 )) s$extra"
exit "$rc"
