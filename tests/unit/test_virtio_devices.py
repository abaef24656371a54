"""virtio-blk, virtio-rng and virtio-console through the virtio-mmio transport,
driven register by register as a guest driver would, with fake guest RAM."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.block.raw import RawImage
from pyvirt.hw.virtio import device as vd
from pyvirt.hw.virtio import mmio as m
from pyvirt.hw.virtio.blk import (
    F_DISCARD,
    F_FLUSH,
    F_RO,
    S_IOERR,
    S_OK,
    S_UNSUPP,
    T_DISCARD,
    T_FLUSH,
    T_GET_ID,
    T_IN,
    T_OUT,
    T_WRITE_ZEROES,
    VirtioBlk,
)
from pyvirt.hw.virtio.console import VirtioConsole
from pyvirt.hw.virtio.rng import VirtioRng
from pyvirt.memory import GuestMemory
from tests.unit.virtio_driver import Buf, Driver, new_memory

BASE = 0xD0000000
Loop = asyncio.AbstractEventLoop
Pool = concurrent.futures.ThreadPoolExecutor
DISK = 1 << 20


class Irq:
    def __init__(self) -> None:
        self.level = False
        self.raised = 0

    def __call__(self, level: bool) -> None:
        self.raised += level and not self.level
        self.level = level


class Harness:
    """A virtio-mmio device, its IRQ line, an event loop and a driver for each queue."""

    def __init__(self, mem: GuestMemory, device: vd.VirtioDevice, loop: asyncio.AbstractEventLoop):
        self.mem, self.device, self.loop = mem, device, loop
        self.irq = Irq()
        self.mmio = m.VirtioMmio(device, BASE, self.irq, loop)
        self.drivers: list[Driver] = []

    def reg(self, offset: int) -> int:
        return self.mmio.read(offset, 4)

    def set(self, offset: int, value: int) -> None:
        self.mmio.write(offset, 4, value)

    def handshake(self, accept: int | None = None, queues: int | None = None) -> int:
        assert self.reg(m.MAGIC_VALUE) == m.MAGIC and self.reg(m.VERSION_REG) == 2
        self.set(m.STATUS, 0)
        self.set(m.STATUS, vd.ACKNOWLEDGE | vd.DRIVER)
        features = 0
        for sel in (0, 1):
            self.set(m.DEVICE_FEATURES_SEL, sel)
            features |= self.reg(m.DEVICE_FEATURES) << (32 * sel)
        wanted = features if accept is None else features & accept
        for sel in (0, 1):
            self.set(m.DRIVER_FEATURES_SEL, sel)
            self.set(m.DRIVER_FEATURES, (wanted >> (32 * sel)) & 0xFFFFFFFF)
        self.set(m.STATUS, vd.ACKNOWLEDGE | vd.DRIVER | vd.FEATURES_OK)
        assert self.reg(m.STATUS) & vd.FEATURES_OK
        for index in range(queues if queues is not None else len(self.device.queues)):
            self.drivers.append(self._setup_queue(index))
        self.set(m.STATUS, vd.ACKNOWLEDGE | vd.DRIVER | vd.FEATURES_OK | vd.DRIVER_OK)
        return features

    def _setup_queue(self, index: int) -> Driver:
        self.set(m.QUEUE_SEL, index)
        size = min(self.reg(m.QUEUE_NUM_MAX), 16)
        queue = self.device.queues[index]
        driver = Driver(self.mem, queue, size)
        driver.desc += 0x4000 * index  # each queue its own rings
        driver.avail += 0x4000 * index
        driver.used += 0x4000 * index
        queue.reset()  # program it through the registers, not behind the transport's back
        self.set(m.QUEUE_NUM, size)
        for low, high, addr in (
            (m.QUEUE_DESC_LOW, m.QUEUE_DESC_HIGH, driver.desc),
            (m.QUEUE_DRIVER_LOW, m.QUEUE_DRIVER_HIGH, driver.avail),
            (m.QUEUE_DEVICE_LOW, m.QUEUE_DEVICE_HIGH, driver.used),
        ):
            self.set(low, addr & 0xFFFFFFFF)
            self.set(high, addr >> 32)
        self.set(m.QUEUE_READY, 1)
        assert self.reg(m.QUEUE_READY) == 1
        return driver

    def kick_and_wait(self, index: int, expect: int = 1) -> list[tuple[int, int]]:
        self.set(m.QUEUE_NOTIFY, index)
        driver = self.drivers[index]
        got: list[tuple[int, int]] = []

        async def wait() -> None:
            for _ in range(400):
                got.extend(driver.take_used())
                if len(got) >= expect:
                    return
                await asyncio.sleep(0.005)

        self.loop.run_until_complete(wait())
        return got


@pytest.fixture
def mem() -> Iterator[GuestMemory]:
    memory = new_memory()
    yield memory
    memory.close()


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(2)
    yield pool
    pool.shutdown()


def disk_file(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * (DISK // 256))
    return path


def blk_harness(mem, loop, executor, path: Path, read_only: bool = False, **kw) -> Harness:
    image = RawImage(str(path), read_only=read_only, discard=True)
    dev = VirtioBlk(mem, image, loop=loop, executor=executor, serial="pyvirt-disk-1")
    h = Harness(mem, dev, loop)
    h.handshake()
    return h


def request(
    h: Harness, rtype: int, sector: int, payload: bytes = b"", read: int = 0
) -> tuple[int, bytes]:
    """Submit one request; returns (status, data read)."""
    bufs = [Buf(struct.pack("<IIQ", rtype, 0, sector))]
    if payload:
        bufs.append(Buf(payload))
    if read:
        bufs.append(Buf(size=read))
    bufs.append(Buf(size=1))
    _, addrs = h.drivers[0].add(bufs)
    used = h.kick_and_wait(0)
    assert len(used) == 1
    status = h.mem.read(addrs[-1], 1)[0]
    data = h.mem.read(addrs[-2], read) if read else b""
    return status, data


def test_blk_identity_and_config(mem, loop, executor, tmp_path) -> None:
    h = blk_harness(mem, loop, executor, disk_file(tmp_path))
    assert h.reg(m.DEVICE_ID) == vd.ID_BLOCK and h.reg(m.VENDOR_ID) == m.VENDOR
    capacity = h.mmio.read(m.CONFIG, 4) | h.mmio.read(m.CONFIG + 4, 4) << 32
    assert capacity == DISK // 512
    assert h.mmio.read(m.CONFIG + 20, 4) == 512  # blk_size
    assert h.device.driver_features & F_FLUSH and h.device.driver_features & vd.F_VERSION_1


def test_blk_read_write_flush_get_id(mem, loop, executor, tmp_path) -> None:
    path = disk_file(tmp_path)
    h = blk_harness(mem, loop, executor, path)
    status, data = request(h, T_IN, 2, read=1024)
    assert status == S_OK and data == (bytes(range(256)) * 4)
    pattern = b"pyvirt!\n" * 128
    assert request(h, T_OUT, 8, payload=pattern)[0] == S_OK
    assert request(h, T_FLUSH, 0)[0] == S_OK
    assert path.read_bytes()[8 * 512 : 9 * 512 + 512] == pattern
    status, ident = request(h, T_GET_ID, 0, read=20)
    assert status == S_OK and ident.rstrip(b"\0") == b"pyvirt-disk-1"
    assert h.irq.raised >= 1


def test_blk_errors(mem, loop, executor, tmp_path) -> None:
    h = blk_harness(mem, loop, executor, disk_file(tmp_path))
    assert request(h, T_IN, DISK // 512 - 1, read=1024)[0] == S_IOERR  # runs off the end
    assert request(h, T_IN, 0, read=100)[0] == S_IOERR  # not whole sectors
    assert request(h, 99, 0)[0] == S_UNSUPP
    assert h.device.broken is None, "bad requests get a status, not a reset"


def test_blk_read_only(mem, loop, executor, tmp_path) -> None:
    path = disk_file(tmp_path)
    before = path.read_bytes()
    h = blk_harness(mem, loop, executor, path, read_only=True)
    assert h.device.driver_features & F_RO
    assert request(h, T_OUT, 0, payload=b"x" * 512)[0] == S_IOERR
    assert path.read_bytes() == before


def test_blk_discard_and_write_zeroes(mem, loop, executor, tmp_path) -> None:
    path = disk_file(tmp_path)
    h = blk_harness(mem, loop, executor, path)
    assert h.device.driver_features & F_DISCARD
    segment = struct.pack("<QII", 0, 8, 0)
    assert request(h, T_WRITE_ZEROES, 0, payload=segment)[0] == S_OK
    assert path.read_bytes()[:4096] == bytes(4096)
    assert request(h, T_DISCARD, 0, payload=struct.pack("<QII", 8, 8, 0))[0] == S_OK
    bad = struct.pack("<QII", DISK // 512, 8, 0)
    assert request(h, T_DISCARD, 0, payload=bad)[0] == S_IOERR


def test_blk_statistics(mem, loop, executor, tmp_path) -> None:
    """What query-blockstats reports: completed requests by kind with their bytes,
    refused ones as invalid; GET_ID is not disk I/O."""
    h = blk_harness(mem, loop, executor, disk_file(tmp_path))
    request(h, T_IN, 2, read=1024)
    request(h, T_OUT, 8, payload=b"x" * 1536)
    request(h, T_FLUSH, 0)
    request(h, T_GET_ID, 0, read=20)
    request(h, T_WRITE_ZEROES, 0, payload=struct.pack("<QII", 16, 8, 0))
    request(h, T_DISCARD, 0, payload=struct.pack("<QII", 32, 4, 0))
    request(h, T_IN, DISK // 512 - 1, read=1024)  # beyond the end: refused
    stats = h.device.stats.to_qmp()
    assert (stats["rd_operations"], stats["rd_bytes"]) == (1, 1024)
    assert (stats["wr_operations"], stats["wr_bytes"]) == (2, 1536 + 4096)  # + write-zeroes
    assert (stats["unmap_operations"], stats["unmap_bytes"]) == (1, 2048)
    assert stats["flush_operations"] == 1 and stats["invalid_rd_operations"] == 1
    assert stats["wr_highest_offset"] == 24 * 512
    assert stats["rd_total_time_ns"] > 0 and stats["failed_rd_operations"] == 0


def test_blk_malformed_ring_needs_reset(mem, loop, executor, tmp_path) -> None:
    h = blk_harness(mem, loop, executor, disk_file(tmp_path))
    driver = h.drivers[0]
    mem.write(driver.desc, struct.pack("<QIHH", 1 << 40, 16, 0, 0))  # buffer outside RAM
    driver.publish(0)
    h.set(m.QUEUE_NOTIFY, 0)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert h.reg(m.STATUS) & vd.NEEDS_RESET
    assert h.reg(m.INTERRUPT_STATUS) & m.INT_CONFIG
    h.set(m.STATUS, 0)  # the driver resets and starts again
    assert h.reg(m.STATUS) == 0 and h.device.broken is None


def test_rng_fills_buffers(mem, loop) -> None:
    rng = VirtioRng(mem)
    h = Harness(mem, rng, loop)
    h.handshake()
    _, addrs = h.drivers[0].add([Buf(size=64)])
    (used,) = h.kick_and_wait(0)
    assert used[1] == 64
    assert mem.read(addrs[0], 64) != bytes(64)
    rng.close()


def test_rng_rate_limit(mem, loop) -> None:
    rng = VirtioRng(mem, max_bytes=100, period_ms=60_000)
    h = Harness(mem, rng, loop)
    h.handshake()
    h.drivers[0].add([Buf(size=64)])
    h.drivers[0].add([Buf(size=64)])
    h.drivers[0].add([Buf(size=64)])
    used = h.kick_and_wait(0, expect=3)
    assert sum(n for _, n in used) == 100, "no more than max-bytes per period"
    rng.close()


def test_console_both_ways(mem, loop) -> None:
    out: list[bytes] = []
    con = VirtioConsole(mem, out.append)
    h = Harness(mem, con, loop)
    con.receive(b"typed early")  # before the driver is ready: kept
    h.handshake()
    _, (rx_addr,) = h.drivers[0].add([Buf(size=32)])
    ((_, length),) = h.kick_and_wait(0)
    assert mem.read(rx_addr, length) == b"typed early"
    h.drivers[1].add([Buf(b"hello "), Buf(b"hvc0\n")])
    h.kick_and_wait(1)
    assert out == [b"hello hvc0\n"]


def test_mmio_rejects_bad_queue_setup(mem, loop) -> None:
    rng = VirtioRng(mem)
    h = Harness(mem, rng, loop)
    h.set(m.STATUS, vd.ACKNOWLEDGE | vd.DRIVER)
    h.set(m.QUEUE_SEL, 0)
    h.set(m.QUEUE_NUM, 8)
    h.set(m.QUEUE_DESC_LOW, 0xFFFFF000)  # not RAM
    h.set(m.QUEUE_READY, 1)
    assert h.reg(m.QUEUE_READY) == 0
    assert h.reg(m.STATUS) & vd.NEEDS_RESET
    h.set(m.QUEUE_SEL, 7)  # no such queue: reads as absent
    assert h.reg(m.QUEUE_NUM_MAX) == 0
    assert h.reg(m.MAGIC_VALUE) == m.MAGIC
    assert os.path.exists("/dev/urandom")
    rng.close()
