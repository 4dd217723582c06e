#!/usr/bin/env bash
# MMDS against the host kernel's real TCP/IP stack with curl and busybox wget as clients,
# in a private network namespace (needs root; nothing outside the namespace changes).
#
#   tests/mmds/run.sh [BUILD_DIR]       (make check-mmds)
#
# The kernel plays the guest: 172.16.0.2 on a tap whose other end is tests/mmds/mmds_tap.c
# serving MMDS. Prints PASS/FAIL per check and "mmds: N passed, M failed".
set -u
BUILD=${1:-build}
if [ -z "${MMDS_IN_NETNS:-}" ]; then
    # A tier that cannot run fails (as check-kvm without /dev/kvm).
    if ! unshare -n true 2>/dev/null || [ ! -c /dev/net/tun ]; then
        echo "FAIL mmds: cannot run: needs root (unshare -n, a tap in /dev/net/tun)"
        echo "mmds: 0 passed, 1 failed"
        exit 1
    fi
    exec env MMDS_IN_NETNS=1 unshare -n "$0" "$@"
fi

BIN=$BUILD/tests/mmds/mmds_tap
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-mmds.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "PASS $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: expected [$2], got [$3]"
        failed=$((failed + 1))
    fi
}

BIG=$(head -c 30000 /dev/zero | tr '\0' 'z')
cat >"$TMP/store.json" <<JSON
{"latest": {"meta-data": {"ami-id": "ami-87654321", "reservation-id": "r-79054aef",
 "network": {"interfaces": {"macs": {"02:29:96:8f:6a:2d": {"device-number": "13345342"}}}},
 "big": "$BIG", "count": 7}}}
JSON

ip link set lo up
ip tuntap add mmds0 mode tap
ip link set mmds0 up
ip addr add 172.16.0.2/24 dev mmds0
ip route add 169.254.169.254 dev mmds0

start() {  # start V1|V2
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    "$BIN" mmds0 "$TMP/store.json" "$1" >"$TMP/out" 2>>"$TMP/log" &
    PID=$!
    for _ in $(seq 50); do grep -q ready "$TMP/out" 2>/dev/null && return; sleep 0.1; done
    echo "FAIL start: mmds_tap did not start"; cat "$TMP/log"; exit 1
}
C="curl -s --max-time 5"
U=http://169.254.169.254

start V1
check v1-listing "$(printf 'ami-id\nbig\ncount\nnetwork/\nreservation-id')" "$($C $U/latest/meta-data/)"
check v1-string "ami-87654321" "$($C $U/latest/meta-data/ami-id)"
check v1-json '"r-79054aef"' "$($C -H 'Accept: application/json' $U/latest/meta-data/reservation-id)"
check v1-nested "device-number" "$($C $U/latest/meta-data/network/interfaces/macs/02:29:96:8f:6a:2d/)"
check v1-404 404 "$($C -o /dev/null -w '%{http_code}' $U/latest/nope)"
check v1-405 405 "$($C -o /dev/null -w '%{http_code}' -X POST -d x $U/latest)"
check v1-501 501 "$($C -o /dev/null -w '%{http_code}' $U/latest/meta-data/count)"
check v1-big 30000 "$($C $U/latest/meta-data/big | wc -c | tr -d ' ')"
check v1-big-content "$BIG" "$($C $U/latest/meta-data/big)"
# busybox 1.35's wget crashes with -T: timeout(1) bounds it instead.
check wget "ami-87654321" "$(timeout 10 busybox wget -q -O - $U/latest/meta-data/ami-id)"
check keepalive "ami-87654321ami-87654321" "$($C $U/latest/meta-data/ami-id $U/latest/meta-data/ami-id)"
out=$(for i in $(seq 20); do $C $U/latest/meta-data/ami-id & done; wait)
check parallel-20 "$(printf 'ami-87654321%.0s' $(seq 20))" "$out"
check port-81-refused 7 "$($C -o /dev/null $U:81/; echo $?)"

start V2
check v2-no-token 401 "$($C -o /dev/null -w '%{http_code}' $U/latest/meta-data/ami-id)"
TOKEN=$($C -X PUT -H 'X-metadata-token-ttl-seconds: 60' $U/latest/api/token)
check v2-token-length 44 "${#TOKEN}"
check v2-with-token "ami-87654321" "$($C -H "X-metadata-token: $TOKEN" $U/latest/meta-data/ami-id)"
check v2-wget "ami-87654321" "$(timeout 10 busybox wget -q -O - --header "X-metadata-token: $TOKEN" $U/latest/meta-data/ami-id)"
check v2-bad-ttl 400 "$($C -o /dev/null -w '%{http_code}' -X PUT -H 'X-metadata-token-ttl-seconds: 0' $U/latest/api/token)"

kill "$PID" && wait "$PID" 2>/dev/null
PID=
sed 's/^/    /' "$TMP/log"
echo "mmds: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
