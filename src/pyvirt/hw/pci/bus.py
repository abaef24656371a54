"""PCI bus 0: 32 slots of single-function devices, their INTx wiring, and the BAR
addresses the VMM assigns at creation in place of firmware.

The windows say where BARs may go; the host bridge's ACPI description tells
the guest the same windows, so Linux keeps the addresses we chose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pyvirt.hw.bus import Bus, ones

from . import registers as R
from .bar import BarKind

if TYPE_CHECKING:
    from .device import PciDevice
    from .msix import MsiRouter

log = logging.getLogger(__name__)

SLOTS = 32
INTX_PINS = 4


class PciError(ValueError):
    """A device cannot be added: the message says why (slot taken, windows full...)."""


class IoEventFds(Protocol):
    """Guest writes at an MMIO address that signal an eventfd without leaving the kernel."""

    def add_mmio_ioeventfd(self, fd: int, addr: int) -> None: ...

    def remove_mmio_ioeventfd(self, fd: int, addr: int) -> None: ...


@dataclass(frozen=True)
class Window:
    """A range of bus addresses [start, end) that BARs are placed in."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"empty window {self.start:#x}-{self.end:#x}")


@dataclass(frozen=True)
class PciWindows:
    io: Window
    mem32: Window
    mem64: Window | None = None  # 64-bit BARs fall back to mem32 without it


class _Allocator:
    """Hands out naturally aligned ranges of a window, lowest first."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.next = window.start

    def allocate(self, size: int) -> int | None:
        addr = (self.next + size - 1) & ~(size - 1)
        if addr + size > self.window.end:
            return None
        self.next = addr + size
        return addr


class PciBus:
    """Bus 0 of the (only) PCI segment."""

    def __init__(
        self,
        mmio: Bus,
        pio: Bus,
        windows: PciWindows,
        *,
        intx_gsi: Callable[[int, int], int] | None = None,
        irq_line: Callable[[int], Callable[[bool], None]] | None = None,
        msi: MsiRouter | None = None,
        ioeventfds: IoEventFds | None = None,
    ) -> None:
        self.mmio = mmio
        self.pio = pio
        self.windows = windows
        self.intx_gsi = intx_gsi
        self.irq_line = irq_line
        self.msi = msi
        self.ioeventfds = ioeventfds
        self.slots: list[PciDevice | None] = [None] * SLOTS
        self._io = _Allocator(windows.io)
        self._mem32 = _Allocator(windows.mem32)
        self._mem64 = _Allocator(windows.mem64) if windows.mem64 else None

    # --- devices -----------------------------------------------------------------------

    def free_slot(self) -> int | None:
        return next((slot for slot, dev in enumerate(self.slots) if dev is None), None)

    def add(self, device: PciDevice, slot: int | None = None) -> int:
        """Plug `device` into `slot` (the next free one by default) and assign its BARs.

        The BARs get addresses in the windows and decoding is turned on, as
        firmware leaves a device; the interrupt line register names the GSI.
        """
        if device.bus is not None:
            raise PciError(f"{device.name} is already on a PCI bus")
        if slot is None:
            slot = self.free_slot()
            if slot is None:
                raise PciError(f"no free PCI slot for {device.name} (bus 0 has {SLOTS})")
        elif not 0 <= slot < SLOTS:
            raise PciError(f"PCI slot {slot} does not exist (bus 0 has slots 0-{SLOTS - 1})")
        elif (taken := self.slots[slot]) is not None:
            raise PciError(f"PCI slot {slot} is already taken by {taken.name}")
        addresses = self._assign(device)

        line = None
        pin = device.interrupt_pin
        if pin and self.intx_gsi is not None:
            gsi = self.intx_gsi(slot, pin - 1)
            device.config_write(R.INTERRUPT_LINE, 1, gsi)
            line = self.irq_line(gsi) if self.irq_line is not None else None
        self.slots[slot] = device
        device.plug(self, slot, line)

        command = 0
        for bar in device.bars:
            if bar is None:
                continue
            device.config_write(R.bar_offset(bar.index), 4 * bar.registers, addresses[bar.index])
            command |= R.COMMAND_IO if bar.is_io else R.COMMAND_MEMORY
        if command:
            device.config_write(R.COMMAND, 2, device.command | command)
        return slot

    def _assign(self, device: PciDevice) -> dict[int, int]:
        """An address for each BAR, biggest first so alignment wastes the least."""
        bars = sorted((b for b in device.bars if b is not None), key=lambda b: -b.size)
        addresses = {}
        for bar in bars:
            if bar.is_io:
                allocators = [self._io]
            elif bar.kind is BarKind.MEM64 and self._mem64 is not None:
                allocators = [self._mem64, self._mem32]
            else:
                allocators = [self._mem32]
            for allocator in allocators:
                addr = allocator.allocate(bar.size)
                if addr is not None:
                    addresses[bar.index] = addr
                    break
            else:
                what = f"{bar.size:#x}-byte {bar.kind.value} BAR{bar.index}"
                raise PciError(f"no room in the PCI windows for {device.name}'s {what}")
        return addresses

    def device_at(self, slot: int) -> PciDevice | None:
        return self.slots[slot] if 0 <= slot < SLOTS else None

    def devices(self) -> list[tuple[int, PciDevice]]:
        return [(slot, dev) for slot, dev in enumerate(self.slots) if dev is not None]

    # --- configuration cycles ------------------------------------------------------------

    def _target(self, bus: int, slot: int, function: int) -> PciDevice | None:
        if bus != 0 or function != 0:
            return None
        return self.device_at(slot)

    def config_read(self, bus: int, slot: int, function: int, offset: int, size: int) -> int:
        """A configuration read; nobody answers for empty slots: all-ones (vendor 0xFFFF)."""
        device = self._target(bus, slot, function)
        if device is None:
            return ones(size)
        return device.config_read(offset, size)

    def config_write(
        self, bus: int, slot: int, function: int, offset: int, size: int, value: int
    ) -> None:
        device = self._target(bus, slot, function)
        if device is not None:
            device.config_write(offset, size, value)

    # --- life cycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Release every device's host resources (while it can still reach the bus's
        services), then unplug it."""
        for slot, device in self.devices():
            device.close()
            device.unplug()
            self.slots[slot] = None
