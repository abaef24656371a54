# shellcheck shell=bash
# Shared by the Linux guest build scripts (guests/linux, guests/linux-riscv):
# messages, interruptible long steps, Debian package checks, the cache's
# check-then-lock, and a kernel configuration that insists on its fragment.
# Source it from bash with `set -euo pipefail`.

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Long steps run in the background so that INT/TERM stop them too (bash
# would otherwise wait for a foreground make before acting on the signal).
child=
run() {
    "$@" &
    child=$!
    wait "$child"
    child=
}
trap '[[ -z $child ]] || { kill "$child"; wait "$child"; } 2>/dev/null; exit 130' INT TERM HUP

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# require_packages PKG...: die naming every Debian package that is not installed.
require_packages() {
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects a Debian host"
    local missing=() pkg
    for pkg in "$@"; do
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true) == installed ]] ||
            missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) ||
        die "missing Debian package(s): ${missing[*]} (apt-get install ${missing[*]})"
}

# must_build DIR FILE LOCK: true when DIR/FILE is missing; LOCK is then held (its fd
# in $lock_fd: one build per key) and DIR/FILE checked again, for whoever waited
# for another build finds it done.
must_build() {
    [[ -f $1/$2 ]] && return 1
    mkdir -p "$(dirname "$3")"
    exec {lock_fd}>"$3"
    flock "$lock_fd"
    [[ ! -f $1/$2 ]]
}

# cached_or_locked DIR FILE LOCK: print DIR and exit when DIR/FILE exists, else
# hold LOCK until the script ends.
cached_or_locked() { must_build "$@" || { echo "$1"; exit 0; }; }

# Temporary build directories live in the cache, so the final renames are atomic;
# what is left of them goes when the script exits.
build_dirs=()
trap '((${#build_dirs[@]} == 0)) || rm -rf "${build_dirs[@]}"' EXIT
start=$SECONDS

# new_build_dir NAME: a fresh temporary directory for the cache entry NAME, in
# $REPLY; leftovers of killed builds of NAME go first (the caller holds its lock).
new_build_dir() {
    rm -rf "${cache_root:?}/.build-$1".*
    REPLY=$(mktemp -d "$cache_root/.build-$1.XXXXXX")
    build_dirs+=("$REPLY")
}

# extract_kernel TARBALL DIR: the kernel source in DIR/src, made the current directory.
extract_kernel() {
    log "extracting $1"
    mkdir "$2/src"
    run tar -xf "$1" -C "$2/src" --strip-components=1
    cd "$2/src" || exit
}

# publish_kernel DIR KERNEL: DIR/out becomes the cache entry KERNEL; the source
# tree in DIR goes at once (it is large) and the kernel lock is released.
publish_kernel() {
    cd "$cache_root" || exit
    mv -T "$1/out" "$2"
    rm -rf "$1"
    exec {lock_fd}>&-
}

# publish_guest DIR OUT KERNEL CMDLINE FILE...: the kernel's FILEs (hard links
# where possible) and a cmdline file join DIR/out, which becomes the cache entry
# OUT; prints OUT.
publish_guest() {
    local dir=$1 out=$2 kernel=$3 cmdline=$4 f
    for f in "${@:5}"; do
        ln "$kernel/$f" "$dir/out/$f" 2>/dev/null || cp "$kernel/$f" "$dir/out/$f"
    done
    echo "$cmdline" >"$dir/out/cmdline"
    mv -T "$dir/out" "$out"
    log "built $out in $((SECONDS - start)) s"
    echo "$out"
}

# configure_kernel FRAGMENT MAKE...: tinyconfig + FRAGMENT in the current
# kernel tree; Kconfig silently drops values whose dependencies are unmet,
# so every line of FRAGMENT must be in the result.
configure_kernel() {
    local fragment=$1 line bad=()
    shift
    log "configuring: tinyconfig + $(basename "$fragment")"
    "$@" -s tinyconfig >/dev/null
    scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
    "$@" -s olddefconfig >&2
    while read -r line; do
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)= ]]; then
            grep -qxF "$line" .config || bad+=("$line")
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
            ! grep -q "^${BASH_REMATCH[1]}=" .config || bad+=("$line")
        fi
    done <"$fragment"
    ((${#bad[@]} == 0)) || die "kconfig did not honour: ${bad[*]}"
}
