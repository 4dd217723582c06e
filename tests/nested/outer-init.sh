#!/bin/sh
# /init of the nested test host: Debian's kernel under QEMU TCG with an
# emulated SVM CPU. It turns kvm-amd on, then runs one case of cases.sh
# (chosen by nested.case= on the kernel command line) and powers off, which
# ends the outer QEMU (-no-reboot; panic=-1 covers a crash of this script).

. /init-lib.sh
init_mounts_and_modules OUTER
mkdir -p /dev/pts /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp

read -r up _ < /proc/uptime
if [ -c /dev/kvm ]; then
    echo "OUTER-KVM-OK uptime=$up"
    case=$(param nested.case)
    sh /nested/cases.sh "${case:-preflight}"
else
    echo "OUTER-NO-KVM uptime=$up"
    dmesg | grep -i -E 'kvm|svm' | tail -n 20
fi
echo "OUTER-DONE"
poweroff -f
