#!/usr/bin/env bash
# Build the pyvirt minimal Linux test guest from Debian packages:
#   vmlinux         uncompressed ELF kernel, bootable through PVH
#   bzImage         the same kernel, LZ4-compressed, for the Linux boot protocol
#   initramfs.cpio  uncompressed newc cpio: busybox-static, our /init, the
#                   udhcpc script and the guest tools (tools/*.c)
#   cmdline         the recommended kernel command line for this host's KVM
#   config          the kernel .config, for reference
# into ${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/linux/<key>/, where <key> hashes
# every input; the kernel alone is cached in kernel-<kernel key>/ too, so
# that changing the initramfs does not rebuild it. A cached build returns at
# once. The cache directory is the last line on stdout; progress goes to
# stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
busybox=/bin/busybox
cache_root=${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/linux

# pyvirt_emu_quirks and clearcpuid: see README.md (the patch needs both on PVM).
cmdline="console=ttyS0 quiet panic=-1 pyvirt_emu_quirks"
cmdline+=" clearcpuid=xsave,popcnt,smap,erms,fsrm,rep_good noreplace-smp rodata=off"

# shellcheck source=guests/lib/kernel-build.sh
source "$here/../lib/kernel-build.sh"

mapfile -t packages < <(sed 's/#.*//' "$here/packages.txt" | tr -s ' \t' '\n' | grep -v '^$')
require_packages "${packages[@]}"
[[ -r $src_tar ]] || die "$src_tar not found (package linux-source-6.1)"
[[ -x $busybox ]] || die "$busybox not found (package busybox-static)"

shopt -s nullglob
patches=("$here"/*.patch)
tools=("$here"/tools/*.c)
shopt -u nullglob

# Two keys. The kernel's covers what goes into vmlinux and bzImage: this
# script, the config fragment, the patches, the kernel source and compiler.
# The guest's adds what goes into the initramfs (/init, the udhcpc script,
# the tools, busybox), so changing a tool rebuilds the initramfs, not the
# kernel.
hash_of() { sha256sum "$@" | sed "s|$here/||"; }
kernel_key=$(
    {
        hash_of "$here/build.sh" "$here/../lib/kernel-build.sh" "$here/pyvirt.config" \
            "${patches[@]}"
        echo "linux-source-6.1 $(pkg_version linux-source-6.1)"
        echo "gcc-12 $(pkg_version gcc-12)"
    } | sha256sum | cut -c1-16
)
key=$(
    {
        echo "kernel $kernel_key"
        hash_of "$here/init" "$here/udhcpc.script" "$here"/tools/*.[ch]
        echo "busybox-static $(pkg_version busybox-static)"
    } | sha256sum | cut -c1-16
)
out=$cache_root/$key
kernel=$cache_root/kernel-$kernel_key

cached_or_locked "$out" vmlinux "$cache_root/.lock-$key"

if must_build "$kernel" vmlinux "$cache_root/.lock-kernel-$kernel_key"; then
    new_build_dir "kernel-$kernel_key"
    ktmp=$REPLY
    extract_kernel "$src_tar" "$ktmp"

    for p in "${patches[@]}"; do
        log "applying $(basename "$p")"
        patch -p1 --batch --forward --quiet <"$p" >&2 || die "patch $(basename "$p") does not apply"
    done

    configure_kernel "$here/pyvirt.config" make

    log "building the kernel with $(nproc) jobs"
    run make -j"$(nproc)" KCFLAGS=-mstringop-strategy=libcall vmlinux bzImage >&2

    mkdir "$ktmp/out"
    cp vmlinux "$ktmp/out/vmlinux"
    cp arch/x86/boot/bzImage "$ktmp/out/bzImage"
    cp .config "$ktmp/out/config"
    # The kernel's own cpio writer, for the initramfs.
    gcc -O2 -o "$ktmp/out/gen_init_cpio" usr/gen_init_cpio.c
    publish_kernel "$ktmp" "$kernel"
fi

new_build_dir "$key"
tmp=$REPLY

# The guest tools: static, and without a libc (see tools/rt.h), so that they
# add a few KB to the initramfs rather than ~680 KB each.
log "building the guest tools"
mkdir "$tmp/tools"
for t in "${tools[@]}"; do
    gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
        -O2 -Wall -Wextra -s -o "$tmp/tools/$(basename "$t" .c)" "$t" >&2 ||
        die "building $(basename "$t") failed"
done

log "building initramfs.cpio"
mkdir "$tmp/out"
cat >"$tmp/cpio_list" <<EOF
dir /bin 0755 0 0
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
dir /root 0700 0 0
dir /etc 0755 0 0
dir /etc/udhcpc 0755 0 0
file /etc/udhcpc/default.script $here/udhcpc.script 0755 0 0
file /bin/busybox $busybox 0755 0 0
slink /bin/sh busybox 0777 0 0
file /init $here/init 0755 0 0
EOF
for t in "${tools[@]}"; do
    t=$(basename "$t" .c)
    echo "file /bin/$t $tmp/tools/$t 0755 0 0" >>"$tmp/cpio_list"
done
# Device nodes without root, -t 0 for fixed timestamps on directories and
# nodes (files keep their mtimes).
"$kernel/gen_init_cpio" -t 0 "$tmp/cpio_list" >"$tmp/out/initramfs.cpio"

publish_guest "$tmp" "$out" "$kernel" "$cmdline" vmlinux bzImage config
