"""Fixtures for the daemon tests: a pyvirtd on the test driver, the real virsh and libvirtd."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

VIRSH = shutil.which("virsh")
LIBVIRTD = shutil.which("libvirtd") or (
    "/usr/sbin/libvirtd" if os.path.exists("/usr/sbin/libvirtd") else None
)


def wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"{proc.args} did not create {path}:\n{log.read_text(errors='replace')}")
        time.sleep(0.02)


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    run_dir: Path
    state_dir: Path

    @property
    def socket(self) -> Path:
        return self.run_dir / "libvirt-sock"

    @property
    def ro_socket(self) -> Path:
        return self.run_dir / "libvirt-sock-ro"

    def uri(self, driver: str = "test", path: str = "/default", readonly: bool = False) -> str:
        sock = self.ro_socket if readonly else self.socket
        return f"{driver}+unix://{path}?socket={sock}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def start_pyvirtd(tmp: Path, uri: str = "test:///default") -> Daemon:
    run_dir, state_dir = tmp / "run", tmp / "state"
    argv = [sys.executable, "-m", "pyvirt.daemon", "--uri", uri]
    log = tmp / "pyvirtd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*argv, "--run-dir", str(run_dir), "--state-dir", str(state_dir), "--verbose"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, run_dir, state_dir)
    wait_for(daemon.ro_socket, proc, log)
    return daemon


@pytest.fixture
def pyvirtd(tmp_path: Path) -> Iterator[Daemon]:
    """A pyvirtd serving test:///default from its own directories."""
    daemon = start_pyvirtd(tmp_path)
    yield daemon
    daemon.stop()


def virsh(uri: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    if VIRSH is None:
        pytest.skip("virsh is not installed (apt-get install libvirt-clients)")
    return subprocess.run(
        [VIRSH, "-c", uri, *args], capture_output=True, text=True, timeout=30, input=input
    )


class VirshConsole:
    """`virsh console` on a pseudo-terminal (it refuses to run without one)."""

    def __init__(self, uri: str, domain: str) -> None:
        if VIRSH is None:
            pytest.skip("virsh is not installed (apt-get install libvirt-clients)")
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [VIRSH, "-c", uri, "console", domain],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.seen and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    break
        assert marker in self.seen, self.seen

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def quit(self) -> int:
        """Ctrl-], as a user leaves the console; virsh's exit status."""
        self.type(b"\x1d")
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.proc.kill()
            os.close(self.master)


@pytest.fixture
def libvirtd() -> Iterator[Path]:
    """Debian's libvirtd as an unprivileged session daemon in a temporary directory: its
    socket's path.

    It runs as `nobody` so that it keeps to its own directories and never touches
    the system daemon's; clients use its test:///default driver. (pytest's tmp_path
    is private to root, hence a directory of its own.)
    """
    if LIBVIRTD is None:
        pytest.skip("libvirtd is not installed (apt-get install libvirt-daemon)")
    if os.geteuid() != 0:
        pytest.skip("starting libvirtd as nobody needs root")
    with tempfile.TemporaryDirectory(prefix="pyvirt-libvirtd-") as tmp:
        yield from _run_libvirtd(Path(tmp))


def _run_libvirtd(top: Path) -> Iterator[Path]:
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
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    log = top / "libvirtd.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*as_nobody, LIBVIRTD, "--config", str(config), "--timeout", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    sock = sock_dir / "libvirt-sock"
    wait_for(sock, proc, log)
    yield sock
    proc.terminate()
    proc.wait(timeout=10)
