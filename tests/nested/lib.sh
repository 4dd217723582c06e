# shellcheck shell=bash
# Shared helpers for the nested (tier 3) test scripts. Sourced, never run.
#
# Everything here runs on the machine that starts the tests (not inside the
# nested test host). Functions print progress on stderr so that stdout stays
# free for results.

NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by run.sh
REPO_ROOT=$(cd "$NESTED_DIR/../.." && pwd)
EMBER_CACHE=${EMBER_CACHE:-$HOME/.cache/ember}

log() { printf '[nested] %s\n' "$*" >&2; }
die() { printf '[nested] error: %s\n' "$*" >&2; exit 1; }

# Monotonic-enough milliseconds for durations (date is fine at this scale).
now_ms() { date +%s%3N; }

# --- Debian packages ---------------------------------------------------------

APT_UPDATED=0
apt_update_once() {
    # The package lists may be missing or stale on a fresh machine: refresh
    # them once per script run, and only when something actually needs apt.
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
}

# need_cmds "cmd:package" ... installs the packages of the commands missing.
need_cmds() {
    local spec cmd pkg missing=()
    for spec in "$@"; do
        cmd=${spec%%:*}
        pkg=${spec#*:}
        if [[ $cmd == /* ]]; then
            [ -e "$cmd" ] && continue
        else
            command -v "$cmd" >/dev/null 2>&1 && continue
        fi
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    # De-duplicate the package names.
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing: ${missing[*]}"
    apt_update_once || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# Everything the harness uses on the host, with the Debian package providing it.
need_host_tools() {
    need_cmds \
        qemu-system-x86_64:qemu-system-x86 \
        /usr/share/qemu/qboot.rom:qemu-system-data \
        cpio:cpio \
        xz:xz-utils \
        gzip:gzip \
        gcc:gcc \
        /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev \
        dpkg-deb:dpkg \
        apt-get:apt \
        ldd:libc-bin \
        timeout:coreutils \
        od:coreutils \
        sha256sum:coreutils \
        mkfs.ext4:e2fsprogs \
        truncate:coreutils
    # busybox must be the static one: it runs inside guests without libraries
    # (package busybox also installs /bin/busybox, dynamically linked).
    if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
        log "installing: busybox-static"
        apt_update_once || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >&2
    fi
}

# --- Images ------------------------------------------------------------------

# Compiles tstamp.c statically (it runs in the nested host without libraries).
build_tstamp() {
    local out=$1
    gcc -static -O2 -Wall -Wextra -o "$out" "$NESTED_DIR/tstamp.c"
}

# Compiles vsock_echo.c statically: the vsock case runs it in the inner guest
# (AF_VSOCK) and in the nested host (AF_UNIX, Ember's hybrid socket).
build_vsock_echo() {
    local out=$1
    gcc -static -O2 -Wall -Wextra -pthread -o "$out" "$NESTED_DIR/vsock_echo.c"
}

# Copies an executable to ROOT/DEST and the shared libraries ldd lists for it
# to the same paths under ROOT (the dynamic loader searches those paths).
copy_with_libs() {
    local bin=$1 root=$2 dest=$3 lib
    install -D -m 755 "$bin" "$root$dest"
    # ldd lines: "libx.so.1 => /lib/.../libx.so.1 (0x...)" or "/lib64/ld-linux... (0x...)".
    for lib in $(LC_ALL=C ldd "$bin" 2>/dev/null |
                 awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
        [ -e "$root$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$root$lib"
    done
}

# Installs static busybox in ROOT with a link per applet (in /bin, so that
# scripts find every applet by name).
install_busybox() {
    local root=$1 applet
    install -D -m 755 /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    ln -sfn bin "$root/sbin"
    mkdir -p "$root/usr"
    ln -sfn ../bin "$root/usr/bin"
    ln -sfn ../bin "$root/usr/sbin"
}

# Basic directories, plus /dev/console: the kernel opens it for init's stdio
# before init runs (Debian's kernels also carry one in their built-in
# initramfs, so a non-root build without mknod still works).
make_root_skeleton() {
    local root=$1
    mkdir -p "$root"/{dev,proc,sys,tmp,run,root,etc}
    if [ "$(id -u)" = 0 ]; then
        mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
    fi
}

# Packs ROOT as an uncompressed cpio newc archive. Uncompressed on purpose:
# the outer kernel runs under TCG, where inflating tens of MiB costs seconds.
pack_cpio() {
    local root=$1 out=$2
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) > "$out"
}

# Builds the inner guest's initramfs: busybox, inner-init.sh as /init and a
# 1 MiB random payload whose sha256 the guest prints (proves the initrd
# arrived intact). Writes OUT and OUT.sha256.
build_inner_initramfs() {
    local out=$1 mods=${2:-} root
    root=$(mktemp -d)
    make_root_skeleton "$root"
    install_busybox "$root"
    install -m 755 "$NESTED_DIR/inner-init.sh" "$root/init"
    # Random content: a corrupted or truncated initrd cannot match by chance;
    # the expected checksum is recorded next to the image.
    head -c $((1024 * 1024)) /dev/urandom > "$root/payload.bin"
    sha256sum "$root/payload.bin" | cut -d' ' -f1 > "$out.sha256"
    if [ -n "$mods" ]; then
        mkdir -p "$root/modules"
        cp "$mods"/*.ko "$mods/order" "$root/modules/"
    fi
    # The vsock case's helper, when built next to OUT (build_vsock_echo).
    [ -x "$(dirname "$out")/vsock_echo" ] &&
        install -m 755 "$(dirname "$out")/vsock_echo" "$root/bin/vsock_echo"
    pack_cpio "$root" "$out"
    rm -rf "$root"
}

# Builds the ext4 images of the virtio cases, gzipped, in DIR: diskN.img.gz
# (SIZE MiB, /hello.bin = 64 KiB of random bytes) and diskN.hello.sha256.
build_disk_images() {
    local dir=$1 n size tmp
    tmp=$(mktemp -d)
    for n in 1 2; do
        size=$([ "$n" = 1 ] && echo 128 || echo 16)
        mkdir -p "$tmp/d$n"
        head -c 65536 /dev/urandom > "$tmp/d$n/hello.bin"
        sha256sum "$tmp/d$n/hello.bin" | cut -d' ' -f1 > "$dir/disk$n.hello.sha256"
        rm -f "$tmp/disk$n.img"
        truncate -s "${size}M" "$tmp/disk$n.img"
        mkfs.ext4 -q -F -d "$tmp/d$n" -L "disk$n" "$tmp/disk$n.img" >&2
        gzip -1 -c "$tmp/disk$n.img" > "$dir/disk$n.img.gz"
    done
    rm -rf "$tmp"
}

# QEMU firmware an inner microvm needs: qboot (microvm's default BIOS) and the
# option ROMs it uses to load a bzImage (linuxboot_dma) or a PVH ELF (pvh).
QEMU_FIRMWARE=(bios-microvm.bin qboot.rom linuxboot_dma.bin linuxboot.bin pvh.bin
               multiboot_dma.bin kvmvapic.bin)

# Builds the nested test host's initramfs:
#   /init (outer-init.sh), busybox, /modules (kvm-amd and dependencies),
#   /nested/{cases.sh,bzImage,vmlinux,inner.cpio,inner.cpio.sha256},
#   /bin/tstamp, /bin/ember (+ libraries) when EMBER_BIN is a file,
#   /bin/qemu-system-x86_64 (+ libraries, firmware) for reference runs.
# Args: OUT KERNEL_DIR INNER_CPIO TSTAMP EMBER_BIN (EMBER_BIN may be "").
build_outer_initramfs() {
    local out=$1 kdir=$2 inner=$3 tstamp=$4 ember=$5 root fw
    root=$(mktemp -d)
    make_root_skeleton "$root"
    install_busybox "$root"
    install -m 755 "$NESTED_DIR/outer-init.sh" "$root/init"
    install -m 644 "$NESTED_DIR/init-lib.sh" "$root/init-lib.sh"
    mkdir -p "$root/modules" "$root/nested"
    cp "$kdir"/modules/*.ko "$kdir/modules/order" "$root/modules/"
    if [ -d "$kdir/modules-extra" ]; then
        mkdir -p "$root/modules-extra"
        cp "$kdir"/modules-extra/*.ko "$kdir/modules-extra/order" "$root/modules-extra/"
    fi
    # Disk images for the virtio cases (gzip: mostly empty ext4, tiny).
    for img in "$(dirname "$inner")"/disk*.img.gz "$(dirname "$inner")"/disk*.hello.sha256; do
        [ -e "$img" ] && cp "$img" "$root/nested/"
    done
    install -m 644 "$NESTED_DIR/cases.sh" "$root/nested/cases.sh"
    cp "$kdir/vmlinuz" "$root/nested/bzImage"
    cp "$kdir/vmlinux" "$root/nested/vmlinux"
    cp "$inner" "$root/nested/inner.cpio"
    cp "$inner.sha256" "$root/nested/inner.cpio.sha256"
    install -m 755 "$tstamp" "$root/bin/tstamp"
    [ -x "$(dirname "$inner")/vsock_echo" ] &&
        install -m 755 "$(dirname "$inner")/vsock_echo" "$root/bin/vsock_echo"
    if [ -n "$ember" ]; then
        copy_with_libs "$ember" "$root" /bin/ember
    fi
    # A second Ember build (run.sh throughput with EMBER_BASE=): before/after a change
    # in the same test host.
    if [ -n "${EMBER_BASE:-}" ]; then
        copy_with_libs "$EMBER_BASE" "$root" /bin/ember-base
    fi
    copy_with_libs "$(command -v qemu-system-x86_64)" "$root" /bin/qemu-system-x86_64
    for fw in "${QEMU_FIRMWARE[@]}"; do
        [ -e "/usr/share/qemu/$fw" ] &&
            install -D -m 644 "$(readlink -f "/usr/share/qemu/$fw")" "$root/usr/share/qemu/$fw"
    done
    pack_cpio "$root" "$out"
    rm -rf "$root"
}
