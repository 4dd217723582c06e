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

action=reboot
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        ember.action=*) action=${arg#ember.action=} ;;
    esac
done
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
    *) echo "INNER-UNKNOWN-ACTION $action"; poweroff -f ;;
esac
# Only reached when the action did not take effect.
echo "INNER-ACTION-RETURNED $action"
while :; do sleep 3600; done
