"""Address-decoded buses for port I/O and MMIO.

A device registers an address range and gets accesses as (offset, size) relative
to the start of its range. Accesses nobody claims read as all-ones and are
dropped on write, as on a real ISA/PCI bus; they are counted and logged at
debug level, never fatal.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class BusDevice(Protocol):
    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> None: ...


@dataclass(frozen=True)
class Mapping:
    base: int
    length: int
    device: BusDevice
    name: str

    @property
    def end(self) -> int:
        return self.base + self.length


def ones(size: int) -> int:
    return (1 << (8 * size)) - 1


@dataclass(frozen=True)
class _Decode:
    """One immutable snapshot of a bus's mappings, swapped whole on every change."""

    maps: tuple[Mapping, ...] = ()
    bases: tuple[int, ...] = ()
    cache: dict[int, Mapping | None] = field(default_factory=dict)  # address -> mapping


class Bus:
    """Routes reads and writes to the device that claims the address.

    Mappings can change while vCPU threads decode (a guest moves a PCI BAR):
    writers build a new snapshot under a lock and publish it with one
    assignment, so a lookup always sees a whole table, old or new.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._decode = _Decode()
        self._change_lock = threading.Lock()
        self.unclaimed: Counter[tuple[str, int]] = Counter()
        self._count_lock = threading.Lock()

    def register(self, base: int, length: int, device: BusDevice, name: str) -> None:
        if length <= 0:
            raise ValueError(f"{self.name}: {name} has an empty range")
        with self._change_lock:
            maps = self._decode.maps
            for m in maps:
                if base < m.end and m.base < base + length:
                    raise ValueError(
                        f"{self.name}: {name} at {base:#x}+{length:#x} overlaps {m.name} "
                        f"at {m.base:#x}"
                    )
            index = bisect.bisect([m.base for m in maps], base)
            self._publish((*maps[:index], Mapping(base, length, device, name), *maps[index:]))

    def unregister(self, device: BusDevice) -> None:
        with self._change_lock:
            self._publish(tuple(m for m in self._decode.maps if m.device is not device))

    def _publish(self, maps: tuple[Mapping, ...]) -> None:
        self._decode = _Decode(maps, tuple(m.base for m in maps))

    def find(self, addr: int) -> Mapping | None:
        decode = self._decode
        try:
            return decode.cache[addr]
        except KeyError:
            pass
        found = None
        index = bisect.bisect(decode.bases, addr) - 1
        if index >= 0 and addr < decode.maps[index].end:
            found = decode.maps[index]
        if len(decode.cache) < 4096:  # MMIO addresses are many; ports are few
            decode.cache[addr] = found
        return found

    def read(self, addr: int, size: int) -> int:
        m = self.find(addr)
        if m is None:
            self._unclaimed("read", addr, size)
            return ones(size)
        return m.device.read(addr - m.base, size) & ones(size)

    def write(self, addr: int, size: int, value: int) -> None:
        m = self.find(addr)
        if m is None:
            self._unclaimed("write", addr, size, value)
            return
        m.device.write(addr - m.base, size, value & ones(size))

    def _unclaimed(self, op: str, addr: int, size: int, value: int | None = None) -> None:
        with self._count_lock:
            self.unclaimed[(op, addr)] += 1
            first = self.unclaimed[(op, addr)] == 1
        if first or log.isEnabledFor(logging.DEBUG - 1):
            shown = "" if value is None else f" value={value:#x}"
            log.debug("%s: unclaimed %s at %#x size %d%s", self.name, op, addr, size, shown)

    def describe(self) -> list[str]:
        return [f"{m.base:#06x}-{m.end - 1:#06x} {m.name}" for m in self._decode.maps]


class Sink:
    """A device that accepts and discards everything (e.g. the POST port 0x80)."""

    def __init__(self, read_value: int = 0xFFFFFFFF) -> None:
        self.read_value = read_value

    def read(self, offset: int, size: int) -> int:
        return self.read_value

    def write(self, offset: int, size: int, value: int) -> None:
        pass


class PortWindow:
    """Presents a device that decodes absolute port numbers (io_read/io_write) to the bus."""

    def __init__(self, device: AbsolutePortDevice, base: int) -> None:
        self.device = device
        self.base = base

    def read(self, offset: int, size: int) -> int:
        return self.device.io_read(self.base + offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        self.device.io_write(self.base + offset, size, value)


class AbsolutePortDevice(Protocol):
    def io_read(self, port: int, size: int) -> int: ...

    def io_write(self, port: int, size: int, value: int) -> None: ...
