"""qcow2 on-disk constants and entry encodings (QEMU docs/interop/qcow2.txt)."""

from __future__ import annotations

import enum

MAGIC = b"QFI\xfb"
V2_HEADER_LENGTH = 72
V3_MIN_HEADER_LENGTH = 104
V3_HEADER_LENGTH = 112  # with compression_type and padding, as QEMU writes it

OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00  # L1 and standard L2 entries: bits 9-55
REFT_OFFSET_MASK = 0xFFFF_FFFF_FFFF_FE00
COPIED = 1 << 63  # the cluster's refcount is exactly one: it may be written in place
COMPRESSED = 1 << 62
ZERO = 1  # v3: the cluster reads as zeroes

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3
INCOMPAT_EXTL2 = 1 << 4
INCOMPAT_SUPPORTED = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION
COMPAT_LAZY_REFCOUNTS = 1 << 0
AUTOCLEAR_KNOWN = 0  # bitmaps and raw external data are not implemented: cleared on write

FEATURE_NAMES: dict[tuple[int, int], str] = {
    (0, 0): "dirty bit",
    (0, 1): "corrupt bit",
    (0, 2): "external data file",
    (0, 3): "compression type",
    (0, 4): "extended L2 entries",
    (1, 0): "lazy refcounts",
    (2, 0): "bitmaps",
    (2, 1): "raw external data",
}

EXT_END = 0
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_CRYPTO = 0x0537BE77
EXT_DATA_FILE = 0x44415441

MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21
MAX_L1_BYTES = 32 << 20
MAX_REFTABLE_BYTES = 8 << 20
MAX_SNAPSHOTS = 65536
MAX_SNAPSHOT_TABLE_BYTES = 64 << 20
MAX_BACKING_NAME = 1023
SECTOR = 512


class Kind(enum.Enum):
    """What an L2 entry says about its guest cluster."""

    UNALLOCATED = "unallocated"  # read from the backing file, or zeroes
    ZERO_PLAIN = "zero"  # reads zeroes, no host cluster
    ZERO_ALLOC = "zero-alloc"  # reads zeroes, a host cluster kept for reuse
    NORMAL = "normal"
    COMPRESSED = "compressed"


def l2_kind(entry: int) -> Kind:
    if entry & COMPRESSED:
        return Kind.COMPRESSED
    if entry & ZERO:
        return Kind.ZERO_ALLOC if entry & OFFSET_MASK else Kind.ZERO_PLAIN
    if entry & OFFSET_MASK:
        return Kind.NORMAL
    return Kind.UNALLOCATED


class Compressed:
    """The compressed-cluster descriptor of an L2 entry for a given cluster size."""

    def __init__(self, cluster_bits: int) -> None:
        self.shift = 62 - (cluster_bits - 8)
        self.sectors_mask = (1 << (cluster_bits - 8)) - 1
        self.offset_mask = (1 << self.shift) - 1

    def decode(self, entry: int) -> tuple[int, int]:
        """(host offset, bytes to read) of a compressed L2 entry."""
        offset = entry & self.offset_mask
        sectors = ((entry >> self.shift) & self.sectors_mask) + 1
        return offset, sectors * SECTOR - (offset & (SECTOR - 1))

    def span(self, entry: int) -> tuple[int, int]:
        """The sector-aligned host range the entry holds a reference on (as QEMU counts it)."""
        offset = entry & self.offset_mask & ~(SECTOR - 1)
        sectors = ((entry >> self.shift) & self.sectors_mask) + 1
        return offset, sectors * SECTOR

    def encode(self, offset: int, size: int) -> int:
        extra = (offset + size - 1) // SECTOR - offset // SECTOR
        return COMPRESSED | (extra << self.shift) | offset
