"""Guest physical memory: regions, and bounds checks that keep guest addresses in RAM."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.memory import GuestMemory, GuestMemoryError

MiB = 1 << 20
LOW = (0, 2 * MiB)
HIGH = (4 * MiB, 1 * MiB)  # a hole between 2 MiB and 4 MiB


@pytest.fixture
def mem() -> GuestMemory:
    m = GuestMemory()
    m.add_ram(*HIGH)  # out of order on purpose
    m.add_ram(*LOW)
    yield m
    m.close()


def test_regions_are_sorted_and_counted(mem: GuestMemory) -> None:
    assert [(r.gpa, r.size) for r in mem.regions] == [LOW, HIGH]
    assert mem.total == 3 * MiB


def test_fresh_ram_is_zero(mem: GuestMemory) -> None:
    assert mem.read(0, 16) == bytes(16)
    assert mem.read(5 * MiB - 16, 16) == bytes(16)


def test_read_write_round_trip_in_both_regions(mem: GuestMemory) -> None:
    mem.write(0x1000, b"low")
    mem.write(4 * MiB + 7, b"high")
    assert mem.read(0x1000, 3) == b"low"
    assert mem.read(4 * MiB + 7, 4) == b"high"


def test_integer_helpers_are_little_endian(mem: GuestMemory) -> None:
    mem.write_u32(0x100, 0x11223344)
    mem.write_u64(0x108, 0x8877665544332211)
    assert mem.read(0x100, 4) == bytes.fromhex("44332211")
    assert mem.read(0x108, 8) == bytes.fromhex("1122334455667788")
    assert mem.read_u32(0x100) == 0x11223344
    assert mem.read_u64(0x108) == 0x8877665544332211


def test_fill(mem: GuestMemory) -> None:
    mem.fill(0x2000, 5, 0xCC)
    assert mem.read(0x1FFF, 7) == b"\0" + b"\xcc" * 5 + b"\0"


def test_last_bytes_of_a_region(mem: GuestMemory) -> None:
    mem.write(2 * MiB - 4, b"edge")
    assert mem.read(2 * MiB - 4, 4) == b"edge"
    mem.write_u64(5 * MiB - 8, 1)
    assert mem.read_u64(5 * MiB - 8) == 1


@pytest.mark.parametrize(
    ("gpa", "length"),
    [
        (2 * MiB - 4, 8),  # straddles the end of low RAM
        (2 * MiB, 1),  # in the hole
        (3 * MiB, 4),
        (4 * MiB - 2, 4),  # straddles the start of high RAM
        (5 * MiB - 1, 2),  # straddles the end of high RAM
        (5 * MiB, 1),  # beyond all RAM
        (1 << 52, 8),
        (-8, 8),
        (0, -1),
        (0, 1 << 64),
    ],
)
def test_ranges_outside_ram_raise(mem: GuestMemory, gpa: int, length: int) -> None:
    assert not mem.contains(gpa, length)
    with pytest.raises(GuestMemoryError, match="is not RAM"):
        mem.view(gpa, length)
    with pytest.raises(GuestMemoryError):
        mem.read(gpa, length)


def test_a_failed_write_changes_nothing(mem: GuestMemory) -> None:
    mem.write(2 * MiB - 4, b"keep")
    with pytest.raises(GuestMemoryError):
        mem.write(2 * MiB - 4, b"overflow")
    assert mem.read(2 * MiB - 4, 4) == b"keep"
    with pytest.raises(GuestMemoryError):
        mem.fill(5 * MiB - 4, 8, 0xFF)
    assert mem.read(5 * MiB - 4, 4) == bytes(4)
    with pytest.raises(GuestMemoryError):
        mem.write_u64(5 * MiB - 4, 2**64 - 1)
    assert mem.read(5 * MiB - 4, 4) == bytes(4)


def test_a_range_across_two_adjacent_regions_is_rejected() -> None:
    m = GuestMemory()
    m.add_ram(0, MiB)
    m.add_ram(MiB, MiB)
    try:
        assert m.contains(MiB - 4, 4) and m.contains(MiB, 4)
        with pytest.raises(GuestMemoryError):
            m.view(MiB - 4, 8)  # each access must lie inside one mapping
    finally:
        m.close()


def test_contains(mem: GuestMemory) -> None:
    assert mem.contains(0, 2 * MiB)
    assert mem.contains(4 * MiB, MiB)
    assert mem.contains(2 * MiB - 1, 1)
    assert mem.contains(0, 0)
    assert not mem.contains(0, 2 * MiB + 1)


@pytest.mark.parametrize(("gpa", "size"), [(0, 100), (0x800, 0x1000), (0, 0), (0, -4096)])
def test_unaligned_or_empty_regions_are_rejected(gpa: int, size: int) -> None:
    with pytest.raises(ValueError, match="not page aligned"):
        GuestMemory().add_ram(gpa, size)


@pytest.mark.parametrize(("gpa", "size"), [(0, 4096), (MiB, MiB), (2 * MiB - 4096, 8192)])
def test_overlapping_regions_are_rejected(mem: GuestMemory, gpa: int, size: int) -> None:
    with pytest.raises(ValueError, match="overlaps"):
        mem.add_ram(gpa, size)


def test_host_address_is_where_the_guest_bytes_live(mem: GuestMemory) -> None:
    # KVM_SET_USER_MEMORY_REGION gets this address: it must be the mapping's first byte.
    region = mem.regions[1]
    mem.write(region.gpa + 0x123, b"\xab\xcd")
    assert ctypes.string_at(region.host_addr + 0x123, 2) == b"\xab\xcd"


def test_close_with_a_live_view_does_not_raise() -> None:
    m = GuestMemory()
    m.add_ram(0, 4096)
    view = m.view(0, 16)
    m.close()
    assert m.regions == []
    view.release()


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**40), 2**40), st.integers(-(2**24), 2**24))
def test_view_is_in_ram_or_raises(gpa: int, length: int) -> None:
    m = GuestMemory()
    m.add_ram(0, 8192)
    m.add_ram(16384, 4096)
    try:
        # the first byte is RAM and the range ends inside the same region
        regions = ((0, 8192), (16384, 20480))
        inside = length >= 0 and any(
            (start <= gpa < end and gpa + length <= end) or (length == 0 and gpa == end)
            for start, end in regions
        )
        if inside:
            assert len(m.view(gpa, length)) == length
        else:
            with pytest.raises(GuestMemoryError):
                m.view(gpa, length)
    finally:
        m.close()
