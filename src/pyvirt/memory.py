"""Guest physical memory: anonymous host mappings placed at guest physical addresses.

Every access from a device or loader goes through `view()`, which checks that the
whole range lies inside one RAM region: a guest-supplied address can never reach
outside guest RAM.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import mmap
import struct
from dataclasses import dataclass, field


class GuestMemoryError(ValueError):
    """A guest physical range that is not (entirely) RAM."""


@dataclass
class RamRegion:
    gpa: int
    size: int
    mapping: mmap.mmap = field(repr=False)

    @property
    def end(self) -> int:
        return self.gpa + self.size

    @property
    def host_addr(self) -> int:
        return host_address(self.mapping)


def host_address(mapping: mmap.mmap) -> int:
    """Host virtual address of a mapping, for KVM_SET_USER_MEMORY_REGION."""
    return ctypes.addressof(ctypes.c_char.from_buffer(mapping))


class GuestMemory:
    """The guest's RAM regions, sorted by guest physical address."""

    def __init__(self) -> None:
        self.regions: list[RamRegion] = []
        self._starts: list[int] = []

    def add_ram(self, gpa: int, size: int) -> RamRegion:
        if size <= 0 or size % mmap.PAGESIZE or gpa % mmap.PAGESIZE:
            raise ValueError(f"RAM region {gpa:#x}+{size:#x} is not page aligned")
        for r in self.regions:
            if gpa < r.end and r.gpa < gpa + size:
                raise ValueError(f"RAM region {gpa:#x}+{size:#x} overlaps {r.gpa:#x}+{r.size:#x}")
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
        mapping = mmap.mmap(-1, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        region = RamRegion(gpa, size, mapping)
        index = bisect.bisect(self._starts, gpa)
        self.regions.insert(index, region)
        self._starts.insert(index, gpa)
        return region

    @property
    def total(self) -> int:
        return sum(r.size for r in self.regions)

    def region_at(self, gpa: int) -> RamRegion | None:
        index = bisect.bisect(self._starts, gpa) - 1
        if index >= 0 and gpa < self.regions[index].end:
            return self.regions[index]
        return None

    def contains(self, gpa: int, length: int) -> bool:
        region = self.region_at(gpa)
        return region is not None and length >= 0 and gpa + length <= region.end

    def view(self, gpa: int, length: int) -> memoryview:
        """A writable view of [gpa, gpa+length), which must be inside one RAM region."""
        region = self.region_at(gpa)
        if region is None and length == 0:
            region = self.region_at(gpa - 1)  # an empty range right at a region's end
        if region is None or length < 0 or gpa + length > region.end:
            raise GuestMemoryError(f"guest range {gpa:#x}+{length:#x} is not RAM")
        offset = gpa - region.gpa
        return memoryview(region.mapping)[offset : offset + length]

    def read(self, gpa: int, length: int) -> bytes:
        return bytes(self.view(gpa, length))

    def write(self, gpa: int, data: bytes | bytearray | memoryview) -> None:
        self.view(gpa, len(data))[:] = data

    def fill(self, gpa: int, length: int, byte: int = 0) -> None:
        self.view(gpa, length)[:] = bytes([byte]) * length

    def read_u32(self, gpa: int) -> int:
        return struct.unpack("<I", self.view(gpa, 4))[0]

    def write_u32(self, gpa: int, value: int) -> None:
        struct.pack_into("<I", self.view(gpa, 4), 0, value)

    def read_u64(self, gpa: int) -> int:
        return struct.unpack("<Q", self.view(gpa, 8))[0]

    def write_u64(self, gpa: int, value: int) -> None:
        struct.pack_into("<Q", self.view(gpa, 8), 0, value)

    def close(self) -> None:
        for region in self.regions:
            with contextlib.suppress(BufferError):  # a live view keeps the mapping
                region.mapping.close()
        self.regions.clear()
        self._starts.clear()
