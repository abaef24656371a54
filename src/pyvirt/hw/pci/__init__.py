"""PCI: configuration space, BARs, MSI-X, bus 0 and the host bridge's config access."""

from .bar import Bar, BarKind
from .bus import IoEventFds, PciBus, PciError, PciWindows, Window
from .device import INTX_PIN_A, INTX_PIN_NONE, PciDevice
from .host import ConfigAddress, ConfigData, Ecam, HostBridge
from .msix import MsiRouter, Msix

__all__ = [
    "INTX_PIN_A",
    "INTX_PIN_NONE",
    "Bar",
    "BarKind",
    "ConfigAddress",
    "ConfigData",
    "Ecam",
    "HostBridge",
    "IoEventFds",
    "MsiRouter",
    "Msix",
    "PciBus",
    "PciDevice",
    "PciError",
    "PciWindows",
    "Window",
]
