"""Time from process start to the RISC-V Linux guest's userspace marker, OpenSBI included.

pyvirt-qemu-riscv64 (the software CPU) and qemu-system-riscv64 (QEMU's TCG)
boot the same Image and initramfs that guests/linux-riscv/build.sh builds,
with Debian's OpenSBI; the clock stops at PYVIRT_RISCV_USERSPACE.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.harness import PYVIRT, ROOT, Row, Vmm
from bench.linux_boot import seconds_to_marker

MARKER = b"PYVIRT_RISCV_USERSPACE"
TIMEOUT = 900.0


def riscv_guest() -> Path:
    out = subprocess.run([str(ROOT / "guests" / "linux-riscv" / "build.sh")], check=True,
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    return Path(out.stdout.strip().splitlines()[-1])


def riscv_vmms() -> list[Vmm]:
    qemu = shutil.which("qemu-system-riscv64")
    if qemu is None:
        raise SystemExit("bench: qemu-system-riscv64 is not installed (qemu-system-misc)")
    ours = str(Path(PYVIRT[0]).parent / "pyvirt-qemu-riscv64")
    common = ["-machine", "virt", "-accel", "tcg", "-display", "none", "-nodefaults"]
    return [Vmm("pyvirt", [ours, *common]), Vmm("qemu", [qemu, *common])]


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    """`vmms` are the x86 VMMs of the other benchmarks: this one has its own."""
    guest = riscv_guest()
    times = {}
    for vmm in riscv_vmms():
        argv = [*vmm.argv, "-m", "128M", "-serial", "stdio", "-no-reboot", "-bios", "default",
                "-kernel", str(guest / "Image"), "-initrd", str(guest / "initramfs.cpio"),
                "-append", (guest / "cmdline").read_text().strip()]  # fmt: skip
        runs = max(1, repeat // 3)
        times[vmm.name] = min(seconds_to_marker(vmm.name, argv, MARKER, TIMEOUT)
                              for _ in range(runs))  # fmt: skip
    return [Row("RISC-V Linux (OpenSBI): start to userspace marker", "s", times)]
