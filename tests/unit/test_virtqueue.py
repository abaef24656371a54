"""The split virtqueue: chains, indirect tables, event index, and hostile rings."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyvirt.hw.virtio.queue import (
    VIRTQ_AVAIL_F_NO_INTERRUPT,
    VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    VIRTQ_USED_F_NO_NOTIFY,
    VirtQueue,
    VirtQueueError,
    split_views,
)
from pyvirt.memory import GuestMemory
from tests.unit.virtio_driver import RAM_SIZE, Buf, Driver, new_memory


@pytest.fixture
def mem() -> Iterator[GuestMemory]:
    m = new_memory()
    yield m
    m.close()


def ready_queue(mem: GuestMemory, size: int = 16) -> tuple[VirtQueue, Driver]:
    q = VirtQueue(mem, size)
    driver = Driver(mem, q)
    q.activate()
    return q, driver


def test_a_chain_comes_out_as_checked_buffers(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    head, addrs = driver.add([Buf(b"header"), Buf(b"payload"), Buf(size=8), Buf(size=4)])
    chain = q.pop()
    assert chain is not None and chain.head == head
    assert chain.read_all() == b"headerpayload"
    assert chain.readable_len == 13 and chain.writable_len == 12
    assert chain.write(b"0123456789ab") == 12
    assert mem.read(addrs[2], 8) == b"01234567" and mem.read(addrs[3], 4) == b"89ab"
    q.push(chain, 12)
    assert driver.take_used() == [(head, 12)]
    assert q.pop() is None


def test_indirect_chain(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    head, _ = driver.add([Buf(b"in"), Buf(size=3)], indirect=True)
    chain = q.pop()
    assert chain is not None and chain.head == head
    assert chain.read_all() == b"in" and chain.writable_len == 3


def test_written_length_is_clamped_to_the_writable_space(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    head, _ = driver.add([Buf(size=4)])
    chain = q.pop()
    assert chain is not None
    q.push(chain, 1000)
    assert driver.take_used() == [(head, 4)]


def test_available_index_wraps(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem, size=4)
    q.last_avail_idx = q.used_idx = driver.avail_idx = driver.seen_used = 0xFFFE
    for _ in range(4):
        driver.add([Buf(size=1)])
        chain = q.pop()
        assert chain is not None
        q.push(chain, 1)
    assert len(driver.take_used()) == 4
    assert q.last_avail_idx == 2


def test_interrupt_suppression_without_event_idx(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    driver.add([Buf(size=1)])
    q.push(q.pop(), 1)  # type: ignore[arg-type]
    assert q.should_notify()
    assert not q.should_notify(), "nothing new since the last interrupt"
    driver.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT)
    driver.add([Buf(size=1)])
    q.push(q.pop(), 1)  # type: ignore[arg-type]
    assert not q.should_notify()


def test_event_idx(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    q.event_idx = True
    for _ in range(3):
        driver.add([Buf(size=1)])
    driver.set_used_event(2)  # interrupt me once used index passes 2
    for expected in (True, False, True):  # the first ever; 1 -> 2 crosses nothing; 2 -> 3 does
        chain = q.pop()
        assert chain is not None
        q.push(chain, 1)
        assert q.should_notify() is expected, q.used_idx
    avail_event = struct.unpack("<H", mem.read(driver.used + 4 + 8 * driver.size, 2))[0]
    assert avail_event == 3, "the device publishes how far it has read"


def test_notification_suppression_flags(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    q.set_notifications(False)
    assert struct.unpack("<H", mem.read(driver.used, 2))[0] == VIRTQ_USED_F_NO_NOTIFY
    q.set_notifications(True)
    assert struct.unpack("<H", mem.read(driver.used, 2))[0] == 0


def test_undo_pop(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    head, _ = driver.add([Buf(size=1)])
    chain = q.pop()
    assert chain is not None
    chain.release()
    q.undo_pop()
    again = q.pop()
    assert again is not None and again.head == head


def test_split_views() -> None:
    data = [memoryview(bytearray(b"abc")), memoryview(bytearray(b"defg"))]
    head, tail = split_views(data, 5)
    assert b"".join(bytes(v) for v in head) == b"abcde"
    assert b"".join(bytes(v) for v in tail) == b"fg"


# --- hostile rings ----------------------------------------------------------------


def write_desc(mem: GuestMemory, table: int, index: int, addr: int, length: int, flags: int,
               nxt: int) -> None:  # fmt: skip
    mem.write(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))


@pytest.mark.parametrize(
    ("desc", "message"),
    [
        ((RAM_SIZE - 4, 8, 0, 0), "is not RAM"),
        ((1 << 40, 1, 0, 0), "is not RAM"),
        ((0x50000, 16, VIRTQ_DESC_F_NEXT, 99), "outside a table"),
        ((0x50000, 16, VIRTQ_DESC_F_NEXT, 0), "loops"),
        ((0x50000, 24, VIRTQ_DESC_F_INDIRECT, 0), "indirect table length"),
        ((0x50000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1), "NEXT"),
        ((RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0), "indirect table"),
    ],
)
def test_malformed_chains_are_refused(
    mem: GuestMemory, desc: tuple[int, int, int, int], message: str
) -> None:
    q, driver = ready_queue(mem)
    write_desc(mem, driver.desc, 0, *desc)
    driver.publish(0)
    with pytest.raises(VirtQueueError, match=message):
        q.pop()


def test_readable_after_writable_is_refused(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    write_desc(mem, driver.desc, 0, 0x50000, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1)
    write_desc(mem, driver.desc, 1, 0x50010, 4, 0, 0)
    driver.publish(0)
    with pytest.raises(VirtQueueError, match="readable buffer after"):
        q.pop()


def test_nested_indirect_is_refused(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem)
    write_desc(mem, 0x50000, 0, 0x50100, 16, VIRTQ_DESC_F_INDIRECT, 0)
    write_desc(mem, driver.desc, 0, 0x50000, 16, VIRTQ_DESC_F_INDIRECT, 0)
    driver.publish(0)
    with pytest.raises(VirtQueueError, match="nested"):
        q.pop()


def test_available_index_running_ahead_is_refused(mem: GuestMemory) -> None:
    q, driver = ready_queue(mem, size=4)
    mem.write(driver.avail + 2, struct.pack("<H", 9))
    with pytest.raises(VirtQueueError, match="ahead"):
        q.pop()


@pytest.mark.parametrize(
    ("ring", "addr"), [("desc_addr", RAM_SIZE - 8), ("avail_addr", 0x10001), ("used_addr", 1 << 40)]
)
def test_rings_outside_ram_or_misaligned_are_refused(
    mem: GuestMemory, ring: str, addr: int
) -> None:
    q = VirtQueue(mem, 16)
    Driver(mem, q)
    setattr(q, ring, addr)
    with pytest.raises(VirtQueueError):
        q.activate()
    assert not q.ready


_u16 = st.integers(0, 0xFFFF)
_desc = st.tuples(
    st.one_of(st.integers(0, RAM_SIZE + 64), st.integers(0, (1 << 64) - 1)),
    st.one_of(st.integers(0, 256), st.integers(0, (1 << 32) - 1)),
    st.integers(0, 7),
    st.integers(0, 40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    descs=st.lists(_desc, min_size=1, max_size=16),
    indirect=st.lists(_desc, max_size=8),
    heads=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    avail_idx=_u16,
    size=st.sampled_from([1, 2, 8, 16]),
)
def test_fuzzed_rings_never_escape(
    descs: list[tuple[int, int, int, int]],
    indirect: list[tuple[int, int, int, int]],
    heads: list[int],
    avail_idx: int,
    size: int,
) -> None:
    """Whatever the guest writes, the queue yields checked chains or VirtQueueError."""
    mem = new_memory()
    try:
        q = VirtQueue(mem, 16)
        driver = Driver(mem, q, size=size)
        q.activate()
        for i, d in enumerate(descs[:size]):
            write_desc(mem, driver.desc, i, *d)
        for i, d in enumerate(indirect):
            write_desc(mem, 0x50000, i, *d)
        for slot, head in enumerate(heads[:size]):
            mem.write(driver.avail + 4 + 2 * slot, struct.pack("<H", head))
        mem.write(driver.avail + 2, struct.pack("<H", avail_idx))
        for _ in range(size + 1):
            try:
                chain = q.pop()
            except VirtQueueError:
                break
            if chain is None:
                break
            for view in chain.readable + chain.writable:
                assert view.obj is not None  # every buffer is a view into guest RAM
            chain.write(b"\xaa" * 64)
            q.push(chain, 64)
    finally:
        mem.close()
