"""The MP table checked at the offsets of the MultiProcessor Specification 1.4, chapter 4."""

from __future__ import annotations

import pytest

from pyvirt.machine.x86.mptable import MPTABLE_ADDR, build_mptable

ENTRY_SIZES = {0: 20, 1: 8, 2: 8, 3: 8, 4: 8}


def u16(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 2], "little")


def u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little")


def parse(blob: bytes, base: int) -> tuple[bytes, bytes, list[bytes]]:
    floating = blob[:16]
    config_off = u32(floating, 4) - base
    config = blob[config_off : config_off + u16(blob, config_off + 4)]
    entries, off = [], 44
    for _ in range(u16(config, 34)):
        size = ENTRY_SIZES[config[off]]
        entries.append(config[off : off + size])
        off += size
    assert off == len(config)
    return floating, config, entries


def linux_style_scan(blob: bytes) -> list[int]:
    """Offsets where Linux's smp_scan_config would accept a floating pointer."""
    return [
        off
        for off in range(0, len(blob) - 15, 16)
        if blob[off : off + 4] == b"_MP_"
        and blob[off + 8] == 1
        and sum(blob[off : off + 16]) % 256 == 0
    ]


@pytest.mark.parametrize("num_cpus", [1, 4])
def test_floating_pointer_and_header(num_cpus: int) -> None:
    blob = build_mptable(num_cpus, MPTABLE_ADDR)
    assert linux_style_scan(blob) == [0]
    floating, config, entries = parse(blob, MPTABLE_ADDR)
    assert floating[0:4] == b"_MP_"
    assert u32(floating, 4) == MPTABLE_ADDR + 16  # physical address of the config table
    assert floating[8] == 1  # length in 16-byte units
    assert floating[9] == 4  # spec revision 1.4
    assert sum(floating) % 256 == 0
    assert floating[11] == 0  # feature byte 1: a config table is present
    assert floating[12] & 0x80 == 0  # IMCRP clear: virtual wire mode
    assert config[0:4] == b"PCMP"
    assert config[6] == 4  # spec revision
    assert sum(config) % 256 == 0
    assert config[8:14] == b"PYVIRT"
    assert u16(config, 34) == len(entries)
    assert u32(config, 36) == 0xFEE00000  # local APIC address
    assert u16(config, 40) == 0  # no extended table
    types = [e[0] for e in entries]
    assert types == sorted(types)  # entries must be grouped by type, ascending


@pytest.mark.parametrize("num_cpus", [1, 4])
def test_processors(num_cpus: int) -> None:
    _, _, entries = parse(build_mptable(num_cpus), MPTABLE_ADDR)
    cpus = [e for e in entries if e[0] == 0]
    assert [e[1] for e in cpus] == list(range(num_cpus))  # local APIC IDs
    assert all(e[3] & 1 for e in cpus)  # CPU flags: enabled
    assert [bool(e[3] & 2) for e in cpus] == [True] + [False] * (num_cpus - 1)  # BSP is CPU 0
    assert all(e[2] >= 0x10 for e in cpus)  # an integrated APIC's version


def test_bus_ioapic_and_interrupts() -> None:
    _, _, entries = parse(build_mptable(4), MPTABLE_ADDR)
    (bus,) = [e for e in entries if e[0] == 1]
    assert bus[2:8] == b"ISA   "
    bus_id = bus[1]
    (ioapic,) = [e for e in entries if e[0] == 2]
    assert ioapic[3] & 1  # enabled
    assert u32(ioapic, 4) == 0xFEC00000
    ioapic_id = ioapic[1]

    io_ints = [e for e in entries if e[0] == 3]
    assert all(e[1] == 0 and e[4] == bus_id and e[6] == ioapic_id for e in io_ints)  # INT, ISA
    routes = {e[5]: e[7] for e in io_ints}  # source bus IRQ -> IOAPIC INTIN#
    assert routes == {0: 2} | {irq: irq for irq in range(16) if irq not in (0, 2)}
    assert len(io_ints) == 15

    local = {e[1]: e for e in entries if e[0] == 4}  # interrupt type -> entry
    assert sorted(local) == [1, 3]
    assert local[3][6:8] == bytes([0xFF, 0])  # ExtINT -> every local APIC's LINT0
    assert local[1][6:8] == bytes([0xFF, 1])  # NMI -> LINT1


def test_base_only_moves_the_pointer() -> None:
    a = build_mptable(2, 0xF0000)
    b = build_mptable(2, 0x9FC00)
    assert u32(b, 4) == 0x9FC00 + 16
    assert a[16:] == b[16:]


def test_bad_arguments() -> None:
    for bad in (0, 256):
        with pytest.raises(ValueError):
            build_mptable(bad)
    with pytest.raises(ValueError):
        build_mptable(1, 0xF0008)
