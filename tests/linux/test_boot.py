"""Boot the minimal Linux guest, use its shell over the serial line, power it off."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import LinuxGuest
from .serial import Serial

READY = "PYVIRT_GUEST_READY"


def boot_use_poweroff(
    vmm: list[str], guest: LinuxGuest, kernel: Path, timeout: float, cpus: int = 1
) -> None:
    serial = Serial(
        [
            *vmm,
            "-m", "256M",
            "-smp", str(cpus),
            "-kernel", str(kernel),
            "-initrd", str(guest.initramfs),
            "-append", guest.cmdline,
            "-serial", "stdio",
            "-no-reboot",
        ]
    )  # fmt: skip
    try:
        pos = serial.expect(READY + "\r\n", timeout)
        print(f"{READY} after {serial.elapsed:.1f} s")
        # The shell's prompt: typing earlier works too (the tty buffers it),
        # but this way a shell that never starts is reported as such.
        pos = serial.expect("# ", 30, after=pos)
        serial.type("echo hello-$((6*7))")
        pos = serial.expect("hello-42", 30, after=pos)
        serial.type("echo cpus-$(grep -c ^processor /proc/cpuinfo)")
        pos = serial.expect(f"cpus-{cpus}", 30, after=pos)
        serial.type("poweroff -f")
        assert serial.wait(60) == 0, f"VMM exit status is not 0{serial}"
        out = serial.output
        assert "Kernel panic" not in out, f"the guest panicked{serial}"
        assert "job control turned off" not in out, f"shell without a controlling tty{serial}"
    finally:
        serial.close()


@pytest.mark.linux
def test_pvh_vmlinux(vmm: list[str], linux_guest: LinuxGuest) -> None:
    """The uncompressed vmlinux through the PVH entry point."""
    boot_use_poweroff(vmm, linux_guest, linux_guest.vmlinux, timeout=120)


@pytest.mark.linux
def test_bzimage(vmm: list[str], linux_guest: LinuxGuest) -> None:
    """The LZ4 bzImage through the Linux boot protocol (decompression adds ~20 s here)."""
    boot_use_poweroff(vmm, linux_guest, linux_guest.bzimage, timeout=180)


@pytest.mark.linux
def test_smp(vmm: list[str], linux_guest: LinuxGuest) -> None:
    """Two vCPUs: Linux finds the second in the ACPI MADT and starts it with INIT/SIPI."""
    boot_use_poweroff(vmm, linux_guest, linux_guest.vmlinux, timeout=120, cpus=2)
