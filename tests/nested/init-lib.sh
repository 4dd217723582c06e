# shellcheck shell=sh
# What the /init scripts of both nested test hosts share (tests/nested/outer-init.sh, one
# case per boot; tests/kvm-host-init.sh, this machine's root shared over 9p). Installed as
# /init-lib.sh in their initramfs images and sourced; busybox sh.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin

# The kernel file systems, then the modules listed in /modules/order (dependencies first;
# a failure is printed with PREFIX and the rest still load).
init_mounts_and_modules() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    for ko in $(cat /modules/order); do
        insmod "/modules/$ko" || echo "$1-INSMOD-FAILED $ko"
    done
}

# Value of NAME=... on the kernel command line (empty when absent).
param() {
    for arg in $(cat /proc/cmdline); do
        case "$arg" in "$1"=*) echo "${arg#*=}"; return ;; esac
    done
}
