"""A flattened device tree (devicetree specification v0.4, chapter 5) builder.

Nodes hold properties as already-encoded bytes; `cells`, `string` and
`strings` encode the usual value types. `Node.phandle()` gives a node a
phandle the first time it is asked for one.
"""

from __future__ import annotations

import struct

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9
VERSION, LAST_COMPATIBLE_VERSION = 17, 16
HEADER_SIZE = 40


def cells(*values: int) -> bytes:
    """Big-endian 32-bit cells; a 64-bit address or size is given as two values."""
    return struct.pack(f">{len(values)}I", *values)


def pair(value: int) -> tuple[int, int]:
    """A 64-bit number as (high, low) cells, for #address-cells/#size-cells = 2."""
    return value >> 32, value & 0xFFFFFFFF


def string(value: str) -> bytes:
    return value.encode() + b"\0"


def strings(*values: str) -> bytes:
    return b"".join(string(v) for v in values)


class Node:
    def __init__(self, name: str, tree: DeviceTree) -> None:
        self.name = name
        self.props: dict[str, bytes] = {}
        self.children: list[Node] = []
        self._tree = tree
        self._phandle: int | None = None

    def set(self, name: str, value: bytes | int | str = b"") -> Node:
        """Set a property: bytes as they are, an int as one cell, a str as a string."""
        if isinstance(value, int):
            value = cells(value)
        elif isinstance(value, str):
            value = string(value)
        self.props[name] = value
        return self

    def add(self, name: str) -> Node:
        child = Node(name, self._tree)
        self.children.append(child)
        return child

    def phandle(self) -> int:
        if self._phandle is None:
            self._phandle = self._tree.next_phandle()
            self.set("phandle", self._phandle)
        return self._phandle


class DeviceTree:
    def __init__(self, boot_cpuid: int = 0) -> None:
        self.root = Node("", self)
        self.boot_cpuid = boot_cpuid
        self._phandles = 0

    def next_phandle(self) -> int:
        self._phandles += 1
        return self._phandles

    def to_dtb(self, pad_to: int = 0) -> bytes:
        """The blob; `pad_to` leaves room for firmware to add nodes (e.g. OpenSBI's)."""
        strings_block = bytearray()
        offsets: dict[str, int] = {}
        structure = bytearray()

        def name_offset(name: str) -> int:
            if name not in offsets:
                offsets[name] = len(strings_block)
                strings_block.extend(string(name))
            return offsets[name]

        def emit(node: Node) -> None:
            structure.extend(cells(FDT_BEGIN_NODE) + _padded(string(node.name)))
            for name, value in node.props.items():
                structure.extend(cells(FDT_PROP, len(value), name_offset(name)) + _padded(value))
            for child in node.children:
                emit(child)
            structure.extend(cells(FDT_END_NODE))

        emit(self.root)
        structure.extend(cells(FDT_END))
        reserve_map = bytes(16)  # empty: one terminating (0, 0) entry
        off_rsv = HEADER_SIZE
        off_struct = off_rsv + len(reserve_map)
        off_strings = off_struct + len(structure)
        total = off_strings + len(strings_block)
        header = struct.pack(
            ">10I", FDT_MAGIC, max(total, pad_to), off_struct, off_strings, off_rsv, VERSION,
            LAST_COMPATIBLE_VERSION, self.boot_cpuid, len(strings_block), len(structure),
        )  # fmt: skip
        blob = header + reserve_map + bytes(structure) + bytes(strings_block)
        return blob + bytes(max(0, pad_to - total))


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)
