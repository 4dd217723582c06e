#!/usr/bin/env bash
# Drop-in Firecracker compatibility: the call sequences of the stacks that drive
# Firecracker, replayed against a live Ember with every status code and body checked
# (api_test replay), and the guest seen running afterwards:
#
#   gosdk        firecracker-go-sdk's default handler order (logger, metrics, boot-source,
#                drives, network-interfaces, machine-config, vsock, mmds/config, mmds,
#                InstanceStart), then post-boot refusals, FlushMetrics, pause/resume
#   kata         Kata's `--config-file` start and GET / readiness polling, FIFO logger
#                and metrics, vCPU threads named "fc_vcpu N"
#   runtime_rs   Kata runtime-rs's PUT order, with PUT /vsock twice (the second replaces)
#   flintlock    `--no-api --config-file --metadata`; then with an API socket: the
#                metadata is what GET /mmds shows, PATCH merges into it (and `ember api`)
#   getting_started  Firecracker's getting-started curl sequence on a relative socket path
#
# Ember runs as `firecracker` (a symlink), as these stacks start it. Prints PASS/FAIL lines
# and last "fc-compat: N passed, M failed"; exits 0 only if nothing failed.
set -u

EMBER=${EMBER:-build/ember}
GUESTS=${GUESTS:-build/guests}
API_TEST=${API_TEST:-build/tests/api/api_test}

not_run() {
    echo "FC-COMPAT TESTS DID NOT RUN: $*"
    echo "fc-compat: 0 passed, 1 failed"
    exit 1
}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || not_run "/dev/kvm is not usable"
[ -x "$EMBER" ] || not_run "no ember binary at $EMBER"
[ -x "$API_TEST" ] || not_run "no api_test binary at $API_TEST"
[ -f "$GUESTS/counter.elf" ] || not_run "no $GUESTS/counter.elf (make guests)"

EMBER=$(realpath "$EMBER")
API_TEST=$(realpath "$API_TEST")
K=$(realpath "$GUESTS/counter.elf")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-fc.XXXXXX")
mkdir -p "$TMP/bin"
ln -s "$EMBER" "$TMP/bin/firecracker"
FC=$TMP/bin/firecracker
DISK=$TMP/rootfs.ext4
truncate -s 4M "$DISK"
DISK2=$TMP/rootfs2.ext4     # the drive hot-swap's files: bigger, empty, a bad size
truncate -s 8M "$DISK2"
EMPTY=$TMP/placeholder.img
: >"$EMPTY"
ODD=$TMP/odd.img
head -c 1000 /dev/zero >"$ODD"
TAP=
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            sleep 0.3
            pkill -KILL -P "$p" 2>/dev/null
            kill -KILL "$p" 2>/dev/null
        fi
    done
    [ -n "$TAP" ] && ip link del "$TAP" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/tier.sh
. "$(dirname "$0")/../lib/tier.sh"

# A tap for the network-interfaces calls, if this host lets us make one.
if ip tuntap add "fct$$" mode tap 2>/dev/null; then
    TAP=fct$$
    ip link set "$TAP" up 2>/dev/null
else
    echo "SKIP network interfaces: cannot create a tap device (NOT TESTED)"
fi

# start NAME ARGS...: runs ARGS in the background (bounded by timeout), output to
# $TMP/NAME.out/.err; sets VM (timeout's pid) and VMM (Ember's pid, once it exists).
start() {
    local name=$1
    shift
    timeout -k 5 60 "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
    VM=$!
    PIDS+=("$VM")
    VMM=
    wait_for 5 pgrep -P "$VM" >/dev/null && VMM=$(pgrep -P "$VM")
}

# r STATUS METHOD PATH [BODY [CHECK]]: appends one request to the replay file $RF.
r() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" "${5:-}" >>"$RF"; }

# replay NAME SOCK: runs $RF against SOCK, counts its PASS/FAIL lines, empties $RF.
replay() {
    "$API_TEST" replay "$2" "$1" "$RF" >"$TMP/replay.txt" 2>&1
    cat "$TMP/replay.txt"
    passed=$((passed + $(grep -c '^PASS ' "$TMP/replay.txt")))
    failed=$((failed + $(grep -c '^FAIL ' "$TMP/replay.txt")))
    : >"$RF"
}
RF=$TMP/replay.tsv
: >"$RF"

ticking() { [ "$(tr -d '\r' <"$TMP/$1.out" | grep -c '^TICK ')" -ge 3 ]; }

guest_runs() {
    if wait_for 15 ticking "$1"; then
        pass "$1: guest_running"
    else
        fail "$1: guest_running" "fewer than 3 TICK lines: $(head -c 200 "$TMP/$1.out") $(head -c 300 "$TMP/$1.err")"
    fi
}

# stop_cad NAME SOCK: SendCtrlAltDel; Ember exits 0 and removes its socket.
stop_cad() {
    r 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
    replay "$1" "$2"
    if wait_for 10 eval '! kill -0 $VM 2>/dev/null'; then
        wait "$VM"
        local rc=$?
        if [ "$rc" -eq 0 ] && [ ! -e "$2" ]; then
            pass "$1: exit_0_socket_removed"
        else
            fail "$1: exit_0_socket_removed" "exit $rc, socket $( [ -e "$2" ] && echo left || echo removed): $(tail -c 300 "$TMP/$1.err")"
        fi
    else
        fail "$1: exit_0_socket_removed" "still running 10 s after SendCtrlAltDel"
    fi
}

# An FC-format log line: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn [ID:THREAD:LEVEL] msg".
FC_LINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9} \['

# Each metrics line a JSON object with Firecracker's groups.
metrics_ok() {
    python3 - "$1" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l]
assert lines, "no metrics lines"
for l in lines:
    m = json.loads(l)
    for g in ("utc_timestamp_ms", "api_server", "block", "net", "vcpu", "vmm", "vsock",
              "entropy", "put_api_requests", "get_api_requests", "logger"):
        assert g in m, "no %s in %s" % (g, l[:200])
    assert isinstance(m["utc_timestamp_ms"], int)
print(len(lines))
EOF
}

# ---------------------------------------------------------------------------------------
# The binary's identity.

out=$("$FC" --version 2>&1)
if [ "$(head -1 <<<"$out")" = "Firecracker v1.7.0" ] && grep -q Ember <<<"$out"; then
    pass "firecracker_version_flag"
else
    fail "firecracker_version_flag" "$out"
fi
out=$("$EMBER" --version 2>&1)
if [[ $out == "ember "* ]]; then pass "ember_version_flag"; else fail "ember_version_flag" "$out"; fi

# ---------------------------------------------------------------------------------------
# firecracker-go-sdk: the default handler list.

S=$TMP/gosdk.sock
start gosdk "$FC" --api-sock "$S" --id gosdk
wait_for 5 test -S "$S" || fail gosdk_start "no socket: $(head -c 300 "$TMP/gosdk.err")"
touch "$TMP/gosdk.log" "$TMP/gosdk.metrics"
r 200 GET / '' '={"id":"gosdk","state":"Not started","vmm_version":"1.7.0","app_name":"Firecracker"}'
r 200 GET /version '' '={"firecracker_version":"1.7.0"}'
r 204 PUT /logger "{\"log_path\":\"$TMP/gosdk.log\",\"level\":\"Debug\",\"show_level\":true,\"show_log_origin\":false}"
r 204 PUT /metrics "{\"metrics_path\":\"$TMP/gosdk.metrics\"}"
r 204 PUT /boot-source "{\"kernel_image_path\":\"$K\",\"boot_args\":\"console=ttyS0 reboot=k panic=1 pci=off\"}"
r 204 PUT /drives/1 "{\"drive_id\":\"1\",\"path_on_host\":\"$DISK\",\"is_root_device\":true,\"is_read_only\":false,\"cache_type\":\"Unsafe\",\"io_engine\":\"Sync\",\"rate_limiter\":null}"
if [ -n "$TAP" ]; then
    r 204 PUT /network-interfaces/1 "{\"iface_id\":\"1\",\"host_dev_name\":\"$TAP\",\"guest_mac\":\"06:00:AC:10:00:02\",\"rx_rate_limiter\":{},\"tx_rate_limiter\":null}"
fi
r 204 PUT /machine-config '{"vcpu_count":2,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"cpu_template":"None"}'
r 200 GET /machine-config '' '={"vcpu_count":2,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}'
r 204 PUT /vsock "{\"vsock_id\":\"vsock0\",\"guest_cid\":3,\"uds_path\":\"$TMP/gosdk.vsock\"}"
if [ -n "$TAP" ]; then
    r 204 PUT /mmds/config '{"version":"V2","network_interfaces":["1"],"ipv4_address":"169.254.169.254"}'
fi
r 204 PUT /mmds '{"latest":{"meta-data":{"ami-id":"ami-12345678"}}}'
r 200 GET /mmds '' '={"latest":{"meta-data":{"ami-id":"ami-12345678"}}}'
# Pre-boot refusals of what needs a running VM.
r 400 PATCH /vm '{"state":"Paused"}' '~not supported before starting'
r 400 PUT /actions '{"action_type":"SendCtrlAltDel"}' '~not supported before starting'
r 204 PUT /actions '{"action_type":"InstanceStart"}'
r 200 GET / '' '~"state":"Running"'
replay gosdk "$S"
guest_runs gosdk
r 400 PUT /boot-source "{\"kernel_image_path\":\"$K\"}" '={"fault_message":"The requested operation is not supported after starting the microVM."}'
r 400 PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}' '~after starting'
r 400 PUT /drives/2 "{\"drive_id\":\"2\",\"path_on_host\":\"$DISK\",\"is_root_device\":false}" '~after starting'
r 400 PUT /actions '{"action_type":"InstanceStart"}' '~after starting'
# MMDS after boot: the live store holds what was PUT before boot; PATCH merges into it.
r 204 PATCH /mmds '{"latest":{"meta-data":{"hostname":"h0"}}}'
r 200 GET /mmds '' '={"latest":{"meta-data":{"ami-id":"ami-12345678","hostname":"h0"}}}'
r 204 PUT /mmds '{"latest":{"meta-data":{"ami-id":"ami-2"}}}'
r 204 PATCH /mmds '{"latest":{"meta-data":{"hostname":"h"}}}'
r 200 GET /mmds '' '={"latest":{"meta-data":{"ami-id":"ami-2","hostname":"h"}}}'
r 204 PUT /actions '{"action_type":"FlushMetrics"}'
r 204 PATCH /vm '{"state":"Paused"}'
r 200 GET / '' '~"state":"Paused"'
r 204 PATCH /vm '{"state":"Resumed"}'
r 200 GET /vm/config '' '~root=/dev/vda rw'
# Drive hot-swap: PATCH /drives/{id} after boot swaps the running disk's file.
r 204 PATCH /drives/1 "{\"drive_id\":\"1\",\"path_on_host\":\"$DISK2\"}"
r 200 GET /vm/config '' "~\"drive_id\":\"1\",\"path_on_host\":\"$DISK2\""
r 204 PATCH /drives/1 "{\"drive_id\":\"1\",\"path_on_host\":\"$EMPTY\",\"rate_limiter\":null}"
r 204 PATCH /drives/1 '{"drive_id":"1","rate_limiter":{}}'
r 400 PATCH /drives/9 "{\"drive_id\":\"9\",\"path_on_host\":\"$DISK2\"}" '={"fault_message":"Invalid block device ID: the microVM has no drive `9`."}'
r 400 PATCH /drives/1 "{\"drive_id\":\"1\",\"path_on_host\":\"$TMP/missing.img\"}" "~Unable to patch the block device \`1\`: path_on_host $TMP/missing.img: no such file"
r 400 PATCH /drives/1 "{\"drive_id\":\"1\",\"path_on_host\":\"$ODD\"}" '~not a multiple of 512'
r 400 PATCH /drives/1 '{"drive_id":"2","path_on_host":"/x"}' '~does not match'
# The failed swaps left the last good file in place.
r 200 GET /vm/config '' "~\"drive_id\":\"1\",\"path_on_host\":\"$EMPTY\""
if [ -n "$TAP" ]; then
    r 204 PATCH /network-interfaces/1 '{"iface_id":"1","rx_rate_limiter":{"bandwidth":{"size":1000,"refill_time":100}}}'
    r 400 PATCH /network-interfaces/nope '{"iface_id":"nope"}' '~Invalid interface ID - not found: nope'
fi
replay gosdk "$S"
if grep -Eq "$FC_LINE"'gosdk:main:DEBUG\] api: PUT /boot-source -> 204$' "$TMP/gosdk.log"; then
    pass "gosdk: logger_line_format"
else
    fail "gosdk: logger_line_format" "$(head -3 "$TMP/gosdk.log")"
fi
stop_cad gosdk "$S"
if n=$(metrics_ok "$TMP/gosdk.metrics" 2>&1) && [ "$n" -ge 2 ]; then
    pass "gosdk: metrics_lines ($n: FlushMetrics and exit)"
else
    fail "gosdk: metrics_lines" "$n"
fi

# ---------------------------------------------------------------------------------------
# Kata (Go runtime): --config-file, GET / polled until the VM runs.

S=$TMP/kata.sock
mkfifo "$TMP/kata-log.fifo" "$TMP/kata-metrics.fifo"
cat >"$TMP/kata.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$K", "boot_args": "console=ttyS0 reboot=k panic=1"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$DISK", "is_root_device": true,
              "is_read_only": true, "partuuid": null}],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": false},
  "logger": {"log_path": "$TMP/kata-log.fifo", "level": "Info", "show_level": true,
             "show_log_origin": true},
  "metrics": {"metrics_path": "$TMP/kata-metrics.fifo"},
  "vsock": {"guest_cid": 3, "uds_path": "$TMP/kata.vsock", "vsock_id": "root"},
  "entropy": {"rate_limiter": null}
}
EOF
start kata "$FC" --api-sock "$S" --id kata --config-file "$TMP/kata.json"
kata_ready() { "$API_TEST" call "$S" GET / 2>/dev/null | grep -q '"state":"Running"'; }
if wait_for 10 kata_ready; then pass "kata: get_root_polled_until_running"; else
    fail "kata: get_root_polled_until_running" "$(head -c 300 "$TMP/kata.err")"; fi
guest_runs kata
names=$(cat /proc/"$VMM"/task/*/comm 2>/dev/null | sort | tr '\n' ',')
if grep -q 'fc_vcpu 0' <<<"$names"; then pass "kata: vcpu_thread_named_fc_vcpu_0"; else
    fail "kata: vcpu_thread_named_fc_vcpu_0" "threads: $names"; fi
r 200 GET /vm/config '' '~"vsock":{"guest_cid":3'
r 200 GET /vm/config '' '~root=/dev/vda ro'
r 400 PUT /vsock "{\"guest_cid\":4,\"uds_path\":\"$TMP/k2.vsock\"}" '~after starting'
r 204 PUT /actions '{"action_type":"FlushMetrics"}'
replay kata "$S"
line=$(timeout 2 head -1 "$TMP/kata-metrics.fifo" 2>/dev/null)
if grep -q '"utc_timestamp_ms"' <<<"$line"; then pass "kata: metrics_fifo_line"; else
    fail "kata: metrics_fifo_line" "read: ${line:0:200}"; fi
line=$(timeout 2 head -1 "$TMP/kata-log.fifo" 2>/dev/null)
if grep -Eq "$FC_LINE"'kata:main:INFO:src/[a-z_/]+\.c:[0-9]+\] ' <<<"$line"; then
    pass "kata: log_fifo_line_with_origin"
else
    fail "kata: log_fifo_line_with_origin" "read: ${line:0:200}"
fi
stop_cad kata "$S"

# ---------------------------------------------------------------------------------------
# Kata runtime-rs: its PUT order, PUT /vsock twice before boot (the second one wins).

S=$TMP/rs.sock
start runtime_rs "$FC" --api-sock "$S" --id rs
wait_for 5 test -S "$S" || fail runtime_rs_start "no socket"
r 204 PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128,"smt":false}'
r 204 PUT /boot-source "{\"kernel_image_path\":\"$K\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}"
r 204 PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$DISK\",\"is_root_device\":false,\"is_read_only\":true}"
r 204 PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$TMP/rs.vsock\",\"vsock_id\":\"root\"}"
r 204 PUT /vsock "{\"guest_cid\":4,\"uds_path\":\"$TMP/rs2.vsock\"}"
r 204 PUT /drives/rootfs "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$DISK\",\"is_root_device\":true,\"is_read_only\":true,\"partuuid\":\"0eaa91a0-01\"}"
r 200 GET /vm/config '' "~\"vsock\":{\"guest_cid\":4,\"uds_path\":\"$TMP/rs2.vsock\",\"vsock_id\":null}"
r 200 GET /vm/config '' '~root=PARTUUID=0eaa91a0-01 ro'
if [ -n "$TAP" ]; then
    r 204 PUT /network-interfaces/eth0 "{\"iface_id\":\"eth0\",\"host_dev_name\":\"$TAP\"}"
    r 200 GET /vm/config '' "~\"host_dev_name\":\"$TAP\",\"guest_mac\":null"
fi
r 204 PUT /actions '{"action_type":"InstanceStart"}'
if [ -n "$TAP" ]; then  # after boot, the MAC Ember picked
    r 200 GET /vm/config '' "~\"host_dev_name\":\"$TAP\",\"guest_mac\":\""
fi
replay runtime_rs "$S"
guest_runs runtime_rs
stop_cad runtime_rs "$S"

# ---------------------------------------------------------------------------------------
# flintlock: --no-api --config-file --metadata.

cat >"$TMP/fl.json" <<EOF
{"boot-source": {"kernel_image_path": "$K"},
 "drives": [{"drive_id": "root", "path_on_host": "$DISK", "is_root_device": true,
             "is_read_only": false, "cache_type": "Unsafe"}],
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "network-interfaces": [], "mmds-config": null}
EOF
echo '{"latest": {"meta-data": {"instance-id": "fl-1"}}}' >"$TMP/fl-meta.json"
start flintlock "$FC" --no-api --config-file "$TMP/fl.json" --metadata "$TMP/fl-meta.json" --id fl
guest_runs flintlock
if [ ! -e /run/firecracker.socket ] || ! [ /run/firecracker.socket -nt "$TMP/fl.json" ]; then
    pass "flintlock: no_api_no_socket"
else
    fail "flintlock: no_api_no_socket" "/run/firecracker.socket was created"
fi
kill -TERM "$VMM" 2>/dev/null
if wait_for 10 eval '! kill -0 $VM 2>/dev/null' && wait "$VM"; then
    pass "flintlock: sigterm_exit_0"
else
    fail "flintlock: sigterm_exit_0" "$(tail -c 300 "$TMP/flintlock.err")"
fi

# --config-file and --metadata with an API socket: the metadata is the live store.
S=$TMP/meta.sock
start metadata_api "$FC" --api-sock "$S" --config-file "$TMP/fl.json" --metadata "$TMP/fl-meta.json" --id meta
wait_for 5 test -S "$S" || fail metadata_api_start "no socket: $(head -c 300 "$TMP/metadata_api.err")"
r 200 GET /mmds '' '={"latest":{"meta-data":{"instance-id":"fl-1"}}}'
r 204 PATCH /mmds '{"latest":{"meta-data":{"local-hostname":"fl"}}}'
r 200 GET /mmds '' '={"latest":{"meta-data":{"instance-id":"fl-1","local-hostname":"fl"}}}'
replay metadata_api "$S"
# `ember api`, the scripting client: body on stdout, exit 0 for 2xx, 1 otherwise.
out=$("$EMBER" api "$S" GET /mmds 2>&1)
if [ $? -eq 0 ] && [ "$out" = '{"latest":{"meta-data":{"instance-id":"fl-1","local-hostname":"fl"}}}' ]; then
    pass "ember_api: get_mmds"
else
    fail "ember_api: get_mmds" "$out"
fi
out=$("$EMBER" api "$S" PATCH /drives/nope '{"drive_id":"nope","path_on_host":"/x"}' 2>"$TMP/api.err")
rc=$?
if [ $rc -eq 1 ] && grep -q 'Invalid block device ID' <<<"$out" && grep -q 'HTTP 400' "$TMP/api.err"; then
    pass "ember_api: fault_exit_1"
else
    fail "ember_api: fault_exit_1" "exit $rc: $out $(cat "$TMP/api.err")"
fi
kill -TERM "$VMM" 2>/dev/null
wait_for 10 eval '! kill -0 $VM 2>/dev/null' || fail metadata_api_stop "still running after SIGTERM"

# `ember run --api-sock` with no VM: Ember's own version; SIGTERM before InstanceStart ends
# it with exit 0 and removes the socket.
S=$TMP/idle.sock
start preboot_sigterm "$EMBER" run --api-sock "$S" --id idle
wait_for 5 test -S "$S" || fail preboot_sigterm_start "no socket: $(head -c 300 "$TMP/preboot_sigterm.err")"
r 200 GET / '' '~"state":"Not started"'
r 200 GET /version '' "={\"firecracker_version\":\"$("$EMBER" --version | cut -d' ' -f2)\"}"
r 400 PUT /actions '{"action_type":"InstanceStart"}' '~/boot-source'
replay preboot_sigterm "$S"
kill -TERM "$VMM" 2>/dev/null
if wait_for 10 eval '! kill -0 $VM 2>/dev/null' && wait "$VM" && [ ! -e "$S" ]; then
    pass "preboot_sigterm: exit_0_socket_removed"
else
    fail "preboot_sigterm: exit_0_socket_removed" "$(tail -c 300 "$TMP/preboot_sigterm.err")"
fi

# One clear line and exit 1 for each misuse.
check_refused() {
    local name=$1 want=$2
    shift 2
    timeout 10 "$@" </dev/null >/dev/null 2>"$TMP/$name.err"
    local rc=$?
    if [ "$rc" -eq 1 ] && [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] && grep -q -- "$want" "$TMP/$name.err"; then
        pass "$name"
    else
        fail "$name" "exit $rc: $(head -c 300 "$TMP/$name.err")"
    fi
}
echo '{"latest": ' >"$TMP/bad-meta.json"
check_refused flintlock_bad_metadata "bad-meta.json" "$FC" --no-api --config-file "$TMP/fl.json" --metadata "$TMP/bad-meta.json"
check_refused no_api_without_config_file "--no-api" "$FC" --no-api
echo '{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}' >"$TMP/nokernel.json"
check_refused config_file_missing_kernel "/nonexistent/vmlinux" "$EMBER" run --config-file "$TMP/nokernel.json"
echo '{"boot-source": {"kernel_image_path": "'"$K"'"}, "drives": [{"drive_id": "x"}]}' >"$TMP/baddrive.json"
check_refused config_file_bad_drive "drives\[0\]" "$EMBER" run --config-file "$TMP/baddrive.json"

# ---------------------------------------------------------------------------------------
# Firecracker's getting-started guide, with curl, on a relative socket path.

mkdir -p "$TMP/gs"
(
    cd "$TMP/gs" || exit 1
    touch firecracker.log
    timeout -k 5 60 "$FC" --api-sock firecracker.socket </dev/null >"$TMP/getting_started.out" \
        2>"$TMP/getting_started.err" &
    echo $! >"$TMP/gs.pid"
    wait_for 5 test -S firecracker.socket
    c() {  # c WANT METHOD PATH BODY
        local code
        code=$(curl -s -o "$TMP/gs.body" -w '%{http_code}' -X "$2" --unix-socket firecracker.socket \
            "http://localhost$3" -H 'Accept: application/json' -H 'Content-Type: application/json' \
            ${4:+-d "$4"})
        if [ "$code" = "$1" ] && { [ "$1" != 204 ] || [ ! -s "$TMP/gs.body" ]; }; then
            echo "PASS getting_started: $2 $3 -> $code"
        else
            echo "FAIL getting_started: $2 $3: HTTP $code, want $1: $(head -c 200 "$TMP/gs.body")"
        fi
    }
    c 204 PUT /logger '{"log_path": "./firecracker.log", "level": "Debug", "show_level": true, "show_log_origin": true}'
    c 204 PUT /boot-source "{\"kernel_image_path\": \"$K\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}"
    c 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$DISK\", \"is_root_device\": true, \"is_read_only\": false}"
    if [ -n "$TAP" ]; then
        c 204 PUT /network-interfaces/net1 "{\"iface_id\": \"net1\", \"guest_mac\": \"06:00:AC:10:00:02\", \"host_dev_name\": \"$TAP\"}"
    fi
    c 204 PUT /actions '{"action_type": "InstanceStart"}'
    c 200 GET / ''
    c 400 PUT /actions '{"action_type": "InstanceStart"}'
    wait_for 15 ticking getting_started
    c 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
) >"$TMP/gs.txt" 2>&1
cat "$TMP/gs.txt"
passed=$((passed + $(grep -c '^PASS ' "$TMP/gs.txt")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/gs.txt")))
VM=$(cat "$TMP/gs.pid" 2>/dev/null)
PIDS+=("$VM")
if [ "$(tr -d '\r' <"$TMP/getting_started.out" | grep -c '^TICK ')" -ge 3 ]; then pass "getting_started: guest_ran"; else
    fail "getting_started: guest_ran" "$(head -c 200 "$TMP/getting_started.out") $(head -c 200 "$TMP/getting_started.err")"; fi
if wait_for 10 eval '! kill -0 $VM 2>/dev/null' && [ ! -e "$TMP/gs/firecracker.socket" ]; then
    pass "getting_started: exited_socket_removed"
else
    fail "getting_started: exited_socket_removed" "still running or socket left"
fi
if grep -Eq "$FC_LINE"'anonymous-instance:main:DEBUG:src/' "$TMP/gs/firecracker.log"; then
    pass "getting_started: relative_log_path_written"
else
    fail "getting_started: relative_log_path_written" "$(head -2 "$TMP/gs/firecracker.log")"
fi

echo "fc-compat: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
