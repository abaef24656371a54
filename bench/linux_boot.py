"""Time from process start to the Linux guest's userspace marker, same kernel and initramfs.

Both VMMs boot the PVH vmlinux that guests/linux/build.sh builds (and caches),
with the same initramfs and command line; the clock stops when /init prints
PYVIRT_GUEST_READY on the serial console.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.harness import ROOT, Row, Vmm

MARKER = b"PYVIRT_GUEST_READY"
TIMEOUT = 300.0


def linux_guest() -> Path:
    out = subprocess.run([str(ROOT / "guests" / "linux" / "build.sh")], check=True,
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    return Path(out.stdout.strip().splitlines()[-1])


def time_to_marker(vmm: Vmm, guest: Path) -> float:
    argv = [*vmm.argv, "-m", "256M", "-smp", "1", "-cpu", "host,-xsave", "-serial", "stdio",
            "-no-reboot", "-kernel", str(guest / "vmlinux"),
            "-initrd", str(guest / "initramfs.cpio"),
            "-append", (guest / "cmdline").read_text().strip()]  # fmt: skip
    return seconds_to_marker(vmm.name, argv, MARKER)


def seconds_to_marker(name: str, argv: list[str], marker: bytes, timeout: float = TIMEOUT) -> float:
    """Seconds from starting `argv` until `marker` appears on its stdout (the serial line)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert proc.stdout is not None
        seen = b""
        while marker not in seen:
            if time.perf_counter() - start > timeout or proc.poll() is not None:
                raise RuntimeError(
                    f"{name}: no {marker.decode()} from the guest:\n"
                    f"{seen[-2000:].decode(errors='replace')}"
                )
            seen += proc.stdout.read1(4096)
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    guest = linux_guest()
    times = {v.name: min(time_to_marker(v, guest) for _ in range(max(1, repeat // 3)))
             for v in vmms}  # fmt: skip
    return [Row("Linux: process start to userspace marker", "s", times)]
