"""A Linux guest with virtio devices on PCI (MSI-X) is snapshotted with QMP migrate, its
VMM killed, and a new VMM restores it: the shell, its files and the devices work on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from qemu.qmp import QMPClient

from .conftest import LinuxGuest
from .guest import Guest, is_pyvirt

MiB = 1 << 20


async def snapshot(socket: Path, uri: str) -> dict:
    qmp = QMPClient("snapshot")
    await qmp.connect(str(socket))
    try:
        await qmp.execute("migrate", {"uri": uri})
        while (info := await qmp.execute("query-migrate"))["status"] not in ("completed", "failed"):
            await asyncio.sleep(0.05)
        return info
    finally:
        await qmp.disconnect()


@pytest.mark.linux
def test_snapshot_restore_with_virtio_devices(
    vmm: list[str], linux_guest: LinuxGuest, tmp_path: Path
) -> None:
    if not is_pyvirt(vmm):
        pytest.skip("QEMU's snapshots are covered by tests/vmm/test_snapshot.py")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"pyvirt-snapshot-disk".ljust(MiB, b"\x5a") * 4)
    image = tmp_path / "vm.snapshot"
    socket = tmp_path / "qmp.sock"
    options = [
        "-drive", f"file={disk},if=none,format=raw,id=d0",
        "-device", "virtio-blk-pci,drive=d0",
        "-device", "virtio-rng-pci",
        "-qmp", f"unix:{socket},server=on,wait=off",
    ]  # fmt: skip
    disk_sha = "sha256sum < /dev/vda | cut -c1-16"
    with Guest(vmm, linux_guest, *options, name="source") as source:
        source.wait_ready()
        source.run("echo kept-in-ram > /tmp/mark")
        before = source.run(disk_sha).strip()
        info = asyncio.run(snapshot(socket, f"file:{image}"))
        assert info["status"] == "completed", info
    with Guest(vmm, linux_guest, *options, "-incoming", f"file:{image}",
               name="restored") as restored:  # fmt: skip
        assert restored.run("cat /tmp/mark").strip() == "kept-in-ram"
        assert restored.run(disk_sha).strip() == before
        assert restored.run("head -c 4096 /dev/hwrng | wc -c").strip() == "4096"
        restored.run("echo after-restore > /dev/vda && sync")
        restored.poweroff()
    assert disk.read_bytes().startswith(b"after-restore\n")
