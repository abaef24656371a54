"""QEMU's firmware configuration device (fw_cfg), traditional I/O port interface.

Port 0x510 (16-bit) selects an item, port 0x511 (8-bit) reads it a byte at a
time. Item numbers and the file directory format are QEMU's (docs/specs/fw_cfg.rst).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping
from typing import Any

from .state import State, get_uint

SIGNATURE = 0x00
ID = 0x01
UUID = 0x02
RAM_SIZE = 0x03
NOGRAPHIC = 0x04
NB_CPUS = 0x05
MAX_CPUS = 0x0F
FILE_DIR = 0x19
FILE_FIRST = 0x20

ID_TRADITIONAL = 0x01
SELECTOR_MASK = 0x3FFF  # the item number; bit 14 (write channel) is ignored for reads
ARCH_LOCAL = 0x8000  # bit 15: the architecture-specific items, a namespace of their own
FILE_NAME_SIZE = 56


class FwCfg:
    """Registered at port 0x510 with length 2: offset 0 selector, offset 1 data."""

    def __init__(
        self, *, cpus: int, max_cpus: int, ram_size: int, nographic: bool, uuid: bytes = bytes(16)
    ) -> None:
        self._lock = threading.Lock()
        self.items: dict[int, bytes] = {
            SIGNATURE: b"QEMU",
            ID: struct.pack("<I", ID_TRADITIONAL),
            UUID: uuid,
            RAM_SIZE: struct.pack("<Q", ram_size),
            NOGRAPHIC: struct.pack("<H", int(nographic)),
            NB_CPUS: struct.pack("<H", cpus),
            MAX_CPUS: struct.pack("<H", max_cpus),
        }
        self.files: dict[str, int] = {}
        self.items[FILE_DIR] = self._directory()
        self.selected = SIGNATURE
        self.offset = 0

    def add_file(self, name: str, data: bytes) -> int:
        """Publish `data` under `name` (e.g. "etc/e820"); returns its selector."""
        encoded = name.encode()
        if len(encoded) >= FILE_NAME_SIZE:
            raise ValueError(f"fw_cfg file name too long: {name!r}")
        if name in self.files:
            raise ValueError(f"fw_cfg file {name!r} already exists")
        key = FILE_FIRST + len(self.files)
        self.files[name] = key
        self.items[key] = bytes(data)
        self.items[FILE_DIR] = self._directory()
        return key

    def _directory(self) -> bytes:
        entries = sorted(self.files.items())
        out = bytearray(struct.pack(">I", len(entries)))
        for name, key in entries:
            out += struct.pack(">IHH", len(self.items[key]), key, 0)
            out += name.encode().ljust(FILE_NAME_SIZE, b"\0")
        return bytes(out)

    def save_state(self) -> State:
        """Where the guest is reading; the items come from the machine's configuration."""
        with self._lock:
            return {"selected": self.selected, "offset": self.offset}

    def load_state(self, state: Mapping[str, Any]) -> None:
        with self._lock:
            self.selected = get_uint(state, "selected", 16)
            self.offset = get_uint(state, "offset", 32)

    def read(self, offset: int, size: int) -> int:
        if offset != 1:
            return 0  # the selector register reads as zero
        with self._lock:
            data = self.items.get(self.selected, b"")
            value = 0
            for i in range(size):  # wider reads return successive bytes, little-endian
                byte = data[self.offset] if self.offset < len(data) else 0
                value |= byte << (8 * i)
                if self.offset < len(data):
                    self.offset += 1
            return value

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return  # the data register is read-only
        with self._lock:
            self.selected = value & (ARCH_LOCAL | SELECTOR_MASK)
            self.offset = 0
