#!/usr/bin/env bash
# Build the pyvirt RISC-V Linux test guest from Debian packages:
#   Image           the RISC-V kernel image (loaded at 0x80200000 after OpenSBI)
#   initramfs.cpio  uncompressed newc cpio holding /init (init.c on nolibc)
#   cmdline         the recommended kernel command line
#   config          the kernel .config, for reference
# into ${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/linux-riscv/<key>/, where <key>
# hashes every input. A cached build returns at once. The cache directory is
# the last line on stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
cache_root=${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/linux-riscv
cross=riscv64-linux-gnu-
cmdline="console=ttyS0 panic=-1"

# shellcheck source=guests/lib/kernel-build.sh
source "$here/../lib/kernel-build.sh"

require_packages gcc-riscv64-linux-gnu linux-source-6.1 make bc bison flex
[[ -r $src_tar ]] || die "$src_tar not found (package linux-source-6.1)"

# Two keys: the kernel's (this script, the config fragment, the kernel source
# and compiler) and the guest's, which adds /init: changing init.c rebuilds
# the initramfs in a second, not the kernel. The kernel directory keeps what
# building /init needs (nolibc, the UAPI headers, gen_init_cpio).
kernel_key=$(
    {
        sha256sum "$here/build.sh" "$here/../lib/kernel-build.sh" "$here/riscv.config" |
            sed "s|$here/||"
        echo "linux-source-6.1 $(pkg_version linux-source-6.1)"
        echo "gcc-riscv64-linux-gnu $(pkg_version gcc-riscv64-linux-gnu)"
    } | sha256sum | cut -c1-16
)
key=$( { echo "kernel $kernel_key"; sha256sum "$here/init.c" | sed "s|$here/||"; } |
    sha256sum | cut -c1-16)
out=$cache_root/$key
kernel=$cache_root/kernel-$kernel_key
cached_or_locked "$out" Image "$cache_root/.lock-$key"

if must_build "$kernel" Image "$cache_root/.lock-kernel-$kernel_key"; then
    new_build_dir "kernel-$kernel_key"
    ktmp=$REPLY
    extract_kernel "$src_tar" "$ktmp"
    mkdir "$ktmp/out"
    kmake() { make ARCH=riscv CROSS_COMPILE=$cross "$@"; }

    configure_kernel "$here/riscv.config" kmake

    log "building the kernel with $(nproc) jobs"
    run kmake -j"$(nproc)" Image >&2
    cp arch/riscv/boot/Image "$ktmp/out/Image"
    cp .config "$ktmp/out/config"
    kmake -s headers_install INSTALL_HDR_PATH="$ktmp/out/uapi" >&2
    cp -r tools/include/nolibc "$ktmp/out/nolibc"
    gcc -O2 -o "$ktmp/out/gen_init_cpio" usr/gen_init_cpio.c
    publish_kernel "$ktmp" "$kernel"
fi

new_build_dir "$key"
tmp=$REPLY
mkdir "$tmp/out"
log "building /init on nolibc"
"${cross}gcc" -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
    -march=rv64imac -mabi=lp64 -Os -Wall -s \
    -include "$kernel/nolibc/nolibc.h" -I "$kernel/nolibc" -I "$kernel/uapi/include" \
    -o "$tmp/init" "$here/init.c" -lgcc >&2 || die "building init failed"

log "building initramfs.cpio"
cat >"$tmp/cpio_list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /init $tmp/init 0755 0 0
LIST
"$kernel/gen_init_cpio" -t 0 "$tmp/cpio_list" >"$tmp/out/initramfs.cpio"
publish_guest "$tmp" "$out" "$kernel" "$cmdline" Image config
