#!/usr/bin/env bash
# Kernel cache for the nested tier: Debian's stock kernel, downloaded once.
#
#   tests/nested/kernel.sh          fetch if needed, print the cache directory
#   . tests/nested/kernel.sh        (from another script) defines kernel_fetch
#
# The cache directory ${EMBER_CACHE:-~/.cache/ember}/kernel/<package>_<version>/
# holds:
#   linux-image-*.deb   the package as downloaded (kept: it is the cache key's data)
#   vmlinuz             the bzImage (boots the outer host and the inner guest)
#   vmlinux             the ELF kernel from the bzImage's XZ payload
#   modules/*.ko        irqbypass, kvm, ccp, kvm-amd and their dependencies
#   modules/order       the .ko file names in an order that satisfies `depends=`
#   version             "<package> <version>"
# It is keyed by the package version, so a new Debian kernel lands in a new
# directory and an old one is never half-overwritten.

set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Modules that turn the outer host's emulated SVM CPU into a working /dev/kvm.
KVM_MODULES=(irqbypass kvm ccp kvm-amd)

# Modules for the virtio and fleet cases: the inner guest's virtio-mmio
# drivers and ext4, the outer host's tun (taps) and loop (to read a disk image
# back). Kept apart from the KVM set, in modules-extra/, built on demand from
# the cached .deb so that an existing cache directory stays valid.
EXTRA_MODULES=(virtio_ring virtio virtio_mmio virtio_blk virtio-rng failover net_failover
               virtio_net crc16 mbcache jbd2 crc32c_generic ext4 tun loop
               vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)

# Reads the `depends=` modinfo string of a .ko (comma separated module names).
ko_depends() {
    grep -a -o 'depends=[^[:cntrl:]]*' "$1" | head -n1 | sed 's/^depends=//' | tr ',' ' '
}

# Finds the file of module NAME under DIR (module names treat - and _ alike).
ko_find() {
    local dir=$1 name=$2 alt
    alt=$(printf '%s' "$name" | tr '_-' '-_')
    find "$dir" \( -name "$name.ko" -o -name "$alt.ko" \) -print -quit
}

# Copies the modules named in KVM_MODULES plus their dependencies from the
# extracted package tree SRC to DST, and writes DST/order (dependencies first).
collect_modules() {
    local src=$1 dst=$2 order=() seen=" "
    shift 2
    local want=("$@")
    [ ${#want[@]} -gt 0 ] || want=("${KVM_MODULES[@]}")
    mkdir -p "$dst"
    visit() {
        local name=$1 file dep key
        key=$(printf '%s' "$name" | tr '-' '_')
        case "$seen" in *" $key "*) return 0 ;; esac
        seen="$seen$key "
        file=$(ko_find "$src" "$name")
        [ -n "$file" ] || die "module $name not found in the kernel package"
        for dep in $(ko_depends "$file"); do
            visit "$dep"
        done
        cp "$file" "$dst/"
        order+=("$(basename "$file")")
    }
    local m
    for m in "${want[@]}"; do
        visit "$m"
    done
    printf '%s\n' "${order[@]}" > "$dst/order"
}

# Reads a little-endian unsigned integer of SIZE bytes at OFFSET of FILE.
read_le() {
    od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' '
}

# Extracts the ELF vmlinux from a bzImage: the protected-mode payload starts
# (setup_sects + 1) * 512 bytes into the file, plus payload_offset (0x248),
# and is payload_length (0x24c) bytes of XZ data (Debian's kernels use XZ).
extract_vmlinux() {
    local bz=$1 out=$2 setup_sects poff plen start
    setup_sects=$(read_le "$bz" $((0x1f1)) 1)
    [ "$setup_sects" -eq 0 ] && setup_sects=4
    poff=$(read_le "$bz" $((0x248)) 4)
    plen=$(read_le "$bz" $((0x24c)) 4)
    start=$(( (setup_sects + 1) * 512 + poff ))
    # (head first: with pipefail, a `tail | head` pipeline fails on SIGPIPE.)
    head -c $((start + plen)) "$bz" | tail -c "$plen" | xz -dc --single-stream > "$out"
    # Must be an ELF file: 0x7f 'E' 'L' 'F'.
    [ "$(head -c 4 "$out" | od -An -t x1 | tr -d ' ')" = 7f454c46 ] ||
        die "payload of $bz is not an ELF vmlinux"
}

# Resolves the kernel package, downloads and extracts it if the cache does not
# have it yet; sets KERNEL_DIR.
kernel_fetch() {
    need_cmds apt-get:apt apt-cache:apt dpkg-deb:dpkg xz:xz-utils od:coreutils
    local pkg version key tmp
    # linux-image-amd64 is a metapackage: its dependency names the real one.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
    if [ -z "$pkg" ]; then
        apt_update_once || die "apt-get update failed"
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
              sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-cache depends)"
    version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
              sed -n 's/^Version: //p' | head -n1)
    [ -n "$version" ] || die "no version known for $pkg"
    key="${pkg}_${version}"
    KERNEL_DIR="$EMBER_CACHE/kernel/$key"
    if [ -f "$KERNEL_DIR/version" ]; then
        return 0
    fi

    log "kernel cache: fetching $pkg $version into $KERNEL_DIR"
    mkdir -p "$EMBER_CACHE/kernel"
    tmp=$(mktemp -d "$EMBER_CACHE/kernel/.tmp.XXXXXX")
    # shellcheck disable=SC2064  # expand $tmp now: it is local
    trap "rm -rf '$tmp'" EXIT
    # apt-get download normally drops privileges to the _apt user, which
    # cannot write a cache under /root; we are root anyway, so say so.
    local apt_dl=(apt-get download -qq -o APT::Sandbox::User=root "$pkg=$version")
    if ! (cd "$tmp" && "${apt_dl[@]}" >&2); then
        # A stale package list points at a file the mirror no longer has.
        apt_update_once || true
        (cd "$tmp" && "${apt_dl[@]}" >&2) || die "apt-get download $pkg=$version failed"
    fi
    mkdir "$tmp/x"
    dpkg-deb -x "$tmp"/*.deb "$tmp/x"
    cp "$tmp"/x/boot/vmlinuz-* "$tmp/vmlinuz"
    extract_vmlinux "$tmp/vmlinuz" "$tmp/vmlinux"
    collect_modules "$tmp/x/lib/modules" "$tmp/modules"
    rm -rf "$tmp/x"
    echo "$pkg $version" > "$tmp/version"
    # Publish atomically: a concurrent or interrupted run never sees half a cache.
    if ! mv -T "$tmp" "$KERNEL_DIR" 2>/dev/null; then
        [ -f "$KERNEL_DIR/version" ] || die "cannot publish $KERNEL_DIR"
    fi
    trap - EXIT
    rm -rf "$tmp"
}

# Modules of the shared-root test host (tests/kvm-host.sh): virtio-pci and 9p to mount
# this machine's root from QEMU's virtio-9p device, kvm-amd, and tun/loop for the tests
# that make taps and loop devices.
SHARE_MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
               netfs fscache 9pnet 9pnet_virtio 9p irqbypass kvm ccp kvm-amd tun loop)

# kernel_module_set DIRNAME MODULE...: makes sure KERNEL_DIR/DIRNAME/ holds the modules
# and their dependencies, with their load order; extracted from the cached .deb,
# published atomically, rebuilt when the list changes (DIRNAME/modules.list).
kernel_module_set() {
    local name=$1 dir=$KERNEL_DIR/$1 tmp
    shift
    [ -f "$dir/order" ] && [ "$(cat "$dir/modules.list" 2>/dev/null)" = "$*" ] && return 0
    tmp=$(mktemp -d "$KERNEL_DIR/.$name.XXXXXX")
    dpkg-deb -x "$KERNEL_DIR"/linux-image-*.deb "$tmp/x"
    collect_modules "$tmp/x/lib/modules" "$tmp/m" "$@"
    rm -rf "$tmp/x"
    echo "$*" > "$tmp/m/modules.list"
    # A set made for another list (or by an older script, without one) is replaced.
    [ "$(cat "$dir/modules.list" 2>/dev/null)" = "$*" ] || rm -rf "$dir"
    if ! mv -T "$tmp/m" "$dir" 2>/dev/null; then
        [ "$(cat "$dir/modules.list" 2>/dev/null)" = "$*" ] || die "cannot publish $dir"
    fi
    rm -rf "$tmp"
}

# KERNEL_DIR/modules-extra/: EXTRA_MODULES and their dependencies.
kernel_extra_modules() { kernel_module_set modules-extra "${EXTRA_MODULES[@]}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    kernel_fetch
    echo "$KERNEL_DIR"
fi
