"""The PC's e820 memory map and RAM layout."""

from __future__ import annotations

import itertools
import struct

import pytest

from pyvirt.machine.x86.e820 import E820Entry, E820Type, build, pack_fw_cfg, ram_layout

MiB, GiB = 1 << 20, 1 << 30
RAM, RESERVED = E820Type.RAM, E820Type.RESERVED


def test_small_ram() -> None:
    assert build(128 * MiB) == [
        E820Entry(0, 0x9FC00, RAM),  # conventional memory up to the EBDA
        E820Entry(0x9FC00, 0x400, RESERVED),  # EBDA
        E820Entry(0xE0000, 0x20000, RESERVED),  # ACPI tables, MP table, BIOS area
        E820Entry(0x100000, 127 * MiB, RAM),
    ]
    assert ram_layout(128 * MiB) == [(0, 128 * MiB)]


def test_without_firmware_area() -> None:
    assert E820Entry(0xE0000, 0x20000, RESERVED) not in build(64 * MiB, firmware_area=False)


def test_exactly_the_low_memory_limit() -> None:
    entries = build(3 * GiB)
    assert entries[-1] == E820Entry(0x100000, 3 * GiB - MiB, RAM)
    assert ram_layout(3 * GiB) == [(0, 3 * GiB)]


@pytest.mark.parametrize("ram", [3 * GiB + 4096, 4 * GiB, 6 * GiB + 2 * MiB])
def test_ram_above_the_low_memory_limit_continues_at_4g(ram: int) -> None:
    high = ram - 3 * GiB
    assert ram_layout(ram) == [(0, 3 * GiB), (4 * GiB, high)]
    entries = build(ram)
    assert entries[-2:] == [E820Entry(MiB, 3 * GiB - MiB, RAM), E820Entry(4 * GiB, high, RAM)]
    # nothing between 3 GiB and 4 GiB (the PCI hole, IOAPIC, LAPIC) is RAM
    for e in entries:
        assert not (e.type == RAM and e.addr < 4 * GiB and e.end > 3 * GiB)


@pytest.mark.parametrize("ram", [2 * MiB, 128 * MiB, 3 * GiB, 5 * GiB])
def test_entries_are_sorted_disjoint_and_ram_is_inside_guest_ram(ram: int) -> None:
    entries = build(ram)
    for a, b in itertools.pairwise(entries):
        assert a.end <= b.addr
    regions = ram_layout(ram)
    for e in entries:
        if e.type == RAM:
            assert any(gpa <= e.addr and e.end <= gpa + size for gpa, size in regions)
    ram_bytes = sum(e.size for e in entries if e.type == RAM)
    assert ram_bytes == ram - (MiB - 0x9FC00)  # all of it but the hole below 1 MiB


def test_fw_cfg_file_format() -> None:
    # QEMU's etc/e820: packed little-endian {u64 address; u64 length; u32 type;}
    entries = [E820Entry(0, 0x9FC00, RAM), E820Entry(4 * GiB, GiB, RAM),
               E820Entry(0x9FC00, 0x400, RESERVED)]  # fmt: skip
    blob = pack_fw_cfg(entries)
    assert len(blob) == 20 * 3
    assert struct.unpack_from("<QQI", blob, 20) == (4 * GiB, GiB, 1)
    assert struct.unpack_from("<QQI", blob, 40) == (0x9FC00, 0x400, 2)


def test_reserved_ranges_go_in_address_order() -> None:
    ecam = (0xE0000000, 0x10000000)
    entries = build(6 * GiB, reserved=[ecam])
    assert E820Entry(*ecam, RESERVED) in entries
    assert entries == sorted(entries, key=lambda e: e.addr)
    assert entries[-1] == E820Entry(4 * GiB, 3 * GiB, RAM)


def test_a_reserved_range_over_ram_is_refused() -> None:
    with pytest.raises(ValueError, match="overlaps RAM"):
        build(4 * GiB, reserved=[(0xBFF00000, 0x200000)])
