"""The VM's GSI routing table: the irqchip pins KVM routes by default, plus MSI routes.

KVM_SET_GSI_ROUTING replaces the whole table, so the legacy entries KVM sets up
with the in-kernel irqchip (GSI n -> IOAPIC pin n, and the 8259 pin for n < 16)
must be sent again with every change, or the PIT, the UARTs and the SCI would
go silent. MSI routes take GSIs above the IOAPIC's pins; an irqfd bound to such
a GSI injects that MSI message when its eventfd is written.
"""

from __future__ import annotations

import threading
from typing import Protocol

from . import numbers as n
from . import structs as s

IOAPIC_PINS = 24
PIC_PINS = 16
MAX_IRQ_ROUTES = 4096  # KVM_MAX_IRQ_ROUTES: every GSI must stay below it


class RoutingVm(Protocol):
    """The VM ioctls the router needs (a `Vm`, or a fake in the tests)."""

    def set_gsi_routing(self, entries: list[s.IrqRoutingEntry]) -> None: ...

    def irqfd(self, fd: int, gsi: int, *, deassign: bool = False) -> None: ...


class GsiExhausted(RuntimeError):
    """No GSI left for another MSI route."""


def irqchip_entry(gsi: int, chip: int, pin: int) -> s.IrqRoutingEntry:
    entry = s.IrqRoutingEntry(gsi=gsi, type=n.IRQ_ROUTING_IRQCHIP)
    entry.u.irqchip.irqchip = chip
    entry.u.irqchip.pin = pin
    return entry


def msi_entry(gsi: int, address: int, data: int) -> s.IrqRoutingEntry:
    entry = s.IrqRoutingEntry(gsi=gsi, type=n.IRQ_ROUTING_MSI)
    entry.u.msi.address_lo = address & 0xFFFFFFFF
    entry.u.msi.address_hi = (address >> 32) & 0xFFFFFFFF
    entry.u.msi.data = data & 0xFFFFFFFF
    return entry


def default_irqchip_entries() -> list[s.IrqRoutingEntry]:
    """What KVM_CREATE_IRQCHIP routes: each GSI to its IOAPIC pin, GSIs 0-15 to the 8259s too."""
    entries = []
    for gsi in range(IOAPIC_PINS):
        entries.append(irqchip_entry(gsi, n.IRQCHIP_IOAPIC, gsi))
        if gsi < PIC_PINS:
            chip = n.IRQCHIP_PIC_MASTER if gsi < 8 else n.IRQCHIP_PIC_SLAVE
            entries.append(irqchip_entry(gsi, chip, gsi % 8))
    return entries


class GsiRouter:
    """Allocates GSIs for MSI messages and keeps KVM's table in step (thread-safe)."""

    def __init__(self, vm: RoutingVm) -> None:
        self.vm = vm
        self._lock = threading.Lock()
        self._msi: dict[int, tuple[int, int]] = {}  # gsi -> (address, data)
        self._free: list[int] = []  # released GSIs, reused first
        self._next = IOAPIC_PINS

    @property
    def msi_routes(self) -> dict[int, tuple[int, int]]:
        with self._lock:
            return dict(self._msi)

    def _commit(self) -> None:
        entries = default_irqchip_entries()
        entries += [msi_entry(gsi, a, d) for gsi, (a, d) in sorted(self._msi.items())]
        self.vm.set_gsi_routing(entries)

    def add_msi_route(self, address: int, data: int) -> int:
        """A new GSI that delivers the MSI message (`address`, `data`)."""
        with self._lock:
            if self._free:
                gsi = self._free.pop()
            elif self._next < MAX_IRQ_ROUTES:
                gsi, self._next = self._next, self._next + 1
            else:
                raise GsiExhausted(f"all {MAX_IRQ_ROUTES} GSIs are in use")
            self._msi[gsi] = (address, data)
            try:
                self._commit()
            except OSError:
                del self._msi[gsi]
                self._free.append(gsi)
                raise
            return gsi

    def update_msi_route(self, gsi: int, address: int, data: int) -> None:
        with self._lock:
            if gsi not in self._msi:
                raise KeyError(f"GSI {gsi} is not an MSI route")
            if self._msi[gsi] != (address, data):
                self._msi[gsi] = (address, data)
                self._commit()

    def remove_msi_route(self, gsi: int) -> None:
        with self._lock:
            if self._msi.pop(gsi, None) is not None:
                self._free.append(gsi)
                self._commit()

    def assign_irqfd(self, gsi: int, fd: int) -> None:
        self.vm.irqfd(fd, gsi)

    def deassign_irqfd(self, gsi: int, fd: int) -> None:
        self.vm.irqfd(fd, gsi, deassign=True)
