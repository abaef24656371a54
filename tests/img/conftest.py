"""Run pyvirt-img and Debian's qemu-img side by side on the same files."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
PYVIRT_IMG = [sys.executable, "-m", "pyvirt.img"]


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


def _run(argv: list[str], cwd: Path) -> Result:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ours(*args: str, cwd: Path) -> Result:
    return _run([*PYVIRT_IMG, *args], cwd)


def qemu(*args: str, cwd: Path) -> Result:
    """qemu-img, its name in messages replaced by ours."""
    if QEMU_IMG is None:
        pytest.skip("qemu-img is not installed (apt-get install qemu-utils)")
    r = _run([QEMU_IMG, *args], cwd)
    return Result(
        r.status,
        r.stdout.replace("qemu-img", "pyvirt-img"),
        r.stderr.replace("qemu-img", "pyvirt-img"),
    )


def qemu_io(image: Path, *commands: str, fmt: str = "qcow2") -> None:
    argv = [QEMU_IO or "qemu-io", "-f", fmt]
    for c in commands:
        argv += ["-c", c]
    subprocess.run([*argv, str(image)], check=True, capture_output=True)


def same(*args: str, cwd: Path) -> Result:
    """Run both tools on the same files; their status, stdout and stderr must be equal."""
    theirs = qemu(*args, cwd=cwd)
    mine = ours(*args, cwd=cwd)
    assert mine == theirs, f"pyvirt-img {' '.join(args)}"
    return mine


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_clean(path: Path) -> None:
    """qemu-img check finds nothing wrong (raw images have no checks)."""
    r = qemu("check", str(path), cwd=path.parent)
    assert r.status in (0, 63), r.stdout + r.stderr


def identical(a: Path, b: Path) -> None:
    r = qemu("compare", str(a), str(b), cwd=a.parent)
    assert r.status == 0, r.stdout + r.stderr


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Images made by qemu-img and qemu-io, read by the read-only tests."""
    d = tmp_path_factory.mktemp("samples")

    def img(*args: str) -> None:
        assert qemu(*args, cwd=d).status == 0

    img("create", "-q", "-f", "raw", "empty.raw", "1M")
    img("create", "-q", "-f", "raw", "data.raw", "3M")
    qemu_io(d / "data.raw", "write -P 0x5a 64k 128k", "write -P 1 2M 4k", fmt="raw")
    img("create", "-q", "-f", "qcow2", "v3.qcow2", "64M")
    qemu_io(
        d / "v3.qcow2",
        "write -P 0x11 0 1M",
        "write -z 2M 64k",
        "write -c -P 3 4M 64k",
        "write -P 7 8M 4k",
    )
    img("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4096", "v2.qcow2", "8M")
    qemu_io(d / "v2.qcow2", "write -P 0x22 4k 12k")
    img("create", "-q", "-f", "qcow2", "-b", "v3.qcow2", "-F", "qcow2", "overlay.qcow2")
    qemu_io(d / "overlay.qcow2", "write -P 0x33 512k 1M", "write -z 8M 64k")
    img("create", "-q", "-f", "qcow2", "-b", "data.raw", "-F", "raw", "on-raw.qcow2", "4M")
    img("create", "-q", "-f", "qcow2", "snap.qcow2", "16M")
    qemu_io(d / "snap.qcow2", "write -P 1 0 64k")
    img("snapshot", "-c", "first", "snap.qcow2")
    qemu_io(d / "snap.qcow2", "write -P 2 0 64k")
    img("snapshot", "-c", "second", "snap.qcow2")
    return d
