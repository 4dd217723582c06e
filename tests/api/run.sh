#!/usr/bin/env bash
# Live tests of the per-VM API socket (Firecracker-compatible HTTP on a Unix socket).
#
#   EMBER=build/ember GUESTS=build/guests API_TEST=build/tests/api/api_test tests/api/run.sh
#   (or: make -f Makefile -f tests/api/api.mk check-api)
#
# Starts `ember run --kernel counter.elf --api-sock SOCK --id t1` (the counter guest prints
# "TICK n" a few times a second), runs api_test's live tests against it (routes, exact
# bodies, pause/resume seen in the serial output, malformed and hostile clients), then
# checks from here what concerns the process: --api-sock on a path that exists, and
# SendCtrlAltDel ending the VM with exit 0 and removing the socket. Prints "PASS name" /
# "FAIL name: why" and last "api: N passed, M failed"; exits 0 only if nothing failed.
# API_TEST_TIMEOUT (seconds, default 90) bounds the whole VM's life.
set -u

EMBER=${EMBER:-build/ember}
GUESTS=${GUESTS:-build/guests}
API_TEST=${API_TEST:-build/tests/api/api_test}
LIFE=${API_TEST_TIMEOUT:-90}

not_run() {
    echo "API TESTS DID NOT RUN: $*"
    echo "api: 0 passed, 1 failed"
    exit 1
}

[ -e /dev/kvm ] || not_run "no /dev/kvm"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || not_run "/dev/kvm is not readable and writable"
[ -x "$EMBER" ] || not_run "no ember binary at $EMBER"
[ -x "$API_TEST" ] || not_run "no api_test binary at $API_TEST"
[ -f "$GUESTS/counter.elf" ] || not_run "no $GUESTS/counter.elf (make guests)"

EMBER=$(realpath "$EMBER")
API_TEST=$(realpath "$API_TEST")
KERNEL=$(realpath "$GUESTS/counter.elf")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-api.XXXXXX")
SOCK=$TMP/t1.sock
LOG=$TMP/t1.out
ERR=$TMP/t1.err
VM_PID=
T0=$(date +%s%N)

# Kill what this script started (by pid), then remove the scratch directory.
# VM_PID is `timeout`'s: it passes SIGTERM on to Ember (which stops its VM); if that does
# not work within 3 s, Ember (timeout's child) and timeout are killed.
cleanup() {
    if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then
        kill -TERM "$VM_PID" 2>/dev/null
        for _ in $(seq 30); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$VM_PID" 2>/dev/null; then
            pkill -KILL -P "$VM_PID" 2>/dev/null
            kill -KILL "$VM_PID" 2>/dev/null
        fi
        wait "$VM_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/tier.sh
. "$(dirname "$0")/../lib/tier.sh"

vm_alive() { kill -0 "$VM_PID" 2>/dev/null; }
vm_gone() { ! kill -0 "$VM_PID" 2>/dev/null; }

# ---------------------------------------------------------------------------------------
# The VM under test. `timeout` bounds its life even if this script is killed with -9.

timeout -k 5 "$LIFE" "$EMBER" run --kernel "$KERNEL" --api-sock "$SOCK" --id t1 \
    </dev/null >"$LOG" 2>"$ERR" &
VM_PID=$!

if ! wait_for 10 test -S "$SOCK"; then
    fail start "no API socket at $SOCK within 10 s ($(vm_alive && echo running || echo exited): $(head -c 300 "$ERR"))"
    echo "api: $passed passed, $failed failed"
    exit 1
fi
pass start

# ---------------------------------------------------------------------------------------
# The protocol tests, from api_test.

"$API_TEST" live "$SOCK" "$LOG" "$KERNEL" t1 >"$TMP/live.txt" 2>&1
live_rc=$?
cat "$TMP/live.txt"
p=$(grep -c '^PASS ' "$TMP/live.txt")
f=$(grep -c '^FAIL ' "$TMP/live.txt")
passed=$((passed + p))
failed=$((failed + f))
if [ "$live_rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail api_test "exited with status $live_rc without reporting a failure"
fi
vm_alive || fail vm_survived_api_test "Ember exited during the protocol tests: $(tail -c 300 "$ERR")"

# ---------------------------------------------------------------------------------------
# --api-sock on a path that exists: one clear error line, exit 1, the path left alone.

# check_refused NAME PATH: a second `ember run --api-sock PATH` must refuse to start.
check_refused() {
    local name=$1 path=$2 rc lines
    timeout -k 2 20 "$EMBER" run --kernel "$KERNEL" --api-sock "$path" --id t2 \
        </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    lines=$(wc -l <"$TMP/$name.err")
    if [ "$rc" -ne 1 ]; then
        fail "$name" "exit status $rc, want 1 (stderr: $(head -c 200 "$TMP/$name.err"))"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, want exactly one: $(head -c 300 "$TMP/$name.err")"
    elif ! grep -q -- "$path" "$TMP/$name.err" || ! grep -qi 'exists' "$TMP/$name.err"; then
        fail "$name" "the error does not name the path and say it exists: $(cat "$TMP/$name.err")"
    elif [ -s "$TMP/$name.out" ]; then
        fail "$name" "a guest ran anyway: $(head -c 100 "$TMP/$name.out")"
    else
        pass "$name"
    fi
}

# The live VM's own socket: refused, and the first VM is still reachable on it.
check_refused api_sock_in_use "$SOCK"
out=$("$API_TEST" call "$SOCK" GET / 2>&1)
if [ -S "$SOCK" ] && [ "$(head -1 <<<"$out")" = 200 ]; then
    pass api_sock_in_use_left_alone
else
    fail api_sock_in_use_left_alone "the first VM's socket is gone or silent: $out"
fi

# A regular file (say, a stale socket's name reused by something else): not removed.
echo "precious" >"$TMP/regular"
check_refused api_sock_regular_file "$TMP/regular"
if [ "$(cat "$TMP/regular" 2>/dev/null)" = precious ]; then
    pass api_sock_regular_file_kept
else
    fail api_sock_regular_file_kept "the existing file was removed or changed"
fi

# A directory that does not exist: one line, exit 1.
timeout -k 2 20 "$EMBER" run --kernel "$KERNEL" --api-sock "$TMP/nodir/x.sock" --id t3 \
    </dev/null >/dev/null 2>"$TMP/nodir.err"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$TMP/nodir.err")" -eq 1 ] &&
    grep -q "nodir/x.sock" "$TMP/nodir.err"; then
    pass api_sock_missing_directory
else
    fail api_sock_missing_directory "exit $rc, stderr: $(head -c 300 "$TMP/nodir.err")"
fi

# ---------------------------------------------------------------------------------------
# PUT /actions SendCtrlAltDel: 204, the guest sees Ctrl+Alt+Del and resets, Ember exits 0
# within a bounded time and removes its socket.

out=$("$API_TEST" call "$SOCK" PUT /actions '{"action_type": "SendCtrlAltDel"}' 2>&1)
t_cad=$(date +%s%N)
if [ "$out" = 204$'\n' ] || [ "$out" = 204 ]; then
    pass send_ctrl_alt_del_204
else
    fail send_ctrl_alt_del_204 "answer: $out"
fi
if wait_for 10 vm_gone; then
    wait "$VM_PID"
    rc=$?
    VM_PID=
    ms=$(( ($(date +%s%N) - t_cad) / 1000000 ))
    if [ "$rc" -eq 0 ]; then
        pass "ctrl_alt_del_exit_0 ($ms ms)"
    else
        fail ctrl_alt_del_exit_0 "exit status $rc: $(tail -c 300 "$ERR")"
    fi
else
    fail ctrl_alt_del_exit_0 "Ember still running 10 s after SendCtrlAltDel"
fi
if tr -d '\r' <"$LOG" | tail -1 | grep -qx 'CTRL-ALT-DEL'; then
    pass guest_saw_ctrl_alt_del
else
    fail guest_saw_ctrl_alt_del "the serial log does not end with CTRL-ALT-DEL: $(tail -c 80 "$LOG")"
fi
if [ ! -e "$SOCK" ]; then
    pass socket_removed_on_exit
else
    fail socket_removed_on_exit "$SOCK still exists"
fi

echo "api: took $(( ($(date +%s%N) - T0) / 1000000 )) ms"
echo "api: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
