"""Reference counts: the refcount table, refcount blocks (1 to 64 bits) and cluster allocation.

Increments may reach the disk at any time (a crash then leaks clusters at
worst); decrements are queued by `free` and applied by `apply_frees` only
after the tables that dropped the references are on disk, so a crash never
leaves a referenced cluster with a refcount of zero.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, MutableSequence

from . import layout as L
from .cache import TableCache
from .fileio import Corrupt, ImageFile, decode_table, table_bytes

_ARRAY_CODES = {8: "B", 16: "H", 32: "I", 64: "Q"}


class PackedBits(MutableSequence[int]):
    """Refcounts of 1, 2 or 4 bits, least significant bits first within each byte."""

    def __init__(self, data: bytes, bits: int) -> None:
        self.data = bytearray(data)
        self.bits = bits
        self.per_byte = 8 // bits
        self.mask = (1 << bits) - 1

    def __len__(self) -> int:
        return len(self.data) * self.per_byte

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        byte, slot = divmod(i, self.per_byte)
        return (self.data[byte] >> (slot * self.bits)) & self.mask

    def __setitem__(self, i, value):  # type: ignore[no-untyped-def, override]
        byte, slot = divmod(i, self.per_byte)
        shift = slot * self.bits
        self.data[byte] = (self.data[byte] & ~(self.mask << shift)) | (value << shift)

    def __delitem__(self, i):  # type: ignore[no-untyped-def, override]
        raise TypeError("refcount blocks have a fixed size")

    def insert(self, index: int, value: int) -> None:
        raise TypeError("refcount blocks have a fixed size")

    def index(self, value: int, start: int = 0, stop: int = sys.maxsize) -> int:
        for i in range(start, min(stop, len(self))):
            if self[i] == value:
                return i
        raise ValueError(value)


RefBlock = MutableSequence[int]


class Overflow(Exception):
    """A refcount would exceed what refcount_bits can hold."""


def decode_block(data: bytes, bits: int) -> RefBlock:
    code = _ARRAY_CODES.get(bits)
    if code is None:
        return PackedBits(data, bits)
    block = array(code, data)
    if block.itemsize != bits // 8:
        raise RuntimeError(f"no {bits}-bit array type on this host")
    if bits > 8 and sys.byteorder == "little":
        block.byteswap()
    return block


def encode_block(block: RefBlock, bits: int) -> bytes:
    if isinstance(block, PackedBits):
        return bytes(block.data)
    assert isinstance(block, array)
    return table_bytes(block) if bits > 8 else block.tobytes()


class Refcounts:
    def __init__(
        self,
        io: ImageFile,
        cluster_bits: int,
        refcount_order: int,
        table_offset: int,
        table_clusters: int,
        *,
        on_table_moved: Callable[[int, int], None],
        cache_blocks: int = 32,
    ) -> None:
        self.io = io
        self.cluster_bits = cluster_bits
        self.cluster_size = 1 << cluster_bits
        self.bits = 1 << refcount_order
        self.max = (1 << self.bits) - 1
        self.per_block = self.cluster_size * 8 // self.bits
        self.table_offset = table_offset
        self.table_clusters = table_clusters
        self.table = io.read_table(table_offset, table_clusters * self.cluster_size // 8,
                                   "refcount table")  # fmt: skip
        self.table_dirty = False
        self.version = 0  # bumped whenever the table changes
        self.blocks: TableCache[RefBlock] = TableCache(cache_blocks)
        self.on_table_moved = on_table_moved  # writes the header (synchronously)
        self.hint = 0  # no free cluster below this index
        self.pending: list[tuple[int, int]] = []  # (first cluster, count) to decrement

    # --- reading and updating refcounts -------------------------------------------------

    def block_offset(self, index: int) -> int:
        """Host offset of refcount block `index`, 0 when it does not exist."""
        if index >= len(self.table):
            return 0
        offset = self.table[index] & L.REFT_OFFSET_MASK
        if self.table[index] & (self.cluster_size - 1):
            raise Corrupt(f"refcount block {index}: offset {self.table[index]:#x} is not "
                          "cluster aligned")  # fmt: skip
        return offset

    def _block(self, index: int) -> RefBlock | None:
        block = self.blocks.get(index)
        if block is not None:
            return block
        offset = self.block_offset(index)
        if not offset:
            return None
        block = decode_block(self.io.read(offset, self.cluster_size, f"refcount block {index}"),
                             self.bits)  # fmt: skip
        self._insert(index, block, dirty=False)
        return block

    def _insert(self, index: int, block: RefBlock, *, dirty: bool) -> None:
        while self.blocks.full():
            victim = self.blocks.victim()
            if victim in self.blocks.dirty:
                self._write_block(victim, self.blocks.tables[victim])
            self.blocks.drop(victim)
        self.blocks.put(index, block, dirty=dirty)

    def _write_block(self, index: int, block: RefBlock) -> None:
        self.io.write(self.table[index] & L.REFT_OFFSET_MASK, encode_block(block, self.bits))

    def get(self, cluster: int) -> int:
        block = self._block(cluster // self.per_block)
        return 0 if block is None else block[cluster % self.per_block]

    def set(self, cluster: int, value: int) -> None:
        if value > self.max:
            raise Overflow(
                f"reference count overflow: cluster {cluster} would have {value} "
                f"references (limit {self.max} with {self.bits}-bit refcounts)"
            )
        index = cluster // self.per_block
        if self._block(index) is None:
            self._create_block(index)
        block = self._block(index)
        assert block is not None
        block[cluster % self.per_block] = value
        self.blocks.mark_dirty(index)

    def add(self, cluster: int, delta: int) -> int:
        value = self.get(cluster) + delta
        if value < 0:
            raise Corrupt(f"refcount of cluster {cluster} would drop below zero")
        self.set(cluster, value)
        if value == 0 and cluster < self.hint:
            self.hint = cluster
        return value

    def add_range(self, offset: int, length: int, delta: int) -> None:
        """`delta` on every cluster that [offset, offset+length) touches."""
        first = offset >> self.cluster_bits
        last = (offset + length - 1) >> self.cluster_bits
        for cluster in range(first, last + 1):
            self.add(cluster, delta)

    # --- allocation ---------------------------------------------------------------------

    def allocate(self, count: int) -> int:
        """Offset of `count` contiguous new clusters, their refcounts set to 1."""
        while True:
            start = self._find_free(count)
            if self._ensure_blocks(start, count):
                continue  # new refcount blocks may have taken part of the run
            for cluster in range(start, start + count):
                self.set(cluster, 1)
            if start == self.hint:
                self.hint = start + count
            return start << self.cluster_bits

    def _find_free(self, count: int) -> int:
        cluster, run_start = self.hint, self.hint
        while cluster - run_start < count:
            index, slot = divmod(cluster, self.per_block)
            block = self._block(index)
            if block is None:  # a whole missing block is free
                cluster = (index + 1) * self.per_block
                continue
            if block[slot] == 0:
                cluster += 1
                continue
            try:
                cluster = index * self.per_block + block.index(0, slot + 1)
            except ValueError:
                cluster = (index + 1) * self.per_block
            run_start = cluster
        return run_start

    def _ensure_blocks(self, start: int, count: int) -> bool:
        created = False
        for index in range(start // self.per_block, (start + count - 1) // self.per_block + 1):
            if not self.block_offset(index):
                self._create_block(index)
                created = True
        return created

    def _create_block(self, index: int) -> None:
        if index >= len(self.table):
            self._grow_table(index + 1)
        while not self.block_offset(index):
            cluster = self._find_free(1)
            home = cluster // self.per_block
            if home != index and not self.block_offset(home):
                self._create_block(home)
                continue
            self.table[index] = cluster << self.cluster_bits
            self.table_dirty = True
            self.version += 1
            self._insert(index, decode_block(bytes(self.cluster_size), self.bits), dirty=True)
            self.set(cluster, 1)

    def _grow_table(self, min_entries: int) -> None:
        """A bigger refcount table in new clusters; the header points at it once it is written."""
        per_cluster = self.cluster_size // 8
        top = max(self.hint, self.io.size >> self.cluster_bits) + 2 * per_cluster
        entries = max(min_entries, top // self.per_block + 2, len(self.table) * 3 // 2)
        clusters = -(-entries // per_cluster)
        old_offset, old_clusters = self.table_offset, self.table_clusters
        self.table.extend([0] * (clusters * per_cluster - len(self.table)))
        offset = self.allocate(clusters)
        self.table_offset, self.table_clusters = offset, clusters
        self.table_dirty = True
        self.version += 1
        self.write_dirty()
        self.io.sync()
        self.on_table_moved(offset, clusters)
        self.free(old_offset, old_clusters << self.cluster_bits)

    def free(self, offset: int, length: int) -> None:
        """Queue a decrement of every cluster [offset, offset+length) touches."""
        first = offset >> self.cluster_bits
        last = (offset + length - 1) >> self.cluster_bits
        self.pending.append((first, last - first + 1))

    def apply_frees(self) -> list[int]:
        """The queued decrements; returns the clusters that became free."""
        freed = []
        pending, self.pending = self.pending, []
        for first, count in pending:
            for cluster in range(first, first + count):
                if self.add(cluster, -1) == 0:
                    freed.append(cluster)
        return freed

    # --- writing back ---------------------------------------------------------------------

    def dirty(self) -> bool:
        return bool(self.blocks.dirty) or self.table_dirty

    def write_dirty(self) -> None:
        """Dirty blocks, then (after a sync, so it never points at garbage) the table."""
        for index, block in self.blocks.take_dirty():
            self._write_block(index, block)
        if self.table_dirty:
            self.io.sync()
            self.io.write(self.table_offset, table_bytes(self.table))
            self.table_dirty = False

    def reload(self, table_offset: int, table_clusters: int) -> None:
        """Forget cached state and read the (rebuilt) table at its new place."""
        self.blocks.clear()
        self.pending.clear()
        self.table_offset, self.table_clusters = table_offset, table_clusters
        self.table = decode_table(self.io.read(table_offset, table_clusters * self.cluster_size,
                                               "refcount table"))  # fmt: skip
        self.table_dirty = False
        self.version += 1
        self.hint = 0


def encode_values(values: list[int], bits: int, cluster_size: int) -> bytes:
    """A refcount block holding `values` (then zeroes)."""
    block = decode_block(bytes(cluster_size), bits)
    if isinstance(block, PackedBits):
        for i, value in enumerate(values):
            block[i] = value
    else:
        block[: len(values)] = array(block.typecode, values)
    return encode_block(block, bits)
