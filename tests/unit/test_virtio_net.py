"""virtio-net against a fake guest memory: this test plays the driver, laying out the rings
in RAM, and a recording backend plays the host side (through the real flow-control base)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyvirt.hw.virtio.device import (
    ACKNOWLEDGE,
    DRIVER,
    DRIVER_OK,
    F_EVENT_IDX,
    F_INDIRECT_DESC,
    F_VERSION_1,
    FEATURES_OK,
    NEEDS_RESET,
)
from pyvirt.hw.virtio.net import F_MAC, F_MRG_RXBUF, F_STATUS, HDR, RX, TX, VirtioNet
from pyvirt.hw.virtio.queue import VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE
from pyvirt.memory import GuestMemory
from pyvirt.net.backend import RX_QUEUE_FRAMES, Buffer, NetBackend

RAM = 1 << 20
QSIZE = 16
RING_BASE = {RX: 0x1000, TX: 0x3000}
DATA = 0x10000  # buffers are allocated from here up
MAC = bytes.fromhex("525400abcdef")


class RecordingBackend(NetBackend):
    def __init__(self) -> None:
        super().__init__("n0")
        self.sent: list[bytes] = []
        self.accept = True

    def send(self, parts: Sequence[Buffer]) -> bool:
        self.sent.append(b"".join(bytes(p) for p in parts))
        return self.accept


class Transport:
    def __init__(self) -> None:
        self.queue_irqs: list[int] = []
        self.config_irqs = 0

    def notify_queue(self, index: int) -> None:
        self.queue_irqs.append(index)

    def notify_config(self) -> None:
        self.config_irqs += 1


class Driver:
    """The guest's side of two split virtqueues in a fake guest RAM."""

    def __init__(
        self,
        features: int = F_VERSION_1 | F_MAC | F_STATUS | F_MRG_RXBUF,
        backend: NetBackend | None = None,
    ) -> None:
        self.mem = GuestMemory()
        self.mem.add_ram(0, RAM)
        self.backend = backend or RecordingBackend()
        self.dev = VirtioNet(self.mem, self.backend, MAC, queue_size=QSIZE)
        self.transport = Transport()
        self.dev.transport = self.transport
        self.next_desc = {RX: 0, TX: 0}
        self.avail_idx = {RX: 0, TX: 0}
        self.used_seen = {RX: 0, TX: 0}
        self.next_buf = DATA
        self.dev.set_status(ACKNOWLEDGE | DRIVER)
        self.dev.set_driver_features(features)
        self.dev.set_status(ACKNOWLEDGE | DRIVER | FEATURES_OK)
        for index, base in RING_BASE.items():
            q = self.dev.queues[index]
            q.desc_addr, q.avail_addr, q.used_addr = base, base + 0x400, base + 0x800
            self.dev.enable_queue(index)
        self.dev.set_status(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)

    def alloc(self, size: int) -> int:
        addr = self.next_buf
        self.next_buf += (size + 15) & ~15
        assert self.next_buf < RAM
        return addr

    def add_chain(self, index: int, bufs: list[tuple[int, int, bool]]) -> int:
        """Make a chain of (addr, len, device-writable) available; returns its head."""
        base = RING_BASE[index]
        ids = [(self.next_desc[index] + i) % QSIZE for i in range(len(bufs))]
        self.next_desc[index] = (self.next_desc[index] + len(bufs)) % QSIZE
        for i, (addr, length, writable) in enumerate(bufs):
            flags = (VIRTQ_DESC_F_WRITE if writable else 0) | (
                VIRTQ_DESC_F_NEXT if i + 1 < len(bufs) else 0)  # fmt: skip
            nxt = ids[i + 1] if i + 1 < len(bufs) else 0
            self.mem.write(base + 16 * ids[i], struct.pack("<QIHH", addr, length, flags, nxt))
        slot = self.avail_idx[index] % QSIZE
        self.mem.write(base + 0x400 + 4 + 2 * slot, struct.pack("<H", ids[0]))
        self.avail_idx[index] = (self.avail_idx[index] + 1) & 0xFFFF
        self.mem.write(base + 0x400 + 2, struct.pack("<H", self.avail_idx[index]))
        return ids[0]

    def add_rx(self, *sizes: int) -> list[int]:
        """One receive chain per size, each a single writable buffer; returns the addresses."""
        addrs = [self.alloc(size) for size in sizes]
        for addr, size in zip(addrs, sizes, strict=True):
            self.add_chain(RX, [(addr, size, True)])
        return addrs

    def add_tx(self, frame: bytes, split: int | None = None) -> None:
        """Header and frame, in one buffer or split into two at byte `split` of the frame."""
        data = HDR.pack(0, 0, 0, 0, 0, 0, 0) + frame
        cut = len(data) if split is None else 12 + split
        bufs = []
        for piece in (data[:cut], data[cut:]):
            if piece:
                addr = self.alloc(len(piece))
                self.mem.write(addr, piece)
                bufs.append((addr, len(piece), False))
        self.add_chain(TX, bufs)

    def used(self, index: int) -> list[tuple[int, int]]:
        """Used elements (head, len) returned since the last call."""
        base = RING_BASE[index] + 0x800
        idx = struct.unpack("<H", self.mem.read(base + 2, 2))[0]
        out = []
        while self.used_seen[index] != idx:
            slot = self.used_seen[index] % QSIZE
            out.append(struct.unpack("<II", self.mem.read(base + 4 + 8 * slot, 8)))
            self.used_seen[index] = (self.used_seen[index] + 1) & 0xFFFF
        return out


def frame_of(size: int, seed: int = 0) -> bytes:
    return bytes((seed + i) & 0xFF for i in range(size))


def test_features_and_config() -> None:
    d = Driver()
    for bit in (F_MAC, F_STATUS, F_MRG_RXBUF, F_VERSION_1, F_EVENT_IDX, F_INDIRECT_DESC):
        assert d.dev.device_features & bit
    assert d.dev.device_id == 1
    assert bytes(d.dev.config[:6]) == MAC
    assert d.dev.config_read(6, 2) == 1  # VIRTIO_NET_S_LINK_UP
    d.dev.set_link(False)
    assert d.dev.config_read(6, 2) == 0 and d.transport.config_irqs == 1


def test_rx_single_buffer() -> None:
    d = Driver(F_VERSION_1 | F_MAC)
    (addr,) = d.add_rx(2048)
    frame = frame_of(1514)
    d.backend.deliver(frame)
    assert d.used(RX) == [(0, 12 + 1514)]
    assert HDR.unpack(d.mem.read(addr, 12))[-1] == 1  # num_buffers
    assert d.mem.read(addr + 12, 1514) == frame
    assert d.transport.queue_irqs == [RX]


def test_rx_mergeable_buffers() -> None:
    d = Driver()
    addrs = d.add_rx(100, 100, 100, 100)
    frame = frame_of(250, seed=7)
    d.backend.deliver(frame)
    used = d.used(RX)
    assert [length for _, length in used] == [100, 100, 62]
    assert HDR.unpack(d.mem.read(addrs[0], 12))[-1] == 3
    got = d.mem.read(addrs[0] + 12, 88) + d.mem.read(addrs[1], 100) + d.mem.read(addrs[2], 62)
    assert got == frame
    d.backend.deliver(frame_of(20))  # the fourth buffer is still there
    assert [length for _, length in d.used(RX)] == [32]


def test_rx_waits_for_buffers_and_resumes_on_kick() -> None:
    d = Driver()
    frames = [frame_of(60, seed=i) for i in range(3)]
    for frame in frames:
        d.backend.deliver(frame)
    assert d.backend.paused and list(d.backend.rx_queue) == frames
    assert d.used(RX) == []
    addrs = d.add_rx(1526, 1526)
    d.dev.kick(RX)  # two buffers: two frames go in, the third waits again
    assert len(d.used(RX)) == 2 and d.backend.paused
    assert [d.mem.read(a + 12, 60) for a in addrs] == frames[:2]
    (addr,) = d.add_rx(1526)
    d.dev.kick(RX)
    assert len(d.used(RX)) == 1 and not d.backend.paused and not d.backend.rx_queue
    assert d.mem.read(addr + 12, 60) == frames[2]


def test_rx_mergeable_not_enough_buffers_gives_them_back() -> None:
    d = Driver()
    first = d.add_rx(64, 64)
    frame = frame_of(200, seed=3)
    d.backend.deliver(frame)  # 128 bytes of buffers for 212: wait, take nothing
    assert d.used(RX) == [] and d.backend.paused
    assert d.dev.queues[RX].last_avail_idx == 0
    d.add_rx(64, 64)
    d.dev.kick(RX)
    assert [length for _, length in d.used(RX)] == [64, 64, 64, 20]
    assert d.mem.read(first[0] + 12, 52) == frame[:52]  # the first buffers are used first


def test_rx_frame_larger_than_a_non_mergeable_buffer_is_dropped() -> None:
    d = Driver(F_VERSION_1)
    (addr,) = d.add_rx(100)
    d.backend.deliver(frame_of(200))
    assert d.used(RX) == [] and d.dev.stats.rx_drop == 1 and not d.backend.paused
    d.backend.deliver(frame_of(50, seed=9))  # the buffer is still the guest's
    assert d.used(RX) == [(0, 62)] and d.mem.read(addr + 12, 50) == frame_of(50, seed=9)


def test_rx_before_driver_ok_waits() -> None:
    mem = GuestMemory()
    mem.add_ram(0, RAM)
    backend = RecordingBackend()
    VirtioNet(mem, backend, MAC)
    backend.deliver(frame_of(60))
    assert backend.paused and len(backend.rx_queue) == 1


def test_rx_queue_is_bounded_and_counts_drops() -> None:
    d = Driver()
    for i in range(RX_QUEUE_FRAMES + 5):
        d.backend.deliver(frame_of(60, seed=i))
    assert len(d.backend.rx_queue) == RX_QUEUE_FRAMES and d.backend.stats.rx_drop == 5


def test_tx_strips_the_header() -> None:
    d = Driver()
    frames = [frame_of(60, seed=1), frame_of(1514, seed=2), frame_of(300, seed=3)]
    d.add_tx(frames[0])
    d.add_tx(frames[1], split=14)
    d.add_tx(frames[2], split=0)  # header alone in the first descriptor
    d.dev.kick(TX)
    assert d.backend.sent == frames
    assert [length for _, length in d.used(TX)] == [0, 0, 0]
    assert d.transport.queue_irqs == [TX] and d.dev.stats.tx_packets == 3


def test_tx_runt_and_oversized_frames_are_dropped() -> None:
    d = Driver()
    d.add_tx(b"\x01" * 10)
    d.add_tx(frame_of(70000))
    d.dev.kick(TX)
    assert d.backend.sent == [] and d.dev.stats.tx_drop == 2 and len(d.used(TX)) == 2
    assert not d.dev.status & NEEDS_RESET


def test_tx_stops_while_the_backend_is_full() -> None:
    d = Driver()
    d.backend.accept = False
    for i in range(3):
        d.add_tx(frame_of(60, seed=i))
    d.dev.kick(TX)
    assert len(d.backend.sent) == 1 and d.dev.tx_blocked
    d.backend.accept = True
    d.dev.tx_ready()
    assert len(d.backend.sent) == 3 and not d.dev.tx_blocked


@pytest.mark.parametrize(
    ("queue", "bufs", "what"),
    [
        (RX, [(DATA, 100, False)], "read-only receive buffer"),
        (RX, [(DATA, 8, True)], "receive buffer shorter than the header"),
        (RX, [(RAM - 16, 64, True)], "receive buffer beyond RAM"),
        (TX, [(DATA, 8, False)], "transmit chain shorter than the header"),
        (TX, [(DATA, 60, False), (DATA + 64, 60, True)], "writable transmit buffer"),
        (TX, [(1 << 40, 60, False)], "transmit buffer outside RAM"),
    ],
)
def test_malformed_chains_need_reset(queue: int, bufs: list[tuple[int, int, bool]],
                                     what: str) -> None:  # fmt: skip
    d = Driver()
    d.add_chain(queue, bufs)
    if queue == RX:
        d.backend.deliver(frame_of(60))
    else:
        d.dev.kick(TX)
    assert d.dev.status & NEEDS_RESET, what
    assert d.dev.broken and d.transport.config_irqs == 1
    d.dev.kick(TX)  # a broken device ignores kicks
    d.dev.set_status(0)  # the driver resets it: usable again
    assert d.dev.broken is None and not d.dev.status & NEEDS_RESET


def test_looping_chain_needs_reset() -> None:
    d = Driver()
    base = RING_BASE[TX]
    d.mem.write(base, struct.pack("<QIHH", DATA, 100, VIRTQ_DESC_F_NEXT, 0))  # points at itself
    d.mem.write(base + 0x400 + 4, struct.pack("<H", 0))
    d.mem.write(base + 0x400 + 2, struct.pack("<H", 1))
    d.dev.kick(TX)
    assert d.dev.status & NEEDS_RESET and "loop" in (d.dev.broken or "")


def test_detach() -> None:
    d = Driver()
    d.dev.detach()
    assert d.backend.peer is None
    d.backend.deliver(frame_of(60))  # goes nowhere, nothing waits
    assert not d.backend.rx_queue


descriptor = st.tuples(
    st.sampled_from([0, DATA, RAM - 8, RAM + 4096, 1 << 63]),
    st.integers(0, 1 << 17),
    st.integers(0, 7),  # NEXT, WRITE, INDIRECT in any combination
    st.integers(0, QSIZE + 2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=st.lists(descriptor, min_size=QSIZE, max_size=QSIZE),
    heads=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=QSIZE),
    avail_idx=st.integers(0, 0xFFFF),
    mergeable=st.booleans(),
)
def test_hostile_rings_never_raise(table: list[tuple[int, int, int, int]], heads: list[int],
                                   avail_idx: int, mergeable: bool) -> None:  # fmt: skip
    features = F_VERSION_1 | F_MAC | (F_MRG_RXBUF if mergeable else 0)
    d = Driver(features)
    for index in (RX, TX):
        base = RING_BASE[index]
        for i, (addr, length, flags, nxt) in enumerate(table):
            d.mem.write(base + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))
        for slot, head in enumerate(heads):
            d.mem.write(base + 0x400 + 4 + 2 * slot, struct.pack("<H", head))
        d.mem.write(base + 0x400 + 2, struct.pack("<H", avail_idx))
    d.dev.kick(TX)
    for size in (60, 1514, 9000):
        d.backend.deliver(frame_of(size))
    d.dev.kick(RX)
    d.dev.kick(TX)  # whatever happened, the VMM is still standing and RAM was never left
