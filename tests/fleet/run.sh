#!/usr/bin/env bash
# Fleet tests: `ember up` supervising several VMs, and the commands that act on a running
# fleet from another shell (list, status, pause, resume, stop, console).
#
#   EMBER=build/ember GUESTS=build/guests tests/fleet/run.sh
#   (or: make -f Makefile -f tests/fleet/fleet.mk check-fleet)
#
# Uses its own run directory (EMBER_RUN_DIR under a mktemp directory) and VM files it
# writes there. The main scenario runs three counter guests (each prints "TICK n" a few
# times a second until Ctrl+Alt+Del): pause/resume one and watch its serial log, stop one,
# kill -9 one, then SIGTERM `ember up` and check its summary. Smaller fleets check the
# errors that must come before any VM starts, a fleet that ends by itself, a VM that
# cannot start, --console, and a stop that times out. Prints "PASS name" / "FAIL name:
# why" and last "fleet: N passed, M failed"; exits 0 only if nothing failed.
set -u

EMBER=${EMBER:-build/ember}
GUESTS=${GUESTS:-build/guests}

not_run() {
    echo "FLEET TESTS DID NOT RUN: $*"
    echo "fleet: 0 passed, 1 failed"
    exit 1
}

[ -e /dev/kvm ] || not_run "no /dev/kvm"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || not_run "/dev/kvm is not readable and writable"
[ -x "$EMBER" ] || not_run "no ember binary at $EMBER"
for g in counter.elf i8042_reset.elf uart_irq.elf; do
    [ -f "$GUESTS/$g" ] || not_run "no $GUESTS/$g (make guests)"
done

EMBER=$(realpath "$EMBER")
GUESTS=$(realpath "$GUESTS")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-fleet.XXXXXX")
VMS=$TMP/vms
export EMBER_RUN_DIR=$TMP/run
RUN=$EMBER_RUN_DIR
mkdir -p "$VMS"
T0=$(date +%s%N)

HAVE_JQ=0
command -v jq >/dev/null 2>&1 && HAVE_JQ=1

UP_PID=
# Stops whatever this script started, by pid: `ember up` (SIGTERM lets it stop its VMs),
# then any VM process still named in the run directory's pid files, then `ember up`.
cleanup() {
    local p f
    if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
        kill -TERM "$UP_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    for f in "$RUN"/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f" 2>/dev/null)
        [[ $p =~ ^[0-9]+$ ]] && kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$UP_PID" ]; then
        kill -KILL "$UP_PID" 2>/dev/null
        wait "$UP_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/tier.sh
. "$(dirname "$0")/../lib/tier.sh"
# check NAME WHY COMMAND...: PASS if COMMAND succeeds, else FAIL with WHY, which is
# expanded only then (write it in single quotes: it shows the state after the wait).
check() {
    local name=$1 why=$2
    shift 2
    if "$@"; then pass "$name"; else fail "$name" "$(eval "echo \"$why\"")"; fi
}
# One-line views for messages.
flat() { tr '\n' '|' <"$1" 2>/dev/null | head -c 600; }
listing() { timeout 10 "$EMBER" list 2>&1 | tr '\n' '|'; }
rundir() { ls "$RUN" 2>&1 | tr '\n' ' '; }

# ember with a time bound (no command here may hang the tests).
em() { timeout -k 2 40 "$EMBER" "$@"; }

# vm_file FILE NAME KERNEL [ID]: a VM file in $VMS.
vm_file() {
    cat >"$VMS/$1" <<EOF
# $2: written by tests/fleet/run.sh
[base]
id = ${4:-1}
name = "$2"
cpu_num = 1

[kernel]
kernel_path = "$3"
memory_mib = 32
EOF
}

ticks() { grep -a -c 'TICK ' "$RUN/$1.log" 2>/dev/null || echo 0; }
# advances NAME SECONDS: the VM's TICK count grows by 2 within SECONDS.
advances() {
    local want
    want=$(( $(ticks "$1") + 2 ))
    wait_for "$2" eval '[ "$(ticks "'"$1"'")" -ge '"$want"' ]'
}
list_state() { em list 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }
all_running() {
    local s
    for n in "$@"; do
        s=$(list_state "$n")
        [ "$s" = Running ] || return 1
    done
}
# up_says FILE NAME STATE: `ember up` printed NAME's change to STATE.
up_says() { grep -Eq "^ember: $2 +$3" "$1"; }
leftovers() { find "$RUN" -maxdepth 1 \( -name '*.sock' -o -name '*.pid' \) 2>/dev/null; }
last_line() { tr -d '\r' <"$1" | awk 'NF { l = $0 } END { print l }'; }
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Starts `ember up ARGS...` in the background with its output in $UP_OUT.
start_up() {
    UP_OUT=$TMP/up.$RANDOM.out
    : >"$UP_OUT"
    "$EMBER" up "$@" </dev/null >"$UP_OUT" 2>&1 &
    UP_PID=$!
}
# Waits (bounded) for `ember up` to exit; UP_RC is its status (999: did not exit).
finish_up() {
    UP_RC=999
    if wait_for "$1" eval '! kill -0 "$UP_PID" 2>/dev/null'; then
        wait "$UP_PID"
        UP_RC=$?
        UP_PID=
    fi
}

ln -s "$GUESTS/counter.elf" "$VMS/counter.elf"

# =======================================================================================
# Errors found before any VM starts.

# Two files naming the same VM.
vm_file dup1.toml dup counter.elf 1
vm_file dup2.toml dup counter.elf 2
em up "$VMS/dup1.toml" "$VMS/dup2.toml" >"$TMP/dup.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "dup1.toml and .*dup2.toml both name their VM 'dup'" "$TMP/dup.out" &&
    [ ! -e "$RUN/dup.log" ] && [ -z "$(leftovers)" ]; then
    pass duplicate_names_refused
else
    fail duplicate_names_refused "exit $rc, output: $(head -c 300 "$TMP/dup.out"); run dir: $(ls "$RUN" 2>&1)"
fi

# An invalid VM file after a valid one: the file:line:col message, nothing started.
vm_file good.toml good counter.elf 1
cat >"$VMS/bad.toml" <<'EOF'
[base]
name = "bad"
cpu_num = 0
[kernel]
kernel_path = "counter.elf"
EOF
em up "$VMS/good.toml" "$VMS/bad.toml" >"$TMP/bad.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "^ember: $VMS/bad.toml:3:1: base.cpu_num: 0 is out of range" "$TMP/bad.out" &&
    [ ! -e "$RUN/good.log" ] && [ ! -e "$RUN/bad.log" ] && ! grep -q Loading "$TMP/bad.out"; then
    pass invalid_file_refused
else
    fail invalid_file_refused "exit $rc, output: $(head -c 300 "$TMP/bad.out"); run dir: $(ls "$RUN" 2>&1)"
fi

# More bad files: each names its file, line and column (or the missing section).
cat >"$VMS/bad2.toml" <<'EOF'
[base]
name = "bad2"
[kernel]
kernel_path = "counter.elf"
[devices]
disks = ["a.img"]
balloon = 3
EOF
cat >"$VMS/bad3.toml" <<'EOF'
[base]
name = "has space"
[kernel]
kernel_path = "counter.elf"
EOF
printf '[base]\nname = "nokernel"\n' >"$VMS/bad4.toml"
printf '[base]\nname = "x"\n[kernel\nkernel_path = "k"\n' >"$VMS/bad5.toml"
ok=1
for spec in "bad2.toml:7:1: devices.balloon: unknown key" \
            "bad3.toml:2:1: base.name: names may use" \
            "bad4.toml: the \[kernel\] section with kernel_path is required" \
            "bad5.toml:3:"; do
    f=${spec%%:*}
    em up "$VMS/$f" >"$TMP/badx.out" 2>&1
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q "^ember: $VMS/$spec" "$TMP/badx.out" ||
        [ "$(wc -l <"$TMP/badx.out")" -ne 1 ]; then
        fail bad_files_located "$f: exit $rc, output: $(head -c 300 "$TMP/badx.out")"
        ok=0
    fi
done
[ $ok = 1 ] && pass bad_files_located
[ -z "$(leftovers)" ] && [ -z "$(ls "$RUN"/*.log 2>/dev/null)" ] ||
    fail bad_files_left_nothing "run dir: $(ls "$RUN")"

# --console with a name that is not in the fleet.
em up --console nosuch "$VMS/good.toml" >"$TMP/con.out" 2>&1
rc=$?
check console_unknown_name_refused 'exit $rc, output: $(head -c 300 "$TMP/con.out")' \
    eval '[ $rc -eq 1 ] && grep -q "console nosuch: no VM of that name" "$TMP/con.out" && [ ! -e "$RUN/good.log" ]'

# Commands on a VM that is not running.
for cmd in stop pause resume status; do
    em "$cmd" nosuch >"$TMP/nosuch.out" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q "no VM named 'nosuch' is running" "$TMP/nosuch.out" &&
        [ "$(wc -l <"$TMP/nosuch.out")" -eq 1 ]; then
        pass "${cmd}_nosuch_clear_error"
    else
        fail "${cmd}_nosuch_clear_error" "exit $rc, output: $(head -c 300 "$TMP/nosuch.out")"
    fi
done
em stop nosuch --force >"$TMP/nosuch.out" 2>&1
rc=$?
check stop_force_nosuch_clear_error 'exit $rc, output: $(head -c 300 "$TMP/nosuch.out")' \
    eval '[ $rc -eq 1 ] && grep -q "no VM named '"'nosuch'"' is running" "$TMP/nosuch.out"'

# =======================================================================================
# The main fleet: three counter guests.

vm_file a.toml vm-a counter.elf 1
vm_file b.toml vm-b counter.elf 2
vm_file c.toml vm-c counter.elf 3
start_up "$VMS/a.toml" "$VMS/b.toml" "$VMS/c.toml"
MAIN_OUT=$UP_OUT
MAIN_PID=$UP_PID

if wait_for 20 all_running vm-a vm-b vm-c; then
    pass up_three_running
else
    fail up_three_running "ember list: $(listing); up: $(flat "$MAIN_OUT")"
fi
check up_reports_running 'up output: $(flat "$MAIN_OUT")' \
    wait_for 3 eval 'up_says "$MAIN_OUT" vm-a Running && up_says "$MAIN_OUT" vm-b Running && up_says "$MAIN_OUT" vm-c Running'
check all_three_ticking 'TICKs: a=$(ticks vm-a) b=$(ticks vm-b) c=$(ticks vm-c)' \
    eval 'advances vm-a 8 && advances vm-b 8 && advances vm-c 8'

# ember list: the pid column is each VM's process.
ok=1
for n in vm-a vm-b vm-c; do
    p=$(em list | awk -v n=$n '$1 == n { print $3 }')
    if [ "$p" != "$(cat "$RUN/$n.pid" 2>/dev/null)" ] || ! kill -0 "$p" 2>/dev/null; then
        ok=0
    fi
done
check list_pids '$(listing)' test $ok = 1

# ember status --json: valid JSON with the instance and its configuration.
em status vm-b --json >"$TMP/status.json" 2>&1
rc=$?
if [ $HAVE_JQ = 1 ]; then
    if [ $rc -eq 0 ] && jq -e --arg k "$VMS/counter.elf" '
            .instance.id == "vm-b" and .instance.state == "Running" and
            .instance.app_name == "Firecracker" and
            .config."machine-config".vcpu_count == 1 and
            .config."machine-config".mem_size_mib == 32 and
            .config."boot-source".kernel_image_path == $k' "$TMP/status.json" >/dev/null; then
        pass status_json
    else
        fail status_json "exit $rc: $(head -c 400 "$TMP/status.json")"
    fi
else
    # No jq: a structural check only (install nothing).
    if [ $rc -eq 0 ] && grep -q '^{"instance":{.*"state":"Running".*},"config":{.*}}$' "$TMP/status.json"; then
        pass "status_json (shape only: no jq)"
    else
        fail status_json "exit $rc: $(head -c 400 "$TMP/status.json")"
    fi
fi
em status vm-b >"$TMP/status.txt" 2>&1
check status_text '$(flat "$TMP/status.txt")' \
    eval 'grep -q "^name: *vm-b$" "$TMP/status.txt" && grep -q "^state: *Running$" "$TMP/status.txt" && grep -q "^memory: *32 MiB$" "$TMP/status.txt"'

# A second `ember up` of a VM that is running: refused; the running one is untouched.
em up "$VMS/a.toml" >"$TMP/again.out" 2>&1
rc=$?
check up_refuses_running_name 'exit $rc: $(head -c 300 "$TMP/again.out"); vm-a: $(list_state vm-a)' \
    eval '[ $rc -eq 1 ] && grep -q "already running" "$TMP/again.out" && [ "$(list_state vm-a)" = Running ]'

# ember console attaches to the VM's console socket: the serial output streams to it
# (stdin kept open, so it stays attached until the timeout).
sleep 5 | timeout 2 "$EMBER" console vm-a >"$TMP/console.out" 2>&1
check console_streams_output 'console printed: $(head -c 100 "$TMP/console.out")' \
    eval '[ "$(grep -c "TICK " "$TMP/console.out")" -ge 2 ]'

# Pause vm-b: its counter stops, the others go on; every view says Paused.
em pause vm-b >"$TMP/pause.out" 2>&1
rc=$?
b0=$(ticks vm-b)
# shellcheck disable=SC2034 # a0 and c0 are read by the check messages and evals below
a0=$(ticks vm-a) c0=$(ticks vm-c)
sleep 2
b1=$(ticks vm-b)
if [ $rc -eq 0 ] && [ "$b1" -eq "$b0" ]; then
    pass pause_stops_counter
else
    fail pause_stops_counter "exit $rc ($(cat "$TMP/pause.out")), vm-b TICKs $b0 -> $b1 over 2 s"
fi
check paused_others_tick 'vm-a $a0 -> $(ticks vm-a), vm-c $c0 -> $(ticks vm-c)' \
    eval '[ "$(ticks vm-a)" -ge $((a0 + 2)) ] && [ "$(ticks vm-c)" -ge $((c0 + 2)) ]'
check paused_in_list 'list says $(list_state vm-b)' test "$(list_state vm-b)" = Paused
check paused_in_status '$(em status vm-b 2>&1 | head -3)' \
    eval 'em status vm-b | grep -q "^state: *Paused$"'
check paused_in_up 'up output: $(flat "$MAIN_OUT")' \
    wait_for 3 up_says "$MAIN_OUT" vm-b Paused

em resume vm-b >"$TMP/resume.out" 2>&1
rc=$?
check resume_advances_counter 'exit $rc ($(cat "$TMP/resume.out")), vm-b TICKs $b1 -> $(ticks vm-b)' \
    eval '[ $rc -eq 0 ] && advances vm-b 8'
check resumed_in_list 'list says $(list_state vm-b)' test "$(list_state vm-b)" = Running
check resumed_in_up 'up output: $(flat "$MAIN_OUT")' \
    wait_for 3 eval '[ "$(grep -Ec "^ember: vm-b +Running" "$MAIN_OUT")" -ge 2 ]'

# ember stop vm-a: Ctrl+Alt+Del, returns 0 once the VM is gone; up says Stopped. A
# console following vm-a returns by itself when vm-a goes.
timeout 20 "$EMBER" console vm-a >/dev/null 2>&1 &
CON_PID=$!
t=$(date +%s%N)
em stop vm-a >"$TMP/stop.out" 2>&1
rc=$?
ms=$(elapsed_ms "$t")
if [ $rc -eq 0 ] && [ ! -e "$RUN/vm-a.sock" ]; then
    pass "stop_vm_a ($ms ms)"
else
    fail stop_vm_a "exit $rc after $ms ms: $(cat "$TMP/stop.out")"
fi
check stop_vm_a_stopped_in_up 'up output: $(flat "$MAIN_OUT")' \
    wait_for 3 up_says "$MAIN_OUT" vm-a Stopped
check stop_vm_a_guest_saw_cad 'vm-a log ends with: $(last_line "$RUN/vm-a.log")' \
    test "$(last_line "$RUN/vm-a.log")" = CTRL-ALT-DEL
check stop_vm_a_cleaned 'run dir: $(rundir)' \
    wait_for 2 eval '[ ! -e "$RUN/vm-a.pid" ] && [ -z "$(list_state vm-a)" ]'
if wait_for 3 eval '! kill -0 $CON_PID 2>/dev/null'; then
    pass console_ends_with_vm
else
    fail console_ends_with_vm "ember console vm-a still running 3 s after vm-a stopped"
    kill "$CON_PID" 2>/dev/null
fi
wait "$CON_PID" 2>/dev/null

# kill -9 vm-c: up reports it Crashed with signal 9; vm-b keeps running.
c_pid=$(cat "$RUN/vm-c.pid" 2>/dev/null)
if [[ $c_pid =~ ^[0-9]+$ ]]; then
    kill -KILL "$c_pid"
    check kill9_crashed_in_up 'up output: $(flat "$MAIN_OUT")' \
        wait_for 3 eval 'grep -Eq "^ember: vm-c +Crashed: killed by signal 9" "$MAIN_OUT"'
    check kill9_cleaned 'run dir: $(rundir)' \
        wait_for 2 eval '[ ! -e "$RUN/vm-c.pid" ] && [ ! -e "$RUN/vm-c.sock" ]'
else
    fail kill9_crashed_in_up "no pid in $RUN/vm-c.pid"
fi
check kill9_others_run 'vm-b: $(list_state vm-b), TICKs $(ticks vm-b)' \
    eval '[ "$(list_state vm-b)" = Running ] && advances vm-b 8 && kill -0 $MAIN_PID'

# SIGTERM to up: vm-b gets Ctrl+Alt+Del, up prints the summary and exits non-zero
# (vm-c crashed); nothing is left in the run directory. vm-b is paused first: a paused
# guest cannot see the keys, so up must resume it before sending them.
em pause vm-b >/dev/null 2>&1
check paused_before_sigterm 'list says $(list_state vm-b)' test "$(list_state vm-b)" = Paused
t=$(date +%s%N)
kill -TERM "$MAIN_PID"
finish_up 15
ms=$(elapsed_ms "$t")
if [ $UP_RC -eq 999 ]; then
    fail sigterm_up_exits "ember up still running 15 s after SIGTERM"
elif [ $UP_RC -eq 0 ]; then
    fail sigterm_up_exits "exit 0 although vm-c crashed"
else
    pass "sigterm_up_exits ($UP_RC after $ms ms)"
fi
check sigterm_stops_paused_vm_with_cad 'vm-b log ends with: $(last_line "$RUN/vm-b.log"); up: $(flat "$MAIN_OUT")' \
    eval 'up_says "$MAIN_OUT" vm-b "Stopping: sending Ctrl\+Alt\+Del" && [ "$(last_line "$RUN/vm-b.log")" = CTRL-ALT-DEL ]'
check summary 'up output: $(flat "$MAIN_OUT")' \
    eval 'grep -q "^ember: fleet summary$" "$MAIN_OUT" &&
          grep -Eq "^  vm-a +Stopped +exit 0$" "$MAIN_OUT" &&
          grep -Eq "^  vm-b +Stopped +exit 0$" "$MAIN_OUT" &&
          grep -Eq "^  vm-c +Crashed +signal 9$" "$MAIN_OUT" &&
          grep -q "^ember: 3 VMs, 2 stopped, 1 crashed$" "$MAIN_OUT"'
check no_leftover_files 'left: $(leftovers)' test -z "$(leftovers)"
check list_empty_after '$(listing)' eval '[ "$(em list | wc -l)" -eq 1 ]'

# =======================================================================================
# A fleet whose VMs all end by themselves: exit 0, all Stopped.

# r2's socket is stale (a regular file left behind, nothing listening): up replaces it.
vm_file r1.toml r1 "$GUESTS/i8042_reset.elf" 1
vm_file r2.toml r2 "$GUESTS/i8042_reset.elf" 2
: >"$RUN/r2.sock"
start_up "$VMS/r1.toml" "$VMS/r2.toml"
finish_up 20
check self_exiting_fleet_exit_0 'exit $UP_RC: $(flat "$UP_OUT")' \
    eval '[ $UP_RC -eq 0 ] && grep -Eq "^  r1 +Stopped +exit 0$" "$UP_OUT" &&
          grep -Eq "^  r2 +Stopped +exit 0$" "$UP_OUT" &&
          grep -q "^ember: 2 VMs, 2 stopped, 0 crashed$" "$UP_OUT" && [ -z "$(leftovers)" ]'
check stale_socket_replaced 'r2 log: $(flat "$RUN/r2.log")' grep -q "BEFORE RESET" "$RUN/r2.log"

# A VM that cannot start (its kernel is missing) is Crashed with its exit status; the
# other VM is unaffected; up exits non-zero.
vm_file nok.toml nok "missing-kernel.elf" 2
start_up "$VMS/r1.toml" "$VMS/nok.toml"
finish_up 20
check vm_that_cannot_start 'exit $UP_RC: $(flat "$UP_OUT")' \
    eval '[ $UP_RC -eq 1 ] && grep -Eq "^ember: nok +Crashed: exit status 1, see $RUN/nok.log" "$UP_OUT" &&
          grep -Eq "^  r1 +Stopped +exit 0$" "$UP_OUT" && grep -q "missing-kernel.elf" "$RUN/nok.log"'

# --console NAME: that VM's serial output comes to up's own terminal (here, its stdout).
rm -f "$RUN/r1.log" "$RUN/r2.log"
start_up --console r1 "$VMS/r1.toml" "$VMS/r2.toml"
finish_up 20
check console_vm_gets_terminal 'exit $UP_RC: $(flat "$UP_OUT")' \
    eval '[ $UP_RC -eq 0 ] && grep -q "^ember: r1 .*Loading (console here)" "$UP_OUT" &&
          grep -q "^BEFORE RESET" "$UP_OUT" && ! grep -q "BEFORE RESET" "$RUN/r1.log" 2>/dev/null &&
          grep -q "BEFORE RESET" "$RUN/r2.log"'

# =======================================================================================
# A stop the guest ignores: uart_irq waits for serial input and does not read the
# keyboard; left alone it gives up after 5 s (printing "timeout waiting for RX"). With
# --stop-timeout 1, SIGTERM to up escalates 1 s after Ctrl+Alt+Del, well before that.

vm_file u.toml u1 "$GUESTS/uart_irq.elf" 1
start_up --stop-timeout 1 "$VMS/u.toml"
if wait_for 10 eval 'up_says "$UP_OUT" u1 Running && grep -q "UART IRQ READY" "$RUN/u1.log"'; then
    t=$(date +%s%N)
    kill -TERM "$UP_PID"
    finish_up 10
    ms=$(elapsed_ms "$t")
    if [ $UP_RC -eq 999 ]; then
        fail stop_timeout_escalates "ember up still running 10 s after SIGTERM"
    elif [ "$ms" -ge 900 ] && [ "$ms" -le 3500 ] && up_says "$UP_OUT" u1 "Stopping: sending Ctrl\+Alt\+Del" &&
        ! grep -q "timeout waiting for RX" "$RUN/u1.log" && ! grep -q CTRL-ALT-DEL "$RUN/u1.log" &&
        [ -z "$(leftovers)" ]; then
        pass "stop_timeout_escalates ($ms ms, exit $UP_RC)"
    else
        fail stop_timeout_escalates "up exited $UP_RC after $ms ms (want 1-3.5 s); up: $(flat "$UP_OUT"); log: $(tr '\n' '|' <"$RUN/u1.log")"
    fi
else
    fail stop_timeout_escalates "uart_irq VM not running: $(flat "$UP_OUT")"
fi

# =======================================================================================
# ember console is interactive: what it sends reaches the guest's UART (uart_irq echoes
# it upper-cased), and the guest's answer comes back through it.

vm_file c.toml con1 "$GUESTS/uart_irq.elf" 1
start_up "$VMS/c.toml"
if wait_for 10 eval 'up_says "$UP_OUT" con1 Running && grep -q "UART IRQ READY" "$RUN/con1.log"'; then
    (printf 'hello console\n'; sleep 4) | timeout 8 "$EMBER" console con1 >"$TMP/con.out" 2>&1
    finish_up 10
    check console_is_interactive 'console: $(flat "$TMP/con.out"); log: $(flat "$RUN/con1.log")' \
        eval 'grep -q "HELLO CONSOLE" "$TMP/con.out" && grep -q "^SUCCESS" "$RUN/con1.log" && [ $UP_RC -eq 0 ]'
else
    fail console_is_interactive "uart_irq VM not running: $(flat "$UP_OUT")"
fi

echo "fleet: took $(elapsed_ms "$T0") ms"
echo "fleet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
