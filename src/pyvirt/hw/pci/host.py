"""The PCI host bridge and the two ways to reach configuration space.

Configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): a 32-bit address register
at port 0xCF8 (enable bit 31, bus 23:16, device 15:11, function 10:8,
register 7:2) and the data window 0xCFC-0xCFF, any access size. Only 32-bit
accesses reach the address register: a byte at 0xCF9 is the PC's reset
control register, a different device. Our port bus decodes by the first port
of an access, so the address register claims the single port 0xCF8 and
handles the dword that starts there, while 0xCF9 stays with reset control.

PCIe ECAM (enhanced configuration access mechanism): a memory range with
4 KiB per function, address = base + (bus << 20 | device << 15 |
function << 12 | register). Conventional devices have 256 bytes; the rest of
each 4 KiB reads as all-ones.
"""

from __future__ import annotations

from pyvirt.hw.bus import ones

from . import registers as R
from .bus import PciBus
from .device import PciDevice

CONFIG_ADDRESS_PORT = 0xCF8
CONFIG_DATA_PORT = 0xCFC
CONFIG_DATA_LEN = 4
ECAM_BUS_SIZE = 1 << 20

CONFIG_ENABLE = 1 << 31

# QEMU's generic PCIe host bridge (gpex): Red Hat, Inc. 1b36:0008
HOST_BRIDGE_VENDOR = 0x1B36
HOST_BRIDGE_DEVICE = 0x0008
CLASS_HOST_BRIDGE = 0x060000


class HostBridge(PciDevice):
    """Device 00.0: says "host bridge" to the guest (Linux's type 1 sanity check looks for one)."""

    def __init__(self) -> None:
        super().__init__(
            vendor_id=HOST_BRIDGE_VENDOR,
            device_id=HOST_BRIDGE_DEVICE,
            class_code=CLASS_HOST_BRIDGE,
            subsystem_vendor_id=0x1AF4,
            subsystem_id=0x1100,
            name="pcie-host-bridge",
        )


class ConfigAddress:
    """Port 0xCF8: the address register of mechanism #1 (32-bit accesses only)."""

    def __init__(self) -> None:
        self.value = 0

    def read(self, offset: int, size: int) -> int:
        return self.value if offset == 0 and size == 4 else ones(size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0 and size == 4:
            self.value = value & 0xFFFFFFFF


class ConfigData:
    """Ports 0xCFC-0xCFF: the window onto the register ConfigAddress selects."""

    def __init__(self, bus: PciBus, address: ConfigAddress) -> None:
        self.bus = bus
        self.address = address

    def _decode(self, offset: int, size: int) -> tuple[int, int, int, int] | None:
        addr = self.address.value
        if not addr & CONFIG_ENABLE or offset + size > CONFIG_DATA_LEN:
            return None
        register = (addr & 0xFC) + offset
        return (addr >> 16) & 0xFF, (addr >> 11) & 0x1F, (addr >> 8) & 0x7, register

    def read(self, offset: int, size: int) -> int:
        target = self._decode(offset, size)
        if target is None:
            return ones(size)
        return self.bus.config_read(*target, size)

    def write(self, offset: int, size: int, value: int) -> None:
        target = self._decode(offset, size)
        if target is not None:
            self.bus.config_write(*target, size, value)


class Ecam:
    """The memory-mapped configuration window (register it on the MMIO bus)."""

    def __init__(self, bus: PciBus, buses: int = 256) -> None:
        if not 1 <= buses <= 256:
            raise ValueError("ECAM covers 1 to 256 buses")
        self.bus = bus
        self.size = buses * ECAM_BUS_SIZE

    @staticmethod
    def _decode(offset: int) -> tuple[int, int, int, int]:
        return offset >> 20, (offset >> 15) & 0x1F, (offset >> 12) & 0x7, offset & 0xFFF

    def read(self, offset: int, size: int) -> int:
        if size > 4:  # an 8-byte access: two dwords, as a root complex would split it
            return self.read(offset, 4) | self.read(offset + 4, size - 4) << 32
        bus, slot, function, register = self._decode(offset)
        if register + size > R.ECAM_FUNCTION_SIZE:
            return ones(size)
        return self.bus.config_read(bus, slot, function, register, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if size > 4:
            self.write(offset, 4, value & 0xFFFFFFFF)
            self.write(offset + 4, size - 4, value >> 32)
            return
        bus, slot, function, register = self._decode(offset)
        if register + size <= R.ECAM_FUNCTION_SIZE:
            self.bus.config_write(bus, slot, function, register, size, value)
