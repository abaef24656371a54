"""Snapshots: a counting guest is saved with `migrate`, its VMM killed, and a new VMM
started with `-incoming` continues the count where it stopped. The exec: form runs
under QEMU too; file:, -incoming defer and the refusals are pyvirt's."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import PYVIRT_QEMU
from tests.qmp_vm import QmpVm

pytestmark = pytest.mark.kvm


def guest_options(tiny_guests: Mapping[str, Path], memory: str = "64M") -> list[str]:
    return ["-m", memory, "-kernel", str(tiny_guests["counter"])]


async def snapshot(vm: QmpVm, uri: str) -> int:
    """Snapshot the running counter guest to `uri`; returns the count it stopped at."""
    await vm.wait_for_count(3)
    await vm.qmp.execute("migrate", {"uri": uri})
    done = ("completed", "failed")
    while (info := await vm.qmp.execute("query-migrate"))["status"] not in done:
        await asyncio.sleep(0.05)
    assert info["status"] == "completed", info
    assert info["ram"]["total"] >= 64 << 20  # QEMU counts its ROMs too
    assert (await vm.qmp.execute("query-status"))["status"] == "postmigrate"
    stopped = vm.counts()[-1]
    await asyncio.sleep(0.3)
    assert vm.counts()[-1] == stopped, "the guest ran on after its snapshot"
    return stopped


async def continues_from(vm: QmpVm, stopped: int) -> None:
    await vm.wait_for_count(stopped + 3)
    assert vm.counts()[0] == stopped + 1, vm.output()
    assert (await vm.qmp.execute("query-status"))["status"] == "running"


def test_snapshot_kill_restore_continues(vmm, tiny_guests, tmp_path) -> None:
    image = tmp_path / "counter.snapshot"
    options = guest_options(tiny_guests)

    async def main() -> None:
        first = QmpVm(vmm, tmp_path, *options, name="first")
        try:
            await first.connect()
            stopped = await snapshot(first, f"exec:cat > {image}")
        finally:
            await first.close()  # killed
        second = QmpVm(vmm, tmp_path, *options, "-incoming", f"exec:cat {image}", name="second")
        try:
            await second.connect()
            await continues_from(second, stopped)
        finally:
            await second.close()

    asyncio.run(main())


PYVIRT = [*PYVIRT_QEMU, "-accel", "kvm", "-display", "none", "-nodefaults"]


def test_file_uri_defer_and_events(tiny_guests, tmp_path) -> None:
    image = tmp_path / "counter.snapshot"
    options = guest_options(tiny_guests)

    async def main() -> None:
        first = QmpVm(PYVIRT, tmp_path, *options, name="first")
        try:
            await first.connect()
            await first.wait_for_count(3)
            await first.qmp.execute("stop")  # a paused VM stays paused
            stopped = await snapshot(first, f"file:{image}")
            statuses = [e["data"]["status"] for e in first.qmp.events.clear()
                        if e["event"] == "MIGRATION"]  # fmt: skip
            assert statuses == ["setup", "active", "completed"]
            await first.qmp.execute("cont")  # the source may run on
            await first.wait_for_count(stopped + 1)
        finally:
            await first.close()
        second = QmpVm(PYVIRT, tmp_path, *options, "-incoming", "defer", name="second")
        try:
            await second.connect()
            assert (await second.qmp.execute("query-status"))["status"] == "inmigrate"
            await second.qmp.execute("migrate-incoming", {"uri": f"file:{image}"})
            assert (await second.event("MIGRATION"))["data"]["status"] in ("setup", "active")
            await second.event("RESUME")
            await continues_from(second, stopped)
        finally:
            await second.close()

    asyncio.run(main())


def take_snapshot(tiny_guests: Mapping[str, Path], tmp_path: Path) -> Path:
    image = tmp_path / "counter.snapshot"

    async def main() -> None:
        vm = QmpVm(PYVIRT, tmp_path, *guest_options(tiny_guests), name="source")
        try:
            await vm.connect()
            await snapshot(vm, f"file:{image}")
        finally:
            await vm.close()

    asyncio.run(main())
    return image


def restore(tiny_guests: Mapping[str, Path], image: Path, memory: str = "64M") -> str:
    """Restore `image` into a new VMM that must refuse it: its error message."""
    proc = subprocess.run(
        [*PYVIRT, *guest_options(tiny_guests, memory), "-serial", "null",
         "-incoming", f"file:{image}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 1, proc
    return proc.stderr


def test_refusals(tiny_guests, tmp_path) -> None:
    image = take_snapshot(tiny_guests, tmp_path)
    assert "the snapshot needs RAM size (-m) = 64 MiB, this VM has 128 MiB" in restore(
        tiny_guests, image, "128M"
    )
    data = bytearray(image.read_bytes())
    corrupt = tmp_path / "corrupt.snapshot"
    data[-100] ^= 0xFF  # inside the last RAM record
    corrupt.write_bytes(data)
    assert "checksum mismatch" in restore(tiny_guests, corrupt)
    truncated = tmp_path / "truncated.snapshot"
    truncated.write_bytes(data[: len(data) // 2])
    assert "ends too early" in restore(tiny_guests, truncated)
    junk = tmp_path / "junk.snapshot"
    junk.write_bytes(b"not a snapshot at all")
    assert "not a pyvirt snapshot" in restore(tiny_guests, junk)
    assert "cannot open" in restore(tiny_guests, tmp_path / "missing")
