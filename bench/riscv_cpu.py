"""Guest instructions per second of the RISC-V software CPU against QEMU's TCG.

Both run guests/riscv-tests/bench/cpu.S (a sieve and a checksum) on a virt
board with no firmware. The instruction count is the one our hart retires (the
program is deterministic). QEMU runs cpu_long.S, the same loop with 50 times
the rounds (its count: ours times 50, the few set-up instructions aside), and
its rate divides that by QEMU's wall-clock time less its start-up time,
measured on a test that runs ~10k instructions. The row is nanoseconds per
guest instruction, lower is better.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

from bench.harness import ROOT, Row, Vmm, median_of
from pyvirt.tcg.riscv.baremetal import run_elf

QEMU_RISCV = shutil.which("qemu-system-riscv64")
LONG_FACTOR = 50  # cpu_long.S rounds / cpu.S rounds


def _build(names: list[str]) -> dict[str, Path]:
    path = ROOT / "guests/riscv-tests/build.py"
    spec = importlib.util.spec_from_file_location("riscv_tests_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(names)


def _qemu_seconds(elf: Path) -> float:
    assert QEMU_RISCV is not None
    argv = [QEMU_RISCV, "-machine", "virt", "-bios", "none", "-m", "128M", "-kernel", str(elf),
            "-nographic", "-monitor", "none", "-serial", "stdio"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, timeout=120, check=True)
    return time.perf_counter() - start


def measure(_vmms: list[Vmm], _guests: dict[str, Path], repeat: int) -> list[Row]:
    if QEMU_RISCV is None:
        raise SystemExit("bench: qemu-system-riscv64 is not installed (qemu-system-misc)")
    elfs = _build(["bench/cpu", "bench/cpu_long", "mmu"])
    result = run_elf(elfs["bench/cpu"], timeout=300)
    count = result.instret
    ours = median_of(repeat, lambda: run_elf(elfs["bench/cpu"], timeout=300).seconds)
    startup = median_of(repeat, lambda: _qemu_seconds(elfs["mmu"]))
    qemu = median_of(repeat, lambda: _qemu_seconds(elfs["bench/cpu_long"])) - startup
    qemu_count = count * LONG_FACTOR
    print(
        f"riscv-cpu: {count} instructions; pyvirt {count / ours / 1e6:.2f} MIPS, "
        f"qemu TCG {qemu_count / qemu / 1e6:.1f} MIPS"
    )
    values = {"pyvirt": ours / count * 1e9, "qemu": qemu / qemu_count * 1e9}
    return [Row("riscv guest instruction", "ns", values)]
