"""Fixtures for the daemon tests: a pyvirtd on the test driver, the real virsh and libvirtd."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.daemons import LIBVIRTD, Daemon, StartError, start_libvirtd, start_pyvirtd

VIRSH = shutil.which("virsh")


@pytest.fixture
def pyvirtd(tmp_path: Path) -> Iterator[Daemon]:
    """A pyvirtd serving test:///default from its own directories."""
    daemon = start(start_pyvirtd, tmp_path)
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
    """Debian's libvirtd (test:///default) in a temporary directory: its socket's path.

    pytest's tmp_path is private to root, and libvirtd runs as nobody.
    """
    with tempfile.TemporaryDirectory(prefix="pyvirt-libvirtd-") as tmp:
        daemon = start(start_libvirtd, Path(tmp))
        yield daemon.socket
        daemon.stop()


def start(launch: Callable[[Path], Daemon], top: Path) -> Daemon:
    """Start a daemon, skipping when this host cannot run it."""
    if launch is start_libvirtd and (LIBVIRTD is None or os.geteuid() != 0):
        pytest.skip("libvirtd is not installed or we are not root (it runs as nobody)")
    try:
        return launch(top)
    except StartError as e:
        pytest.fail(str(e), pytrace=False)
