"""OpenSBI + the RISC-V Linux guest: userspace, a virtio disk read, power-off with status 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.linux.serial import Serial

from .conftest import OPENSBI

pytestmark = [
    pytest.mark.linux,
    pytest.mark.skipif(not OPENSBI.exists(), reason="needs Debian's opensbi"),
]
DISK_TEXT = b"PYVIRT-RISCV-DISK-1234"


def test_linux_reads_virtio_disk_and_powers_off(
    vmm: list[str], linux_riscv: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(DISK_TEXT + b"\n" + bytes(1 << 20))
    serial = Serial([
        *vmm, "-m", "128M", "-nographic", "-bios", "default",
        "-kernel", str(linux_riscv / "Image"), "-initrd", str(linux_riscv / "initramfs.cpio"),
        "-append", (linux_riscv / "cmdline").read_text().strip(),
        "-drive", f"file={disk},if=none,format=raw,id=d0",
        "-device", "virtio-blk-device,drive=d0", "-no-reboot",
    ])  # fmt: skip
    try:
        serial.expect("Linux version", 120)
        serial.expect("PYVIRT_RISCV_USERSPACE", 900)
        serial.expect(f"PYVIRT_DISK: {DISK_TEXT.decode()}", 120)
        assert serial.wait(120) == 0
    finally:
        serial.close()
