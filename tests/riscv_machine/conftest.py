"""Boots on the riscv64 virt board: ours (pyvirt-qemu-riscv64) and QEMU's as the reference."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYVIRT = str(Path(sys.executable).parent / "pyvirt-qemu-riscv64")
QEMU = shutil.which("qemu-system-riscv64")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin")


@pytest.fixture(params=["pyvirt", "qemu"])
def vmm(request: pytest.FixtureRequest) -> list[str]:
    """The command that starts a virt machine, ours or the reference."""
    if request.param == "qemu":
        if QEMU is None:
            pytest.skip("qemu-system-riscv64 is not installed (qemu-system-misc)")
        return [QEMU, "-machine", "virt", "-accel", "tcg"]
    return [PYVIRT, "-machine", "virt", "-accel", "tcg"]


@pytest.fixture(scope="session")
def linux_riscv() -> Path:
    """The RISC-V test guest (built, or found in the cache)."""
    if shutil.which("riscv64-linux-gnu-gcc") is None:
        pytest.skip("riscv64-linux-gnu-gcc is not installed (guests/linux-riscv/packages.txt)")
    proc = subprocess.run([str(ROOT / "guests/linux-riscv/build.sh")], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode:
        pytest.fail(f"guests/linux-riscv/build.sh failed:\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.splitlines()[-1])
