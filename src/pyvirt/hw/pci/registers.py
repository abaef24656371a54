"""Type-0 configuration space layout and register bits (PCI Local Bus 3.0, chapter 6)."""

from __future__ import annotations

CONFIG_SPACE_SIZE = 256  # conventional PCI; ECAM windows are 4 KiB per function
ECAM_FUNCTION_SIZE = 4096

VENDOR_ID = 0x00
DEVICE_ID = 0x02
COMMAND = 0x04
STATUS = 0x06
REVISION_ID = 0x08
CLASS_PROG = 0x09  # programming interface, then sub-class and base class
CACHE_LINE_SIZE = 0x0C
LATENCY_TIMER = 0x0D
HEADER_TYPE = 0x0E
BAR0 = 0x10
BAR_COUNT = 6
SUBSYSTEM_VENDOR_ID = 0x2C
SUBSYSTEM_ID = 0x2E
ROM_ADDRESS = 0x30
CAPABILITY_LIST = 0x34
INTERRUPT_LINE = 0x3C
INTERRUPT_PIN = 0x3D
CAPABILITIES_START = 0x40  # the device-specific area where capabilities go

# Command register
COMMAND_IO = 1 << 0
COMMAND_MEMORY = 1 << 1
COMMAND_MASTER = 1 << 2
COMMAND_PARITY = 1 << 6
COMMAND_SERR = 1 << 8
COMMAND_INTX_DISABLE = 1 << 10

# Status register
STATUS_INTERRUPT = 1 << 3
STATUS_CAP_LIST = 1 << 4
# Error bits: write 1 to clear
STATUS_W1C = 0xF900

HEADER_TYPE_NORMAL = 0x00

# BAR low bits
BAR_SPACE_IO = 0x01
BAR_MEM_TYPE_64 = 0x04
BAR_MEM_PREFETCH = 0x08
BAR_MEM_FLAGS = 0x0F
BAR_IO_FLAGS = 0x03

# Capability IDs
CAP_ID_VENDOR = 0x09
CAP_ID_MSIX = 0x11

VENDOR_NONE = 0xFFFF  # what a read of an empty slot's vendor ID gives


def bar_offset(index: int) -> int:
    return BAR0 + 4 * index
