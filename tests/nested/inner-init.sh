#!/bin/sh
# /init of the inner guest (the Linux that Ember, or QEMU as the reference,
# boots inside the nested test host). busybox sh; busybox is static.
#
# It prints machine-readable facts on the serial console, then does what
# `ember.action=` on the kernel command line says:
#   reboot | poweroff | halt   busybox reboot -f / poweroff -f / halt -f
#   panic                      crash through sysrq (kernel panic, then panic=N)
#   exit                       /init exits: "Attempted to kill init" panic
#   wait                       print INNER-WAITING and sleep (a test signals the VMM)
#   shell                      interactive shell on the console, then poweroff -f
# Without ember.action=, it reboots (Ember's default command line has reboot=k).

export PATH=/bin:/sbin

# The uptime first: the harness measures how long the kernel took to get here.
mount -t proc proc /proc
read -r up _ < /proc/uptime
echo "INNER-INIT uptime=$up"

mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

echo "INNER-NPROC $(grep -c '^processor' /proc/cpuinfo)"
echo "INNER-MEMTOTAL $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
echo "INNER-CMDLINE $(cat /proc/cmdline)"
if [ -f /payload.bin ]; then
    echo "INNER-INITRD-OK sha256=$(sha256sum /payload.bin | cut -d' ' -f1)"
else
    echo "INNER-INITRD-MISSING"
fi

# RAM the firmware/VMM handed over: the sum of the "usable" e820 entries the
# kernel logged (BIOS-e820: [mem 0xSTART-0xEND] usable). 64-bit shell math.
ram=0
for range in $(dmesg | sed -n 's/.*e820: \[mem \(0x[0-9a-f]*-0x[0-9a-f]*\)\] usable$/\1/p'); do
    ram=$((ram + ${range#*-} - ${range%-*} + 1))
done
echo "INNER-E820-RAM $ram"

action=reboot mods=0 vsock_tests=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        ember.action=*) action=${arg#ember.action=} ;;
        ember.mods=1) mods=1 ;;
        ember.vsock_tests=*) vsock_tests=$(echo "${arg#ember.vsock_tests=}" | tr ',' ' ') ;;
    esac
done

# ember.mods=1: load Debian's virtio-mmio drivers and ext4 from /modules
# (dependencies first, as listed in /modules/order; tun and loop are for the
# outer host only).
if [ "$mods" = 1 ] && [ -f /modules/order ]; then
    for ko in $(cat /modules/order); do
        case "$ko" in tun.ko|loop.ko) continue ;; esac
        insmod "/modules/$ko" 2>&1 || echo "INNER-INSMOD-FAILED $ko"
    done
    echo "INNER-MODULES-LOADED"
    sleep 1  # let the virtio devices probe
    echo "INNER-VIRTIO-DEVICES $(ls /sys/bus/virtio/devices 2>/dev/null | wc -l)"
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d" ] && echo "INNER-VIRTIO ${d##*/} device=$(cat "$d/device") driver=$(basename "$(readlink "$d/driver")" 2>/dev/null)"
    done
fi

# Uptime in ms (/proc/uptime has two decimals; a leading 0 is not octal here).
now_ms() { read -r up _ < /proc/uptime; f=${up#*.}; echo $(( ${up%.*} * 1000 + ${f#0} * 10 )); }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Mounts /dev/DEV read-only at /mnt/DEV and prints the sha256 of its
# /hello.bin (written by the test harness) as INNER-DISK-<DEV> sha256=...
read_disk() {
    mkdir -p "/mnt/$1"
    if mount -t ext4 -o ro "/dev/$1" "/mnt/$1"; then
        echo "INNER-DISK-$1 sha256=$(sha "/mnt/$1/hello.bin")"
        umount "/mnt/$1"
    else
        echo "INNER-DISK-$1 mount-failed"
    fi
}

# Gives NIC DEV address IP/24 and pings PEER three times.
net_up() {
    if ! ip addr add "$2/24" dev "$1" || ! ip link set "$1" up; then
        echo "INNER-NET-$1 config-failed"
    fi
    echo "INNER-NET-$1 $(cat /sys/class/net/"$1"/address 2>/dev/null) $(cat /sys/class/net/"$1"/operstate 2>/dev/null)"
    if ping -c 3 -W 5 "$3" > /tmp/ping.out 2>&1; then
        echo "INNER-PING-$1 ok $(grep -o 'min/avg/max.*' /tmp/ping.out)"
    else
        echo "INNER-PING-$1 failed: $(tail -n 2 /tmp/ping.out | tr '\n' ' ')"
    fi
}

echo "INNER-ACTION $action"

case "$action" in
    reboot) reboot -f ;;
    poweroff) poweroff -f ;;
    halt) halt -f ;;
    panic)
        echo 1 > /proc/sys/kernel/sysrq
        echo c > /proc/sysrq-trigger
        ;;
    exit) exit 0 ;;
    wait)
        echo "INNER-WAITING"
        while :; do sleep 3600; done
        ;;
    shell)
        echo
        echo "=== Inner guest shell (Linux $(uname -r) under the inner VMM)."
        echo "=== 'poweroff -f' ends the inner VM; the nested test host then powers off."
        echo
        # cttyhack gives the shell a controlling tty, so Ctrl-C works.
        PS1='inner# ' setsid cttyhack sh
        poweroff -f
        ;;
    blk)
        # Read the harness' file, write 64 MiB (64 copies of /payload.bin),
        # print its sha256, unmount, power off; the outer host checks the image.
        mkdir -p /mnt/vda
        if mount -t ext4 /dev/vda /mnt/vda; then
            echo "INNER-DISK-vda sha256=$(sha /mnt/vda/hello.bin)"
            t0=$(now_ms)
            i=0; while [ $i -lt 64 ]; do cat /payload.bin; i=$((i + 1)); done > /mnt/vda/written.bin
            sync
            t1=$(now_ms)
            echo "INNER-BLK-WRITE-MS $((t1 - t0))"
            echo "INNER-BLK-WRITTEN sha256=$(sha /mnt/vda/written.bin)"
            umount /mnt/vda && echo "INNER-BLK-UMOUNTED"
        else
            echo "INNER-DISK-vda mount-failed"
        fi
        poweroff -f
        ;;
    blkro)
        read_disk vda
        if [ ! -b /dev/vda ]; then
            echo "INNER-RO-WRITE no /dev/vda"  # (dd would create a plain file)
        elif dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/tmp/dd.err; then
            echo "INNER-RO-WRITE succeeded"
        else
            echo "INNER-RO-WRITE failed: $(tr '\n' ' ' < /tmp/dd.err)"
        fi
        mkdir -p /mnt/rw
        if mount -t ext4 -o rw /dev/vda /mnt/rw 2>/tmp/m.err && touch /mnt/rw/new 2>>/tmp/m.err; then
            echo "INNER-RO-MOUNT-RW succeeded"
        else
            echo "INNER-RO-MOUNT-RW failed: $(tr '\n' ' ' < /tmp/m.err)"
        fi
        umount /mnt/rw 2>/dev/null
        poweroff -f
        ;;
    rng)
        ls -l /dev/hwrng 2>&1
        echo "INNER-RNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
        echo "INNER-RNG-BYTES $(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)"
        echo "INNER-RNG-NONZERO $(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | od -An -tx1 | tr -d ' 0\n' | wc -c)"
        poweroff -f
        ;;
    net)
        net_up eth0 10.0.2.2 10.0.2.1
        # 4 MiB of known content to the outer host's nc -l.
        i=0; while [ $i -lt 4 ]; do cat /payload.bin; i=$((i + 1)); done > /tmp/tx.bin
        echo "INNER-TX sha256=$(sha /tmp/tx.bin)"
        t0=$(now_ms)
        nc 10.0.2.1 5555 < /tmp/tx.bin && echo "INNER-TX-DONE ms=$(( $(now_ms) - t0 ))"
        poweroff -f
        ;;
    bench)
        # Throughput (tests/nested/run.sh throughput): raw /dev/vda, then TCP
        # over eth0 to the outer host each way. Times from /proc/uptime (10 ms).
        t0=$(now_ms); dd if=/dev/zero of=/dev/vda bs=1M count=64 conv=fsync 2>/dev/null
        echo "INNER-BENCH-BLK-WRITE-MS $(( $(now_ms) - t0 ))"
        sync; echo 3 > /proc/sys/vm/drop_caches
        t0=$(now_ms); dd if=/dev/vda of=/dev/null bs=1M count=64 2>/dev/null
        echo "INNER-BENCH-BLK-READ-MS $(( $(now_ms) - t0 ))"
        net_up eth0 10.0.2.2 10.0.2.1
        i=0; while [ $i -lt 16 ]; do cat /payload.bin; i=$((i + 1)); done > /tmp/tx.bin
        t0=$(now_ms); nc 10.0.2.1 5555 < /tmp/tx.bin
        echo "INNER-BENCH-TCP-TX-MS $(( $(now_ms) - t0 ))"
        t0=$(now_ms); nc 10.0.2.1 5556 > /tmp/rx.bin
        echo "INNER-BENCH-TCP-RX-MS $(( $(now_ms) - t0 )) bytes=$(wc -c < /tmp/rx.bin)"
        poweroff -f
        ;;
    multi)
        read_disk vda
        read_disk vdb
        net_up eth0 10.0.2.2 10.0.2.1
        net_up eth1 10.0.3.2 10.0.3.1
        poweroff -f
        ;;
    vsock)
        # virtio-vsock (tests/nested/vsock_echo.c): the runs of
        # ember.vsock_tests= (VSOCK_TESTS of cases.sh, comma-separated
        # name:op:bytes:connections) guest-initiated, to the nested host's
        # server on CID 2 port 5000; then a server on vsock port 6000 for the
        # same runs host-initiated (the host's clients retry until it listens).
        # One phase after the other: each run's MB/s is the device's alone.
        [ -n "$vsock_tests" ] || echo "INNER-VSOCK-NO-TESTS (no ember.vsock_tests=)"
        n=0
        for t in $vsock_tests; do
            oifs=$IFS; IFS=:
            # shellcheck disable=SC2086  # split at the colons
            set -- $t
            IFS=$oifs
            echo "INNER-VSOCK-GI-$1 $(vsock_echo client-vsock 2 5000 "$2" "$3" "$4" 2>&1 | tail -n 1)"
            n=$((n + $4))
        done
        vsock_echo serve-vsock 6000 "$n" > /tmp/vsock-serve.out 2>&1 &
        srv=$!
        i=0
        while kill -0 "$srv" 2>/dev/null && [ $i -lt 150 ]; do sleep 1; i=$((i + 1)); done
        echo "INNER-VSOCK-SERVED $(tail -n 1 /tmp/vsock-serve.out)"
        sleep 2  # the last closes reach the host before the VM ends
        poweroff -f
        ;;
    mmds)
        # MMDS through eth0 (tests/nested/cases.sh case_mmds, case_mmds_v2):
        # ember.mmds=v1|v2. Reads ami-id (under V2: 401 without a token first,
        # then a token from PUT /latest/api/token by nc, as busybox wget cannot
        # PUT), asks the host to PATCH the store (INNER-MMDS-PATCH-ME) and polls
        # for the new key for up to 60 s.
        ver=v1
        for arg in $(cat /proc/cmdline); do
            case "$arg" in ember.mmds=*) ver=${arg#ember.mmds=} ;; esac
        done
        ip addr add 10.0.2.2/24 dev eth0 && ip link set eth0 up &&
            ip route add 169.254.169.254 dev eth0 || echo "INNER-MMDS-NET config-failed"
        tok=""
        mget() {
            if [ -n "$tok" ]; then
                timeout 15 wget -q -O - --header "X-metadata-token: $tok" "http://169.254.169.254$1"
            else
                timeout 15 wget -q -O - "http://169.254.169.254$1"
            fi
        }
        if [ "$ver" = v2 ]; then
            timeout 15 wget -q -O /dev/null http://169.254.169.254/latest/meta-data/ami-id 2>/tmp/w.err
            echo "INNER-MMDS-NOTOKEN $(tr '\n' ' ' < /tmp/w.err)"
            # HTTP/1.0: MMDS answers and closes; the sleep keeps nc's stdin open meanwhile.
            tok=$( (printf 'PUT /latest/api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n'; sleep 3) |
                timeout 15 nc 169.254.169.254 80 | tr -d '\r' | sed '1,/^$/d')
            echo "INNER-MMDS-TOKEN len=${#tok}"
        fi
        echo "INNER-MMDS-AMI $(mget /latest/meta-data/ami-id)"
        echo "INNER-MMDS-PATCH-ME"
        i=0 v=""
        while [ $i -lt 120 ]; do
            v=$(mget /latest/meta-data/patched 2>/dev/null)
            [ -n "$v" ] && break
            sleep 0.5
            i=$((i + 1))
        done
        echo "INNER-MMDS-PATCHED ${v:-none}"
        echo "INNER-MMDS-KEYS $(mget /latest/meta-data/ | tr '\n' ',')"
        poweroff -f
        ;;
    hotswap)
        # Drive hot-swap (case_drive_hotswap): /dev/vda's size and first-sector
        # marker, then INNER-HOTSWAP-WAITING; the host PATCHes /drives/drive0 to
        # a bigger image; the guest polls the size for up to 60 s and reads the
        # new image's first and last sectors (after dropping its page cache).
        marker() { dd if=/dev/vda bs=512 skip="$1" count=1 2>/dev/null | tr -cd 'A-Z0-9-'; }
        s0=$(cat /sys/block/vda/size 2>/dev/null)
        echo "INNER-HOTSWAP-BEFORE size=$s0 first=$(marker 0)"
        echo "INNER-HOTSWAP-WAITING"
        i=0 s=$s0
        while [ "$s" = "$s0" ] && [ $i -lt 120 ]; do
            sleep 0.5
            s=$(cat /sys/block/vda/size)
            i=$((i + 1))
        done
        sync
        echo 3 > /proc/sys/vm/drop_caches
        echo "INNER-HOTSWAP-AFTER size=$s first=$(marker 0) last=$(marker $((s - 1)))"
        dmesg | grep -i 'capacity change' | tail -n 1 | sed 's/^/INNER-HOTSWAP-DMESG /'
        poweroff -f
        ;;
    tick)
        # The kernel reboots at once on Ctrl-Alt-Del (instead of sending init
        # a SIGINT): how `ember up` stops its fleet.
        echo 1 > /proc/sys/kernel/ctrl-alt-del
        echo "INNER-CAD $(cat /proc/sys/kernel/ctrl-alt-del)"
        echo "INNER-KBD $(grep '^N:' /proc/bus/input/devices 2>/dev/null | tr '\n' ' ')"
        echo "INNER-WAITING"
        # Each tick shows the i8042 interrupt count: whether the keys arrive.
        while :; do echo "TICK $(cut -d' ' -f1 /proc/uptime) $(grep -m1 i8042 /proc/interrupts | tr -s ' ')"; sleep 1; done
        ;;
    *) echo "INNER-UNKNOWN-ACTION $action"; poweroff -f ;;
esac
# Only reached when the action did not take effect.
echo "INNER-ACTION-RETURNED $action"
while :; do sleep 3600; done
