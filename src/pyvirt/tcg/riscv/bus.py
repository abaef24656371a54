"""What a hart needs from the machine: its physical address space."""

from __future__ import annotations

from typing import Protocol


class AccessFault(Exception):
    """Raised by the bus for an unmapped physical address."""


class PhysBus(Protocol):
    """The machine's physical address space, as a hart sees it."""

    def ram_regions(self) -> list[tuple[int, memoryview]]:
        """(base, writable view) of every RAM-like region: RAM, boot ROM."""
        ...

    def mmio_read(self, addr: int, size: int) -> int:
        """Read 1/2/4/8 bytes of a device register; AccessFault if unmapped."""
        ...

    def mmio_write(self, addr: int, size: int, value: int) -> None:
        """Write 1/2/4/8 bytes of a device register; AccessFault if unmapped."""
        ...
