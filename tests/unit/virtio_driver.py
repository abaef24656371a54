"""A minimal virtio driver for tests: lays out a split virtqueue in fake guest RAM,
makes chains available, and reads the used ring, as the guest's driver would."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pyvirt.hw.virtio.queue import (
    VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    VirtQueue,
)
from pyvirt.memory import GuestMemory

RAM_SIZE = 1 << 20
RING_BASE = 0x10000  # desc table, avail ring, used ring
BUFFERS = 0x40000  # data buffers are allocated upwards from here


@dataclass
class Buf:
    """One buffer of a chain: `data` for the device to read, or `size` bytes for it to write."""

    data: bytes = b""
    size: int = 0

    @property
    def writable(self) -> bool:
        return not self.data and self.size > 0


class Driver:
    """Drives one VirtQueue (or a device's queue) laid out at RING_BASE."""

    def __init__(self, mem: GuestMemory, queue: VirtQueue, size: int | None = None) -> None:
        self.mem = mem
        self.queue = queue
        self.size = size or queue.max_size
        self.desc = RING_BASE
        self.avail = self.desc + 16 * self.size
        self.used = (self.avail + 6 + 2 * self.size + 3) & ~3
        self.next_free_desc = 0
        self.next_buffer = BUFFERS
        self.avail_idx = 0
        self.seen_used = 0
        queue.set_size(self.size)
        queue.desc_addr, queue.avail_addr, queue.used_addr = self.desc, self.avail, self.used

    def alloc(self, size: int) -> int:
        addr = self.next_buffer
        self.next_buffer = (addr + size + 15) & ~15
        return addr

    def write_desc(
        self, table: int, index: int, addr: int, length: int, flags: int, nxt: int
    ) -> None:
        self.mem.write(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def add(self, bufs: list[Buf], indirect: bool = False) -> tuple[int, list[int]]:
        """Make a chain available; returns its head and the guest address of each buffer."""
        addrs = []
        entries = []
        for buf in bufs:
            length = len(buf.data) or buf.size
            addr = self.alloc(length)
            if buf.data:
                self.mem.write(addr, buf.data)
            addrs.append(addr)
            entries.append((addr, length, VIRTQ_DESC_F_WRITE if buf.writable else 0))
        if indirect:
            table = self.alloc(16 * len(entries))
            for i, (addr, length, flags) in enumerate(entries):
                more = VIRTQ_DESC_F_NEXT if i + 1 < len(entries) else 0
                self.write_desc(table, i, addr, length, flags | more, i + 1)
            head = self._take_descs(1)[0]
            self.write_desc(self.desc, head, table, 16 * len(entries), VIRTQ_DESC_F_INDIRECT, 0)
        else:
            ids = self._take_descs(len(entries))
            head = ids[0]
            for i, (addr, length, flags) in enumerate(entries):
                more = VIRTQ_DESC_F_NEXT if i + 1 < len(entries) else 0
                nxt = ids[i + 1] if more else 0
                self.write_desc(self.desc, ids[i], addr, length, flags | more, nxt)
        self.publish(head)
        return head, addrs

    def _take_descs(self, count: int) -> list[int]:
        ids = [(self.next_free_desc + i) % self.size for i in range(count)]
        self.next_free_desc = (self.next_free_desc + count) % self.size
        return ids

    def publish(self, head: int) -> None:
        slot = self.avail_idx % self.size
        self.mem.write(self.avail + 4 + 2 * slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.mem.write(self.avail + 2, struct.pack("<H", self.avail_idx))

    def set_used_event(self, value: int) -> None:
        self.mem.write(self.avail + 4 + 2 * self.size, struct.pack("<H", value))

    def set_avail_flags(self, flags: int) -> None:
        self.mem.write(self.avail, struct.pack("<H", flags))

    def used_idx(self) -> int:
        return struct.unpack("<H", self.mem.read(self.used + 2, 2))[0]

    def take_used(self) -> list[tuple[int, int]]:
        """(head, written length) of every chain the device returned since the last call."""
        out = []
        while self.seen_used != self.used_idx():
            slot = self.seen_used % self.size
            out.append(struct.unpack("<II", self.mem.read(self.used + 4 + 8 * slot, 8)))
            self.seen_used = (self.seen_used + 1) & 0xFFFF
        return out


def new_memory() -> GuestMemory:
    mem = GuestMemory()
    mem.add_ram(0, RAM_SIZE)
    return mem
