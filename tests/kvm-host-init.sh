#!/bin/sh
# /init of the shared-root test host (tests/kvm-host.sh): Debian's kernel under QEMU TCG
# with an emulated SVM CPU. It loads virtio-pci, 9p and kvm-amd, mounts the build
# machine's whole root (QEMU's virtio-9p device, tag "host") on /newroot, gives it the
# kernel file systems and a tmpfs /run (Unix sockets cannot be bound on 9p: the job sets
# TMPDIR=/run/tmp; /tmp stays the build machine's, where a checkout may live),
# and runs the job script named by kvmhost.job= on the kernel command line inside a
# chroot of it: the same files and tools as the build machine, with a real /dev/kvm.
# The job writes its output and exit status next to itself (on the shared root); this
# script prints markers on the console for the host's harness, then powers off.

. /init-lib.sh
init_mounts_and_modules KVMHOST
job=$(param kvmhost.job | sed 's/%20/ /g')

R=/newroot
mkdir -p $R
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host $R; then
    echo "KVMHOST-NO-ROOT: mount -t 9p host failed"
    poweroff -f
fi
if [ ! -c /dev/kvm ]; then
    echo "KVMHOST-NO-KVM"
    dmesg | grep -i -E 'kvm|svm' | tail -n 20
    poweroff -f
fi
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -m 1777 $R/run/tmp
# devtmpfs has none of these; bash's <(...) and cmp - need them.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr

read -r up _ < /proc/uptime
echo "KVMHOST-READY uptime=$up"
# Heartbeat for the host's stall watchdog (tests/kvm-host.sh, KVM_HOST_STALL).
(while sleep 20; do echo "KVMHOST-ALIVE"; done) &
chroot $R /bin/sh -c 'cd / && exec /bin/bash "$0"' "$job" < /dev/null
echo "KVMHOST-JOB-END $?"
# The job's files live on the 9p share: nothing to flush locally, but unmount cleanly.
sync
umount $R/dev/pts $R/dev/shm $R/dev $R/run $R/proc $R/sys 2>/dev/null
umount $R 2>/dev/null
poweroff -f
