"""Base Address Registers: their encoding, sizing mask, and where a value makes them decode.

A BAR of size S (a power of two) has its low log2(S) address bits hard-wired
to zero, so writing all-ones and reading back tells software the size; the
bits below 4 (memory) or 2 (I/O) are read-only flags. A 64-bit memory BAR
takes two registers, the high half in the second.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyvirt.hw.bus import BusDevice

from . import registers as R

IO_SPACE_END = 0x10000
MIN_MEM_SIZE = 16
MIN_IO_SIZE = 4
MAX_IO_SIZE = 256  # PCI 3.0 6.2.5.1: an I/O BAR claims at most 256 bytes


class BarKind(enum.Enum):
    IO = "io"
    MEM32 = "mem32"
    MEM64 = "mem64"


@dataclass(eq=False)
class Bar:
    """One BAR and the region behind it; also the object mapped on the bus for it.

    `region` gets (offset, size) accesses relative to the BAR's start.
    """

    index: int
    kind: BarKind
    size: int
    region: BusDevice
    prefetchable: bool = False
    name: str = ""
    address: int | None = None  # where it decodes now, None when it does not

    def __post_init__(self) -> None:
        if not 0 <= self.index < R.BAR_COUNT or (self.is_64 and self.index == R.BAR_COUNT - 1):
            raise ValueError(f"BAR index {self.index} cannot hold a {self.kind.value} BAR")
        low, high = (MIN_IO_SIZE, MAX_IO_SIZE) if self.is_io else (MIN_MEM_SIZE, 1 << 63)
        if self.is_io and self.prefetchable:
            raise ValueError("an I/O BAR cannot be prefetchable")
        if self.kind is BarKind.MEM32:
            high = 1 << 31
        if not low <= self.size <= high or self.size & (self.size - 1):
            raise ValueError(f"{self.kind.value} BAR size {self.size:#x} is not a power of two "
                             f"in {low:#x}..{high:#x}")  # fmt: skip

    @property
    def is_io(self) -> bool:
        return self.kind is BarKind.IO

    @property
    def is_64(self) -> bool:
        return self.kind is BarKind.MEM64

    @property
    def registers(self) -> int:
        """How many 32-bit BAR registers it takes."""
        return 2 if self.is_64 else 1

    @property
    def flags(self) -> int:
        """The read-only low bits of the register."""
        if self.is_io:
            return R.BAR_SPACE_IO
        return (R.BAR_MEM_TYPE_64 if self.is_64 else 0) | (
            R.BAR_MEM_PREFETCH if self.prefetchable else 0
        )

    @property
    def writable_mask(self) -> int:
        """Writable bits of the (32- or 64-bit) register value: the address bits above the size."""
        flag_bits = R.BAR_IO_FLAGS if self.is_io else R.BAR_MEM_FLAGS
        width = 64 if self.is_64 else 32
        return ((1 << width) - 1) & ~(self.size - 1) & ~flag_bits

    def decoded_address(self, value: int) -> int | None:
        """Where the BAR decodes with register value `value`, or None for nowhere.

        Address 0 and ranges that reach the top of their address space (where a
        sizing probe's all-ones leaves them) do not decode, as in QEMU.
        """
        address = value & self.writable_mask
        limit = IO_SPACE_END if self.is_io else 1 << (64 if self.is_64 else 32)
        if address == 0 or address + self.size >= limit:
            return None
        return address

    # The bus sees the BAR itself, so every BAR is a distinct mapping owner.
    def read(self, offset: int, size: int) -> int:
        return self.region.read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        self.region.write(offset, size, value)
