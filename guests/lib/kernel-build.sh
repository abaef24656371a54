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

# cached_or_locked DIR FILE LOCK: print DIR and exit when DIR/FILE exists;
# else take LOCK (fd 9; one build per key) and check again, for whoever
# waited finds the cache filled.
cached_or_locked() {
    [[ -f $1/$2 ]] && { echo "$1"; exit 0; }
    mkdir -p "$(dirname "$3")"
    exec 9>"$3"
    flock 9
    [[ -f $1/$2 ]] && { echo "$1"; exit 0; }
    return 0
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
