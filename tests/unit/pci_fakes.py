"""Test doubles for the PCI tests: a region that records accesses, an interrupt line, an
MSI router and ioeventfd registry standing in for KVM, and a bus wired to them."""

from __future__ import annotations

import os

from pyvirt.hw.bus import Bus
from pyvirt.hw.pci import PciBus, PciDevice, PciWindows, Window

IO = Window(0xC000, 0x10000)
MEM32 = Window(0xC0000000, 0xE0000000)
MEM64 = Window(1 << 32, 9 << 32)


class Region:
    """A BAR's device: remembers accesses, reads back `value`."""

    def __init__(self, value: int = 0x5A) -> None:
        self.value = value
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        self.reads.append((offset, size))
        return self.value

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes.append((offset, size, value))


class Lines:
    """Interrupt lines by GSI: the last level each was driven to."""

    def __init__(self) -> None:
        self.levels: dict[int, bool] = {}
        self.changes = 0

    def line(self, gsi: int):
        def set_level(level: bool) -> None:
            self.levels[gsi] = level
            self.changes += 1

        return set_level


class FakeRouter:
    """An MsiRouter that keeps KVM's side in dicts; `fail` makes the next call raise."""

    def __init__(self) -> None:
        self.routes: dict[int, tuple[int, int]] = {}
        self.irqfds: dict[int, int] = {}  # gsi -> fd
        self.next_gsi = 24
        self.commits = 0
        self.fail = False

    def _maybe_fail(self) -> None:
        if self.fail:
            self.fail = False
            raise OSError(22, "refused")

    def add_msi_route(self, address: int, data: int) -> int:
        self._maybe_fail()
        gsi, self.next_gsi = self.next_gsi, self.next_gsi + 1
        self.routes[gsi] = (address, data)
        self.commits += 1
        return gsi

    def update_msi_route(self, gsi: int, address: int, data: int) -> None:
        self._maybe_fail()
        assert gsi in self.routes
        self.routes[gsi] = (address, data)
        self.commits += 1

    def remove_msi_route(self, gsi: int) -> None:
        del self.routes[gsi]
        self.commits += 1

    def assign_irqfd(self, gsi: int, fd: int) -> None:
        assert gsi in self.routes and gsi not in self.irqfds
        self.irqfds[gsi] = fd

    def deassign_irqfd(self, gsi: int, fd: int) -> None:
        assert self.irqfds.pop(gsi) == fd

    def fired(self, gsi: int) -> int:
        """How many times the irqfd of `gsi` was signalled since the last look."""
        try:
            return os.eventfd_read(self.irqfds[gsi])
        except BlockingIOError:
            return 0


class FakeIoEventFds:
    def __init__(self) -> None:
        self.registered: set[tuple[int, int]] = set()

    def add_mmio_ioeventfd(self, fd: int, addr: int) -> None:
        assert (fd, addr) not in self.registered
        self.registered.add((fd, addr))

    def remove_mmio_ioeventfd(self, fd: int, addr: int) -> None:
        self.registered.remove((fd, addr))


class Platform:
    """A PCI bus 0 on fresh MMIO and port buses, with fake KVM services."""

    def __init__(self, mem64: bool = True) -> None:
        self.mmio = Bus("mmio")
        self.pio = Bus("ioport")
        self.lines = Lines()
        self.router = FakeRouter()
        self.ioeventfds = FakeIoEventFds()
        self.pci = PciBus(
            self.mmio,
            self.pio,
            PciWindows(IO, MEM32, MEM64 if mem64 else None),
            intx_gsi=lambda slot, pin: 16 + (slot + pin) % 8,
            irq_line=self.lines.line,
            msi=self.router,
            ioeventfds=self.ioeventfds,
        )

    def cfg_read(self, device: PciDevice, offset: int, size: int) -> int:
        assert device.slot is not None
        return self.pci.config_read(0, device.slot, 0, offset, size)

    def cfg_write(self, device: PciDevice, offset: int, size: int, value: int) -> None:
        assert device.slot is not None
        self.pci.config_write(0, device.slot, 0, offset, size, value)
