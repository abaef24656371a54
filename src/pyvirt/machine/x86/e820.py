"""The e820 memory map of the PC board, shared by every boot protocol."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from . import layout as L


class E820Type(IntEnum):
    RAM = 1
    RESERVED = 2
    ACPI = 3
    NVS = 4
    UNUSABLE = 5


@dataclass(frozen=True)
class E820Entry:
    addr: int
    size: int
    type: E820Type

    @property
    def end(self) -> int:
        return self.addr + self.size


def ram_layout(ram_size: int) -> list[tuple[int, int]]:
    """(guest address, size) of each RAM region: below the PCI hole, then above 4 GiB."""
    low = min(ram_size, L.LOWMEM_LIMIT)
    regions = [(0, low)]
    if ram_size > low:
        regions.append((L.HIGHMEM_START, ram_size - low))
    return regions


def build(
    ram_size: int, *, firmware_area: bool = True, reserved: Iterable[tuple[int, int]] = ()
) -> list[E820Entry]:
    """The memory map a BIOS would report for `ram_size` bytes of RAM.

    `reserved` adds (address, size) ranges outside RAM that the OS must leave
    alone, such as the PCI ECAM window.
    """
    regions = ram_layout(ram_size)
    low_end = regions[0][1]
    entries = [E820Entry(0, min(L.EBDA_START, low_end), E820Type.RAM)]
    if low_end > L.EBDA_START:
        entries.append(E820Entry(L.EBDA_START, L.VGA_START - L.EBDA_START, E820Type.RESERVED))
    if firmware_area:
        entries.append(
            E820Entry(L.ACPI_TABLES_ADDR, L.BIOS_END - L.ACPI_TABLES_ADDR, E820Type.RESERVED)
        )
    if low_end > L.HIMEM_START:
        entries.append(E820Entry(L.HIMEM_START, low_end - L.HIMEM_START, E820Type.RAM))
    entries.extend(E820Entry(addr, size, E820Type.RAM) for addr, size in regions[1:])
    for addr, size in reserved:
        if any(e.type == E820Type.RAM and addr < e.end and e.addr < addr + size for e in entries):
            raise ValueError(f"reserved range {addr:#x}+{size:#x} overlaps RAM")
        entries.append(E820Entry(addr, size, E820Type.RESERVED))
    return sorted(entries, key=lambda e: e.addr)


def pack_fw_cfg(entries: list[E820Entry]) -> bytes:
    """QEMU's "etc/e820" fw_cfg file: {u64 address, u64 length, u32 type} each."""
    return b"".join(struct.pack("<QQI", e.addr, e.size, e.type) for e in entries)
