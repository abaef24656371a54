"""Split virtqueues (virtio 1.x, section 2.7) with indirect descriptors and event index.

The guest is hostile: every address, length, index and chain is checked before
use, and buffers are handed to devices as memoryviews of guest RAM that have
already been bounds-checked. Anything malformed raises VirtQueueError, which
the device turns into NEEDS_RESET; nothing here touches memory outside RAM.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyvirt.hw.state import State, StateError, get, get_uint
from pyvirt.memory import GuestMemory, GuestMemoryError

VIRTQ_DESC_F_NEXT = 1
VIRTQ_DESC_F_WRITE = 2
VIRTQ_DESC_F_INDIRECT = 4
VIRTQ_USED_F_NO_NOTIFY = 1
VIRTQ_AVAIL_F_NO_INTERRUPT = 1

DESC_SIZE = 16
MAX_QUEUE_SIZE = 32768
MAX_CHAIN_BYTES = 1 << 32  # a chain longer than 4 GiB is not a real request

_DESC = struct.Struct("<QIHH")
_U16 = struct.Struct("<H")
_USED_ELEM = struct.Struct("<II")


class VirtQueueError(Exception):
    """The driver broke the virtqueue rules; the message says how."""


@dataclass
class DescriptorChain:
    """One available request: its head index and its checked buffers, in order."""

    head: int
    readable: list[memoryview] = field(default_factory=list)  # device reads (driver wrote)
    writable: list[memoryview] = field(default_factory=list)  # device writes

    @property
    def readable_len(self) -> int:
        return sum(len(b) for b in self.readable)

    @property
    def writable_len(self) -> int:
        return sum(len(b) for b in self.writable)

    def read_all(self) -> bytes:
        return b"".join(bytes(b) for b in self.readable)

    def write(self, data: bytes | memoryview, offset: int = 0) -> int:
        """Copy `data` into the writable buffers from byte `offset`; returns bytes copied."""
        view = memoryview(data)
        done = 0
        for buf in self.writable:
            if offset >= len(buf):
                offset -= len(buf)
                continue
            n = min(len(buf) - offset, len(view) - done)
            buf[offset : offset + n] = view[done : done + n]
            done += n
            offset = 0
            if done == len(view):
                break
        return done

    def release(self) -> None:
        """Drop the views so the guest memory mapping can be closed."""
        for buf in self.readable + self.writable:
            buf.release()
        self.readable.clear()
        self.writable.clear()


def split_views(views: list[memoryview], at: int) -> tuple[list[memoryview], list[memoryview]]:
    """Cut a list of buffers into the first `at` bytes and the rest."""
    head: list[memoryview] = []
    tail: list[memoryview] = []
    for view in views:
        if at >= len(view):
            head.append(view)
            at -= len(view)
        elif at > 0:
            head.append(view[:at])
            tail.append(view[at:])
            at = 0
        else:
            tail.append(view)
    return head, tail


class VirtQueue:
    """The device side of one split virtqueue."""

    def __init__(self, mem: GuestMemory, max_size: int) -> None:
        if not 0 < max_size <= MAX_QUEUE_SIZE or max_size & (max_size - 1):
            raise ValueError(f"queue size {max_size} is not a power of two up to 32768")
        self.mem = mem
        self.max_size = max_size
        self.event_idx = False
        self.reset()

    def reset(self) -> None:
        self.size = self.max_size
        self.desc_addr = 0
        self.avail_addr = 0
        self.used_addr = 0
        self.ready = False
        self.last_avail_idx = 0
        self.used_idx = 0
        self.signalled_used: int | None = None  # used_idx at the last interrupt we sent

    # --- snapshots ---------------------------------------------------------------

    def save_state(self) -> State:
        return {
            "size": self.size, "desc": self.desc_addr, "avail": self.avail_addr,
            "used": self.used_addr, "ready": self.ready, "last_avail_idx": self.last_avail_idx,
            "used_idx": self.used_idx, "signalled_used": self.signalled_used,
            "event_idx": self.event_idx,
        }  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        try:
            self.set_size(get(state, "size", int))
        except VirtQueueError as e:
            raise StateError(str(e)) from None
        self.desc_addr = get_uint(state, "desc", 64)
        self.avail_addr = get_uint(state, "avail", 64)
        self.used_addr = get_uint(state, "used", 64)
        self.last_avail_idx = get_uint(state, "last_avail_idx", 16)
        self.used_idx = get_uint(state, "used_idx", 16)
        signalled = state.get("signalled_used")
        self.signalled_used = None if signalled is None else get_uint(state, "signalled_used", 16)
        self.event_idx = get(state, "event_idx", bool)
        self.ready = False
        if get(state, "ready", bool):
            try:
                self.activate()  # the rings must still lie in this machine's RAM
            except VirtQueueError as e:
                raise StateError(str(e)) from None

    # --- setup ------------------------------------------------------------------

    def set_size(self, size: int) -> None:
        """The driver's queue size: a power of two up to the maximum (2.7, split rings:
        the 16-bit ring indices wrap cleanly only then)."""
        if not 0 < size <= self.max_size or size & (size - 1):
            raise VirtQueueError(f"queue size {size} is not a power of two in 1..{self.max_size}")
        self.size = size

    def check_layout(self) -> None:
        """The three rings must lie in RAM and be aligned (2.7: 16, 2 and 4 bytes)."""
        rings = (
            ("descriptor table", self.desc_addr, DESC_SIZE * self.size, 16),
            ("available ring", self.avail_addr, 6 + 2 * self.size, 2),
            ("used ring", self.used_addr, 6 + 8 * self.size, 4),
        )
        for name, addr, length, align in rings:
            if addr % align:
                raise VirtQueueError(f"{name} at {addr:#x} is not {align}-byte aligned")
            if not self.mem.contains(addr, length):
                raise VirtQueueError(f"{name} at {addr:#x}+{length:#x} is not in RAM")

    def activate(self) -> None:
        self.check_layout()
        self.ready = True

    # --- the available ring -------------------------------------------------------

    def _avail_idx(self) -> int:
        return _U16.unpack_from(self.mem.view(self.avail_addr + 2, 2))[0]

    def pending(self) -> int:
        """How many chains the driver has made available that we have not taken."""
        if not self.ready:
            return 0
        count = (self._avail_idx() - self.last_avail_idx) & 0xFFFF
        if count > self.size:
            raise VirtQueueError(
                f"available index moved {count} entries ahead of the queue size {self.size}"
            )
        return count

    def pop(self) -> DescriptorChain | None:
        """The next available chain, or None when the ring is empty."""
        if not self.pending():
            return None
        slot = self.last_avail_idx % self.size
        head = _U16.unpack_from(self.mem.view(self.avail_addr + 4 + 2 * slot, 2))[0]
        chain = self._walk(head)
        self.last_avail_idx = (self.last_avail_idx + 1) & 0xFFFF
        if self.event_idx:  # tell the driver how far we have read: avail_event
            self._write_u16(self.used_addr + 4 + 8 * self.size, self.last_avail_idx)
        return chain

    def __iter__(self) -> Iterator[DescriptorChain]:
        while (chain := self.pop()) is not None:
            yield chain

    def undo_pop(self) -> None:
        """Give back the last chain taken (e.g. no room for it yet)."""
        self.last_avail_idx = (self.last_avail_idx - 1) & 0xFFFF

    def _read_desc(self, table: int, count: int, index: int) -> tuple[int, int, int, int]:
        if index >= count:
            raise VirtQueueError(f"descriptor index {index} outside a table of {count}")
        return _DESC.unpack_from(self.mem.view(table + DESC_SIZE * index, DESC_SIZE))

    def _walk(self, head: int) -> DescriptorChain:
        chain = DescriptorChain(head)
        try:
            self._collect(chain, self.desc_addr, self.size, head, indirect_allowed=True)
        except GuestMemoryError as e:
            chain.release()
            raise VirtQueueError(f"descriptor chain {head}: {e}") from None
        except VirtQueueError as e:
            chain.release()
            raise VirtQueueError(f"descriptor chain {head}: {e}") from None
        return chain

    def _collect(
        self, chain: DescriptorChain, table: int, count: int, index: int, indirect_allowed: bool
    ) -> None:
        total = 0
        for _ in range(count):  # a chain longer than its table must be a loop
            addr, length, flags, nxt = self._read_desc(table, count, index)
            if flags & VIRTQ_DESC_F_INDIRECT:
                if not indirect_allowed:
                    raise VirtQueueError("nested indirect descriptor table")
                if flags & VIRTQ_DESC_F_NEXT:
                    raise VirtQueueError("indirect descriptor with the NEXT flag")
                if length == 0 or length % DESC_SIZE or length // DESC_SIZE > MAX_QUEUE_SIZE:
                    raise VirtQueueError(f"indirect table length {length} is invalid")
                if not self.mem.contains(addr, length):
                    raise VirtQueueError(f"indirect table at {addr:#x}+{length:#x} is not RAM")
                self._collect(chain, addr, length // DESC_SIZE, 0, indirect_allowed=False)
                return
            total += length
            if total > MAX_CHAIN_BYTES:
                raise VirtQueueError("chain longer than 4 GiB")
            view = self.mem.view(addr, length)
            if flags & VIRTQ_DESC_F_WRITE:
                chain.writable.append(view)
            elif chain.writable:
                view.release()
                raise VirtQueueError("device-readable buffer after a device-writable one")
            else:
                chain.readable.append(view)
            if not flags & VIRTQ_DESC_F_NEXT:
                return
            index = nxt
        raise VirtQueueError("descriptor chain loops")

    # --- the used ring ------------------------------------------------------------

    def _write_u16(self, addr: int, value: int) -> None:
        _U16.pack_into(self.mem.view(addr, 2), 0, value)

    def push(self, chain: DescriptorChain, written: int) -> None:
        """Return a chain to the driver, saying how many bytes the device wrote."""
        slot = self.used_idx % self.size
        elem = self.mem.view(self.used_addr + 4 + 8 * slot, 8)
        _USED_ELEM.pack_into(elem, 0, chain.head, min(written, chain.writable_len))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        # The element must be visible before the index: CPython's stores through
        # the mapping are in program order, and x86 does not reorder stores.
        self._write_u16(self.used_addr + 2, self.used_idx)
        chain.release()

    def should_notify(self) -> bool:
        """Whether the driver wants an interrupt for what was pushed since the last one."""
        old, new = self.signalled_used, self.used_idx
        if old == new:
            return False
        if self.event_idx:
            used_event = _U16.unpack_from(self.mem.view(self.avail_addr + 4 + 2 * self.size, 2))[0]
            # vring_need_event(): did new pass used_event since old?
            fire = old is None or ((new - used_event - 1) & 0xFFFF) < ((new - old) & 0xFFFF)
        else:
            flags = _U16.unpack_from(self.mem.view(self.avail_addr, 2))[0]
            fire = not flags & VIRTQ_AVAIL_F_NO_INTERRUPT
        self.signalled_used = new
        return fire

    def set_notifications(self, enabled: bool) -> None:
        """Ask the driver for kicks (or not) while the device is (not) busy."""
        if self.event_idx:
            if enabled:
                self._write_u16(self.used_addr + 4 + 8 * self.size, self.last_avail_idx)
            return
        self._write_u16(self.used_addr, 0 if enabled else VIRTQ_USED_F_NO_NOTIFY)
