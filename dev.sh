#!/bin/sh
# Set up everything pyvirt needs on Debian 12 (as root), then:
#   ./dev.sh boot   build the default Linux guest (cached) and boot it with its console here
#   ./dev.sh test   run the whole test suite
#   ./dev.sh setup  only install and set up
set -eu
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"

say() { printf '%s\n' "dev.sh: $*" >&2; }

# Debian packages: the ones the project needs, plus each part's own list.
packages() {
    cat "$ROOT/packages.txt" "$ROOT"/guests/*/packages.txt "$ROOT"/tests/*/packages.txt \
        2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u
}

install_packages() {
    missing=""
    for pkg in $(packages); do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        say "missing Debian packages:$missing (run as root to install them)"
        exit 1
    fi
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
}

setup_venv() {
    stamp="$VENV/.pyvirt-stamp"
    want=$(sha256sum <pyproject.toml | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    say "setting up the Python environment in .venv"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e ".[test]"
    echo "$want" >"$stamp"
}

install_npm() {
    [ "$(id -u)" = 0 ] || { say "npm is missing (run as root to install it)"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
}

# The manager's terminal widget (xterm.js) comes from the npm registry, pinned by package-lock.json.
setup_web() {
    web="$ROOT/src/pyvirt/manager/web"
    [ -d "$web/node_modules" ] && return 0
    command -v npm >/dev/null || install_npm
    say "installing the web manager's npm packages"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
}

setup() {
    install_packages
    setup_venv
    setup_web
}

boot() {
    guest=$("$ROOT/guests/linux/build.sh")
    say "booting the default guest ($guest); Ctrl-a x quits, Ctrl-a h helps"
    exec "$VENV/bin/pyvirt-qemu" -machine pc -accel kvm -cpu host,-xsave -m 256M -smp 1 \
        -nographic -kernel "$guest/vmlinux" -initrd "$guest/initramfs.cpio" \
        -append "$(cat "$guest/cmdline")"
}

run_tests() {
    "$VENV/bin/ruff" check src tests bench guests
    "$VENV/bin/ruff" format --check src tests bench guests
    "$VENV/bin/python" -m pytest "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    boot) setup && boot ;;
    test) setup && run_tests "$@" ;;
    *)
        say "usage: ./dev.sh boot|test|setup"
        exit 2
        ;;
esac
