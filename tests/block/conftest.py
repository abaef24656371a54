"""Helpers for the block tests: Debian's qemu-img and qemu-io as the reference."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockDriver

if shutil.which("qemu-img") is None or shutil.which("qemu-io") is None:
    pytest.skip("qemu-img/qemu-io not installed (apt-get install qemu-utils)",
                allow_module_level=True)  # fmt: skip


def qemu_img(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-img", *map(str, args)], capture_output=True, text=True,
                          check=check)  # fmt: skip


def qemu_io(path: Path, *commands: str, fmt: str = "qcow2") -> None:
    argv = ["qemu-io", "-f", fmt]
    for c in commands:
        argv += ["-c", c]
    out = subprocess.run([*argv, str(path)], capture_output=True, text=True, check=True)
    assert "error" not in out.stdout.lower() + out.stderr.lower(), out


def qemu_check(path: Path) -> dict[str, object]:
    """qemu-img check --output=json; fails the test unless the image is clean."""
    out = qemu_img("check", "--output=json", path, check=False)
    report = json.loads(out.stdout)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert report.get("corruptions", 0) == 0 and report.get("leaks", 0) == 0, report
    return report


def qemu_raw(path: Path, tmp: Path) -> bytes:
    """The disk's contents as qemu-img sees them (convert -O raw)."""
    out = tmp / (path.name + ".as-raw")
    qemu_img("convert", "-O", "raw", path, out)
    data = out.read_bytes()
    out.unlink()
    return data


def read_all(image: BlockDriver) -> bytes:
    buf = bytearray(image.length)
    image.readv(0, [memoryview(buf)])
    return bytes(buf)


def write(image: BlockDriver, offset: int, data: bytes) -> None:
    image.writev(offset, [memoryview(data)])


def pattern(seed: int, length: int) -> bytes:
    """Deterministic, incompressible-enough bytes."""
    import random

    return random.Random(seed).randbytes(length)
