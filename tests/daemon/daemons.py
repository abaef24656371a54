"""Starting pyvirtd and Debian's libvirtd in directories of their own (tests, bench)."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LIBVIRTD = shutil.which("libvirtd") or (
    "/usr/sbin/libvirtd" if os.path.exists("/usr/sbin/libvirtd") else None
)


class StartError(RuntimeError):
    pass


def wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise StartError(f"{proc.args} did not create {path}:\n{log.read_text('replace')}")
        time.sleep(0.02)


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    socket: Path
    ro_socket: Path

    def uri(self, driver: str = "test", path: str = "/default", readonly: bool = False) -> str:
        sock = self.ro_socket if readonly else self.socket
        return f"{driver}+unix://{path}?socket={sock}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def start_pyvirtd(top: Path, uri: str = "test:///default") -> Daemon:
    run_dir, state_dir = top / "run", top / "state"
    argv = [sys.executable, "-m", "pyvirt.daemon", "--uri", uri, "--verbose"]
    log = top / "pyvirtd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*argv, "--run-dir", str(run_dir), "--state-dir", str(state_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, run_dir / "libvirt-sock", run_dir / "libvirt-sock-ro")
    wait_for(daemon.ro_socket, proc, log)
    return daemon


def start_libvirtd(top: Path, *, kvm: bool = False) -> Daemon:
    """Debian's libvirtd as an unprivileged session daemon under `top` (readable by nobody).

    It runs as `nobody` so that it keeps to its own directories and never touches
    the system daemon's; clients use its test:///default driver. With `kvm`, it
    and the QEMU processes it starts (qemu:///session) run in a mount namespace of
    their own where /dev/kvm (root's alone here) is a node owned by nobody: the
    host's permissions stay as they are. Guest files must be readable by nobody.
    """
    if LIBVIRTD is None:
        raise StartError("libvirtd is not installed (apt-get install libvirt-daemon)")
    if os.geteuid() != 0:
        raise StartError("starting libvirtd as nobody needs root")
    top.chmod(0o755)
    home, run, sock_dir = top / "home", top / "run", top / "run" / "sock"
    for d in (home, run, sock_dir):
        d.mkdir(parents=True)
        shutil.chown(d, "nobody")
    config = top / "libvirtd.conf"
    config.write_text(
        f'unix_sock_dir = "{sock_dir}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        'unix_sock_rw_perms = "0777"\n'
    )
    config.chmod(0o644)
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(run), "PATH": "/usr/bin:/bin"}
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            LIBVIRTD, "--config", str(config), "--timeout", "0"]  # fmt: skip
    if kvm:
        argv = _with_own_kvm_node(top, argv)
    log = top / "libvirtd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, sock_dir / "libvirt-sock", sock_dir / "libvirt-sock-ro")
    wait_for(daemon.socket, proc, log)
    return daemon


def _with_own_kvm_node(top: Path, argv: list[str]) -> list[str]:
    """`argv` in a private mount namespace where /dev/kvm is bound to a node nobody owns."""
    kvm = os.stat("/dev/kvm")
    node = top / "kvm"
    os.mknod(node, 0o600 | stat.S_IFCHR, kvm.st_rdev)
    shutil.chown(node, "nobody")
    script = f'mount --bind {shlex.quote(str(node))} /dev/kvm && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]
