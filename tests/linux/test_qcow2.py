"""A Linux guest on a qcow2 overlay over a raw base: its writes land in the overlay only.

Under both VMMs (the `vmm` fixture), so QEMU 7.2 shows the same guest the same
disk. The host then checks the overlay with qemu-img and the base byte for byte.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pyvirt.block.qcow2 import create_qcow2

from .guest import Guest, LinuxGuest
from .test_devices import (
    DISK_SIZE,
    DISK_WRITES,
    MiB,
    assert_image,
    disk_pattern,
    guest_sha,
    guest_write,
    sha256,
    yes_data,
)
from .test_devices import pytestmark as pytestmark


def qemu_img(*args: str | Path) -> str:
    return subprocess.run(["qemu-img", *map(str, args)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_qcow2_overlay(vmm: list[str], linux_guest: LinuxGuest, tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base_data = disk_pattern(DISK_SIZE)
    base.write_bytes(base_data)
    overlay = tmp_path / "overlay.qcow2"
    create_qcow2(str(overlay), DISK_SIZE, backing_file="base.raw", backing_format="raw")
    expected = bytearray(base_data)
    options = [
        "-drive", f"file={overlay},if=none,format=qcow2,id=d0,discard=unmap",
        "-device", "virtio-blk-pci,drive=d0",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        assert guest_sha(g, 3 * MiB, MiB) == sha256(base_data[3 * MiB : 4 * MiB])
        for _, dd_options, offset, length, word in DISK_WRITES:
            g.run(guest_write(dd_options, offset, length, word))
            expected[offset : offset + length] = yes_data(word, length)
        g.run("sync && pvblk flush /dev/vda")
        g.run(f"pvblk zeroout /dev/vda {16 * MiB} {MiB}")
        expected[16 * MiB : 17 * MiB] = bytes(MiB)
        for offset in (0, MiB, 8 * MiB, 16 * MiB, DISK_SIZE - MiB):
            assert guest_sha(g, offset, MiB) == sha256(expected[offset : offset + MiB])
        g.poweroff()
    assert_image(base, base_data)
    check = qemu_img("check", overlay)
    assert "No errors were found on the image." in check, check
    converted = tmp_path / "converted.raw"
    qemu_img("convert", "-O", "raw", overlay, converted)
    assert_image(converted, expected)
    converted.unlink()
    expected_raw = tmp_path / "expected.raw"
    expected_raw.write_bytes(expected)
    assert "Images are identical." in qemu_img("compare", "-f", "qcow2", "-F", "raw",
                                               overlay, expected_raw)  # fmt: skip
