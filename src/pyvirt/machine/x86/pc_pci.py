"""Where the PC's PCI host bridge puts things: its BAR windows and ECAM, and how the
ACPI tables describe them (the same numbers, so Linux keeps our BAR addresses)."""

from __future__ import annotations

from collections.abc import Iterable

from pyvirt.hw.pci import PciWindows, Window
from pyvirt.kvm.structs import CpuidEntry2

from . import layout as L
from .acpi import PciHost
from .e820 import ram_layout

CPUID_ADDRESS_SIZES = 0x80000008
DEFAULT_PHYS_BITS = 36  # what a CPU without leaf 0x80000008 addresses


def phys_bits(cpuid: Iterable[CpuidEntry2]) -> int:
    """The guest's physical address width, from CPUID 0x80000008 EAX[7:0]."""
    for entry in cpuid:
        if entry.function == CPUID_ADDRESS_SIZES and entry.eax & 0xFF:
            return entry.eax & 0xFF
    return DEFAULT_PHYS_BITS


def mmio64_window(ram_size: int, address_bits: int) -> Window | None:
    """A 1 GiB-aligned window above all RAM (and 4 GiB), as much of 32 GiB as the CPU reaches."""
    ram_end = max(gpa + size for gpa, size in ram_layout(ram_size))
    start = max(ram_end, L.HIGHMEM_START)
    start = (start + L.PCI_MMIO64_ALIGN - 1) & ~(L.PCI_MMIO64_ALIGN - 1)
    end = min(start + L.PCI_MMIO64_SIZE, 1 << address_bits)
    return Window(start, end) if end > start else None


def windows(ram_size: int, address_bits: int) -> PciWindows:
    return PciWindows(
        io=Window(L.PCI_IO_START, L.PCI_IO_END),
        mem32=Window(L.PCI_MMIO32_START, L.PCI_MMIO32_END),
        mem64=mmio64_window(ram_size, address_bits),
    )


def acpi_host(pci_windows: PciWindows) -> PciHost:
    """The host bridge as the DSDT and MCFG describe it."""
    mem64 = pci_windows.mem64
    return PciHost(
        ecam_base=L.PCI_ECAM_ADDR,
        mem32=(pci_windows.mem32.start, pci_windows.mem32.end),
        mem64=(mem64.start, mem64.end) if mem64 is not None else None,
        bus_end=L.PCI_ECAM_SIZE // (1 << 20) - 1,
    )
