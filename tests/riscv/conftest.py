"""The RISC-V instruction tests: built once per session, run on our hart and on QEMU."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-system-riscv64")


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "riscv_tests_build", ROOT / "guests/riscv-tests/build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()


@pytest.fixture(scope="session")
def riscv_elfs() -> dict[str, Path]:
    if shutil.which(BUILD.CC) is None:
        pytest.skip(f"{BUILD.CC} is not installed (guests/riscv-tests/packages.txt)")
    return BUILD.build()


def run_qemu(elf: Path) -> tuple[int, bytes]:
    """The reference: QEMU's virt board running the ELF with no firmware."""
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is not installed (qemu-system-misc)")
    proc = subprocess.run(
        [QEMU, "-machine", "virt", "-cpu", "rv64,h=false,sscofpmf=false", "-bios", "none",
         "-m", "128M",
         "-kernel", str(elf), "-nographic", "-monitor", "none", "-serial", "stdio"],
        capture_output=True, timeout=10,
    )  # fmt: skip
    return proc.returncode, proc.stdout
