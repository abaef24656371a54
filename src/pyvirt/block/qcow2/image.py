"""A qcow2 image as a block driver: cluster mapping, allocation, copy-on-write, flushes.

Metadata (L1, cached L2 tables, refcount blocks) is written back on flush,
eviction and close, in an order that keeps the file repairable after a crash
at any point: new clusters' data and refcounts reach the disk before the L2
entries that point at them, L2 tables before the L1 entries that point at
them, and refcount decrements only after the tables that dropped the
references (see `_flush_metadata`).

One lock guards the metadata; reads and in-place writes of clusters this
image owns alone run outside it, straight between the file and the caller's
buffers.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import threading
import zlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ..buffers import BufferCursor, copy_into, fill_zero
from ..driver import BlockDriver, BlockError, Extent, merge_extents
from ..hostfile import HostFile
from ..locking import Permissions
from . import layout as L
from .cache import TableCache
from .check import CheckResult, check_image
from .fileio import Corrupt, ImageFile
from .header import HeaderError, parse_header
from .layout import Kind, l2_kind
from .refcount import Overflow, Refcounts
from .snapshot_ops import SnapshotOps
from .snapshot_table import SnapshotInfo, read_snapshots

log = logging.getLogger(__name__)

L2_CACHE_BYTES = 4 << 20
ZLIB_WBITS = -12  # raw deflate, 4 KiB window, as QEMU writes


class Qcow2Image(SnapshotOps):
    format_name = "qcow2"

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        discard: bool = False,
        writethrough: bool = False,
        no_flush: bool = False,
        for_check: bool = False,
        direct: bool = False,
        lock: Permissions | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.discard_enabled = discard
        self.writethrough = writethrough
        self.no_flush = no_flush
        self.backing: BlockDriver | None = None
        self._lock = threading.RLock()
        self._broken: str | None = None  # set by a fatal corruption: all I/O fails
        self._data_dirty = False
        self._compressed_tail: int | None = None  # free bytes after the last compressed cluster
        file = HostFile(path, writable=not read_only, direct=direct, lock=lock)
        self.io = ImageFile(file)
        try:
            self._load(for_check)
        except (HeaderError, Corrupt) as e:
            file.close()
            raise BlockError(errno.EINVAL, str(e), path) from None  # QEMU's wording
        except BaseException:
            file.close()
            raise

    def _load(self, for_check: bool) -> None:
        first = self.io.file.pread(1 << L.MAX_CLUSTER_BITS, 0)
        h = self.header = parse_header(first, self.io.size)
        if h.incompatible & L.INCOMPAT_CORRUPT and not self.read_only and not for_check:
            raise HeaderError("image is corrupt; cannot be opened read/write "
                              "(repair it with 'qemu-img check -r all')")  # fmt: skip
        self.cluster_bits = h.cluster_bits
        self.cluster_size = h.cluster_size
        self.l2_entries = self.cluster_size // 8
        self.compressed = L.Compressed(h.cluster_bits)
        self.l1 = self.io.read_table(h.l1_table_offset, h.l1_size, "active L1 table")
        self.l1_dirty = False
        self.l2_cache: TableCache[array[int]] = TableCache(L2_CACHE_BYTES // self.cluster_size)
        self.refcounts = Refcounts(self.io, h.cluster_bits, h.refcount_order,
                                   h.refcount_table_offset, h.refcount_table_clusters,
                                   on_table_moved=self._refcount_table_moved)  # fmt: skip
        self.snapshot_list: list[SnapshotInfo]
        self.snapshot_table_size: int
        self.snapshot_list, self.snapshot_table_size = read_snapshots(
            self.io, h.snapshots_offset, h.nb_snapshots, self.cluster_size
        )
        self._metadata_key: tuple[int, ...] = ()
        self._metadata_set: set[int] = set()
        self._l1_version = 0
        if self.read_only:
            return
        if h.autoclear & ~L.AUTOCLEAR_KNOWN:
            h.autoclear &= L.AUTOCLEAR_KNOWN  # e.g. bitmaps: we do not keep them up to date
            self._write_header()
        if h.incompatible & L.INCOMPAT_DIRTY and not for_check:
            log.info("%s: not closed cleanly: repairing refcounts", self.path)
            self.check("all")

    # --- properties for info ----------------------------------------------------------

    @property
    def length(self) -> int:
        return self.header.size

    @property
    def file(self) -> HostFile:
        return self.io.file

    @property
    def actual_size(self) -> int:
        return os.fstat(self.io.fd).st_blocks * 512

    @property
    def version(self) -> int:
        return self.header.version

    @property
    def compat(self) -> str:
        return "0.10" if self.header.version == 2 else "1.1"

    @property
    def lazy_refcounts(self) -> bool:
        return bool(self.header.compatible & L.COMPAT_LAZY_REFCOUNTS)

    @property
    def refcount_bits(self) -> int:
        return self.header.refcount_bits

    @property
    def corrupt(self) -> bool:
        return bool(self.header.incompatible & L.INCOMPAT_CORRUPT)

    @property
    def dirty(self) -> bool:
        return bool(self.header.incompatible & L.INCOMPAT_DIRTY)

    extended_l2 = False
    compression_type = "zlib"

    @property
    def backing_file(self) -> str | None:
        return self.header.backing_file

    @property
    def backing_format(self) -> str | None:
        return self.header.backing_format

    # --- errors and locking -----------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._broken:
                raise BlockError(errno.EIO, self._broken)
            try:
                yield
            except Corrupt as e:
                raise self._signal_corruption(str(e)) from None
            except Overflow as e:
                raise BlockError(errno.ERANGE, f"'{self.path}': {e}") from None

    def _signal_corruption(self, what: str) -> BlockError:
        """As QEMU: an image found corrupt while writable is marked so and takes no more I/O."""
        message = f"'{self.path}': corrupt image: {what}"
        if not self.read_only and not self.corrupt:
            log.error("qcow2: Marking image as corrupt: %s; further corruption events will "
                      "be suppressed", what)  # fmt: skip
            self.header.incompatible |= L.INCOMPAT_CORRUPT
            with suppress(OSError, HeaderError):
                self._write_header()
            self._broken = message
        return BlockError(errno.EIO, message)

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.header.size:
            raise BlockError(errno.EINVAL, f"'{self.path}': request {offset}+{length} beyond "
                                           f"the disk ({self.header.size} bytes)")  # fmt: skip

    def _check_writable(self) -> None:
        if self.read_only:
            raise BlockError(errno.EROFS, f"'{self.path}' is opened read-only")

    # --- metadata tables --------------------------------------------------------------

    def _write_header(self) -> None:
        self.io.write(0, self.header.pack())
        self._sync()

    def _sync(self) -> None:
        if not self.no_flush:
            self.io.sync()

    def _refcount_table_moved(self, offset: int, clusters: int) -> None:
        self.header.refcount_table_offset = offset
        self.header.refcount_table_clusters = clusters
        self._write_header()

    def _l2(self, l1_index: int, *, for_write: bool) -> array[int] | None:
        """The L2 table for an L1 index; for writing it is allocated or copied (COW) first."""
        if l1_index >= len(self.l1):
            if for_write:
                raise Corrupt(f"L1 index {l1_index:#x} beyond the L1 table")
            return None
        entry = self.l1[l1_index]
        offset = entry & L.OFFSET_MASK
        if offset % self.cluster_size:
            raise Corrupt(f"L2 table offset {offset:#x} unaligned (L1 index: {l1_index:#x})")
        if not offset:
            if not for_write:
                return None
            table = array("Q", bytes(self.cluster_size))
        else:
            table = self._load_l2(offset, l1_index)
            if not for_write or entry & L.COPIED:
                return table
            table = array("Q", [e & ~L.COPIED for e in table])
            self.refcounts.free(offset, self.cluster_size)
        self._lazy_mark_dirty()
        new = self.refcounts.allocate(1)
        self._check_not_metadata(new, 1)
        self._insert_l2(new, table, dirty=True)
        self.l1[l1_index] = new | L.COPIED
        self.l1_dirty = True
        self._l1_version += 1
        return table

    def _load_l2(self, offset: int, l1_index: int) -> array[int]:
        table = self.l2_cache.get(offset)
        if table is None:
            if offset < self.cluster_size:
                raise Corrupt(f"L2 table at offset {offset:#x} overlaps the header "
                              f"(L1 index: {l1_index:#x})")  # fmt: skip
            table = self.io.read_table(offset, self.l2_entries,
                                       f"L2 table (L1 index: {l1_index:#x})")  # fmt: skip
            self._insert_l2(offset, table, dirty=False)
        return table

    def _insert_l2(self, offset: int, table: array[int], *, dirty: bool) -> None:
        while self.l2_cache.full():
            victim = self.l2_cache.victim()
            if victim in self.l2_cache.dirty:
                self._flush_metadata()
            self.l2_cache.drop(victim)
        self.l2_cache.put(offset, table, dirty=dirty)

    def _set_l2(self, l1_index: int, slot: int, entries: list[int]) -> None:
        table = self._l2(l1_index, for_write=True)
        assert table is not None
        table[slot : slot + len(entries)] = array("Q", entries)
        self.l2_cache.mark_dirty(self.l1[l1_index] & L.OFFSET_MASK)

    def _entries(self, first: int, count: int) -> Iterator[tuple[int, int, list[int]]]:
        """(l1 index, first slot, L2 entries) for clusters [first, first+count), per L2 table."""
        end = first + count
        while first < end:
            l1_index, slot = divmod(first, self.l2_entries)
            n = min(end - first, self.l2_entries - slot)
            table = self._l2(l1_index, for_write=False)
            yield l1_index, slot, [0] * n if table is None else table[slot : slot + n].tolist()
            first += n

    def _lazy_mark_dirty(self) -> None:
        """With lazy refcounts, QEMU sets the dirty bit before the first metadata update."""
        if self.lazy_refcounts and not self.dirty:
            self.header.incompatible |= L.INCOMPAT_DIRTY
            self._write_header()

    def _check_entry(self, entry: int, cluster: int) -> Kind:
        kind = l2_kind(entry)
        if kind in (Kind.ZERO_PLAIN, Kind.ZERO_ALLOC) and self.header.version < 3:
            raise Corrupt(f"zero cluster entry found in a version 2 image "
                          f"(guest cluster {cluster:#x})")  # fmt: skip
        if kind in (Kind.NORMAL, Kind.ZERO_ALLOC):
            host = entry & L.OFFSET_MASK
            if host % self.cluster_size:
                raise Corrupt(f"cluster allocation offset {host:#x} unaligned "
                              f"(guest cluster {cluster:#x})")  # fmt: skip
            if host >= self.io.size or host < self.cluster_size:
                raise Corrupt(f"data cluster offset {host:#x} outside the image file "
                              f"(guest cluster {cluster:#x})")  # fmt: skip
        elif kind == Kind.COMPRESSED:
            host, _ = self.compressed.decode(entry)
            if host >= self.io.size or host < self.cluster_size:
                raise Corrupt(f"compressed cluster offset {host:#x} outside the image file "
                              f"(guest cluster {cluster:#x})")  # fmt: skip
        return kind

    def _metadata_clusters(self) -> set[int]:
        """Clusters holding metadata, for QEMU's overlap check before data writes."""
        h, rc = self.header, self.refcounts
        key = (self._l1_version, rc.version, h.l1_table_offset, h.snapshots_offset,
               rc.table_offset, len(self.snapshot_list))  # fmt: skip
        if key != self._metadata_key:
            cb, cs = self.cluster_bits, self.cluster_size
            found = {0}
            ranges = [(h.l1_table_offset, len(self.l1) * 8),
                      (rc.table_offset, rc.table_clusters * cs),
                      (h.snapshots_offset, self.snapshot_table_size)]  # fmt: skip
            ranges += [(sn.l1_table_offset, sn.l1_size * 8) for sn in self.snapshot_list]
            for start, length in ranges:
                if length:
                    found.update(range(start >> cb, ((start + length - 1) >> cb) + 1))
            found.update((e & L.OFFSET_MASK) >> cb for e in self.l1 if e & L.OFFSET_MASK)
            found.update((e & L.REFT_OFFSET_MASK) >> cb for e in rc.table if e)
            self._metadata_key, self._metadata_set = key, found
        return self._metadata_set

    def _check_not_metadata(self, host: int, clusters: int) -> None:
        meta = self._metadata_clusters()
        first = host >> self.cluster_bits
        for cluster in range(first, first + clusters):
            if cluster in meta:
                raise Corrupt(f"preventing data write to cluster {cluster:#x}: it holds metadata")

    # --- flushing ---------------------------------------------------------------------

    def _flush_metadata(self) -> None:
        rc = self.refcounts
        if not (self.l2_cache.dirty or rc.dirty() or self.l1_dirty or rc.pending):
            if self._data_dirty:
                self._sync()
                self._data_dirty = False
            return
        self._sync()  # data of new clusters, before anything points at it
        rc.write_dirty()
        if not self.lazy_refcounts:
            self._sync()  # refcounts before the tables that reference the clusters
        for offset, table in self.l2_cache.take_dirty():
            self.io.write_table(offset, table)
        if self.l1_dirty:
            self._sync()  # L2 tables before the L1 entries that point at them
            self.io.write_table(self.header.l1_table_offset, self.l1)
            self.l1_dirty = False
        self._sync()
        if rc.pending:  # the references are gone from the disk: now drop the counts
            freed = rc.apply_frees()
            self._compressed_tail = None
            rc.write_dirty()
            if self.discard_enabled:
                self._punch(freed)
            self._sync()
        self._data_dirty = False

    def _punch(self, clusters: list[int]) -> None:
        for start, count in _runs(sorted(clusters)):
            self.io.punch(start << self.cluster_bits, count << self.cluster_bits)

    def flush(self) -> None:
        if self.read_only:
            return
        with self._locked():
            self._flush_metadata()

    def close(self) -> None:
        with self._lock:
            if self.io.fd < 0:
                return
            try:
                if not self.read_only and not self._broken:
                    self._flush_metadata()
                    if self.dirty:
                        self.header.incompatible &= ~L.INCOMPAT_DIRTY
                        self._write_header()
            finally:
                self.io.file.close()
                if self.backing is not None:
                    self.backing.close()

    # --- reading ----------------------------------------------------------------------

    def readv(self, offset: int, buffers: list[memoryview]) -> int:
        length = sum(len(b) for b in buffers)
        self._check_range(offset, length)
        with self._locked():
            plan = self._map(offset, length)
        cursor = BufferCursor(buffers)
        for kind, start, n, where in plan:
            views = cursor.take(n)
            if kind == Kind.NORMAL:
                self.io.readv(where, views)
            elif kind == Kind.UNALLOCATED:
                self._read_backing(start, views)
            elif kind == Kind.COMPRESSED:
                in_cluster = start & (self.cluster_size - 1)
                copy_into(views, memoryview(self._decompress(where))[in_cluster : in_cluster + n])
            else:
                fill_zero(views)
        return length

    def _map(self, offset: int, length: int) -> list[tuple[Kind, int, int, int]]:
        """(kind, guest offset, length, host offset or compressed entry) runs of a request."""
        cs = self.cluster_size
        plan: list[tuple[Kind, int, int, int]] = []
        pos, end = offset, offset + length
        first = offset >> self.cluster_bits
        count = ((end - 1) >> self.cluster_bits) - first + 1 if length else 0
        cluster = first
        for _, _, entries in self._entries(first, count):
            for entry in entries:
                kind = self._check_entry(entry, cluster)
                n = min(end, (cluster + 1) * cs) - pos
                where = entry
                if kind == Kind.NORMAL:
                    where = (entry & L.OFFSET_MASK) + (pos & (cs - 1))
                elif kind == Kind.ZERO_ALLOC:
                    kind = Kind.ZERO_PLAIN
                if plan and kind != Kind.COMPRESSED:
                    k, s, m, w = plan[-1]
                    if k == kind and (kind != Kind.NORMAL or w + m == where):
                        plan[-1] = (k, s, m + n, w)
                        pos += n
                        cluster += 1
                        continue
                plan.append((kind, pos, n, where))
                pos += n
                cluster += 1
        return plan

    def _read_backing(self, offset: int, views: list[memoryview]) -> None:
        backing = self.backing
        if backing is None:
            fill_zero(views)
            return
        inside = max(0, min(sum(len(v) for v in views), backing.length - offset))
        cursor = BufferCursor(views)
        if inside:
            backing.readv(offset, cursor.take(inside))
        rest = sum(len(v) for v in views) - inside
        if rest:
            fill_zero(cursor.take(rest))

    def _decompress(self, entry: int) -> bytes:
        host, size = self.compressed.decode(entry)
        size = min(size, self.io.size - host)
        data = self.io.file.pread(size, host)
        try:
            out = zlib.decompressobj(ZLIB_WBITS).decompress(data, self.cluster_size)
        except zlib.error as e:
            raise BlockError(errno.EIO, f"'{self.path}': bad compressed cluster at "
                                        f"{host:#x}: {e}") from None  # fmt: skip
        if len(out) != self.cluster_size:
            raise BlockError(errno.EIO, f"'{self.path}': compressed cluster at {host:#x} "
                                        f"holds {len(out)} bytes, not a cluster")  # fmt: skip
        return out

    def _old_content(self, entry: int, guest: int, length: int) -> bytes:
        """What [guest, guest+length) (inside one cluster, mapped by `entry`) reads now."""
        if length == 0:
            return b""
        kind = l2_kind(entry)
        if kind == Kind.NORMAL:
            buf = bytearray(length)
            self.io.readv((entry & L.OFFSET_MASK) + (guest & (self.cluster_size - 1)),
                          [memoryview(buf)])  # fmt: skip
            return bytes(buf)
        if kind == Kind.COMPRESSED:
            start = guest & (self.cluster_size - 1)
            return self._decompress(entry)[start : start + length]
        buf = bytearray(length)
        if kind == Kind.UNALLOCATED:
            self._read_backing(guest, [memoryview(buf)])
        return bytes(buf)

    # --- writing ----------------------------------------------------------------------

    def writev(self, offset: int, buffers: list[memoryview]) -> int:
        length = sum(len(b) for b in buffers)
        self._check_writable()
        self._check_range(offset, length)
        cursor = BufferCursor(buffers)
        with self._locked():
            in_place = self._write_locked(offset, length, cursor)
        for host, views in in_place:
            self.io.writev(host, views)
        if self.writethrough:
            self.flush()
        return length

    def _write_locked(
        self, offset: int, length: int, cursor: BufferCursor
    ) -> list[tuple[int, list[memoryview]]]:
        """Allocating writes done here; returns the in-place ones for the caller to do unlocked."""
        cs, cb = self.cluster_size, self.cluster_bits
        in_place: list[tuple[int, list[memoryview]]] = []
        end = offset + length
        first = offset >> cb
        count = ((end - 1) >> cb) - first + 1 if length else 0
        pos = offset
        for l1_index, slot, entries in self._entries(first, count):
            table_owned = bool(self.l1[l1_index] & L.COPIED) if l1_index < len(self.l1) else False
            i = 0
            while i < len(entries):
                owned = table_owned and _owned(entries[i])
                j = i + 1
                while (
                    j < len(entries)
                    and (table_owned and _owned(entries[j])) == owned
                    and (
                        not owned
                        or entries[j] & L.OFFSET_MASK == (entries[j - 1] & L.OFFSET_MASK) + cs
                    )
                ):
                    j += 1
                cluster0 = l1_index * self.l2_entries + slot + i
                run_end = min(end, (cluster0 + j - i) << cb)
                views = cursor.take(run_end - pos)
                if owned:
                    self._check_entry(entries[i], cluster0)
                    host = (entries[i] & L.OFFSET_MASK) + (pos & (cs - 1))
                    self._check_not_metadata(host & ~(cs - 1), j - i)
                    in_place.append((host, views))
                    self._data_dirty = True
                else:
                    for k in range(i, j):
                        self._check_entry(entries[k], cluster0 + k - i)
                    self._allocating_write(l1_index, slot + i, entries[i:j], pos, views)
                pos = run_end
                i = j
        return in_place

    def _allocating_write(
        self, l1_index: int, slot: int, old: list[int], pos: int, views: list[memoryview]
    ) -> None:
        """New clusters for a run: old content around the request copied in, one pwritev."""
        cs = self.cluster_size
        self._l2(l1_index, for_write=True)  # allocate or copy the table before its clusters
        first_guest = (l1_index * self.l2_entries + slot) * cs
        length = sum(len(v) for v in views)
        head = self._old_content(old[0], first_guest, pos - first_guest)
        tail_start = pos + length
        tail = self._old_content(old[-1], tail_start, first_guest + len(old) * cs - tail_start)
        self._lazy_mark_dirty()
        host = self.refcounts.allocate(len(old))
        self._check_not_metadata(host, len(old))
        self.io.writev(host, [memoryview(head), *views, memoryview(tail)])
        self._data_dirty = True
        self._set_l2(l1_index, slot, [(host + i * cs) | L.COPIED for i in range(len(old))])
        for entry in old:
            self._release(entry)

    def _release(self, entry: int) -> None:
        """Drop this image's reference to the host cluster(s) an old L2 entry pointed at."""
        kind = l2_kind(entry)
        if kind in (Kind.NORMAL, Kind.ZERO_ALLOC):
            self.refcounts.free(entry & L.OFFSET_MASK, self.cluster_size)
        elif kind == Kind.COMPRESSED:
            self.refcounts.free(*self.compressed.span(entry))

    def write_compressed(self, offset: int, data: bytes) -> None:
        """One whole cluster at a cluster-aligned offset, stored compressed when that is smaller."""
        cs = self.cluster_size
        self._check_writable()
        if offset % cs or len(data) != min(cs, self.header.size - offset):
            raise BlockError(errno.EINVAL, f"'{self.path}': compressed writes take one whole "
                                           "cluster at a cluster boundary")  # fmt: skip
        self._check_range(offset, len(data))
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, ZLIB_WBITS)
        packed = compressor.compress(bytes(data).ljust(cs, b"\0")) + compressor.flush()
        if len(packed) >= cs:
            self.writev(offset, [memoryview(data)])
            return
        cluster = offset >> self.cluster_bits
        l1_index, slot = divmod(cluster, self.l2_entries)
        with self._locked():
            table = self._l2(l1_index, for_write=True)
            assert table is not None
            old = table[slot]
            self._check_entry(old, cluster)
            self._lazy_mark_dirty()
            host = self._allocate_bytes(len(packed))
            self.io.write(host, packed)
            self._data_dirty = True
            self._set_l2(l1_index, slot, [self.compressed.encode(host, len(packed))])
            self._release(old)

    def _allocate_bytes(self, size: int) -> int:
        """Room for compressed data, packed after the previous one as QEMU does."""
        cs, rc = self.cluster_size, self.refcounts
        tail = self._compressed_tail
        if tail is not None and (tail % cs) + size <= cs:
            cluster = tail >> self.cluster_bits
            if 0 < rc.get(cluster) < rc.max:
                rc.add(cluster, 1)
                self._compressed_tail = tail + size if (tail + size) % cs else None
                return tail
        host = rc.allocate(1)
        self._check_not_metadata(host, 1)
        self._compressed_tail = host + size if size < cs else None
        return host

    # --- discard and zeroes -----------------------------------------------------------

    def discard(self, offset: int, length: int) -> None:
        """Whole clusters only, as QEMU; on v3 with a backing file they then read zeroes."""
        if not self.discard_enabled or self.read_only:
            return
        self._check_range(offset, length)
        with self._locked():
            self._drop_clusters(offset, length, "discard")
        if self.writethrough:
            self.flush()

    def write_zeroes(self, offset: int, length: int, *, unmap: bool) -> None:
        self._check_writable()
        self._check_range(offset, length)
        cs = self.cluster_size
        start = -(-offset // cs) * cs
        stop = min(offset + length, self.header.size)
        whole_end = stop if stop == self.header.size else stop // cs * cs
        if start >= whole_end or (self.header.version < 3 and self.backing is not None):
            self._write_zero_bytes(offset, length)
            return
        self._write_zero_bytes(offset, start - offset)
        with self._locked():
            self._drop_clusters(start, whole_end - start, "zero")
        self._write_zero_bytes(whole_end, offset + length - whole_end)
        if self.writethrough:
            self.flush()

    def _write_zero_bytes(self, offset: int, length: int) -> None:
        chunk = 1 << 20
        zeroes = memoryview(bytes(min(length, chunk)))
        while length > 0:
            n = min(length, chunk)
            self.writev(offset, [zeroes[:n]])
            offset += n
            length -= n

    def _drop_clusters(self, offset: int, length: int, how: str) -> None:
        """New L2 entries for the whole clusters in range: how = discard, zero or full."""
        cs = self.cluster_size
        first = -(-offset // cs)
        end = offset + length
        # a partial last cluster counts as whole
        stop = -(-end // cs) if end == self.header.size else end // cs
        count = stop - first
        v3 = self.header.version >= 3
        for l1_index, slot, entries in list(self._entries(first, max(count, 0))):
            new = []
            for entry in entries:
                allocated = l2_kind(entry) not in (Kind.UNALLOCATED, Kind.ZERO_PLAIN)
                if how == "full" or not v3:
                    value = 0
                elif how == "zero" or self.backing is not None or allocated:
                    value = L.ZERO
                else:
                    value = entry
                new.append(value)
            if new == entries:
                continue
            self._lazy_mark_dirty()
            self._set_l2(l1_index, slot, new)
            for entry, value in zip(entries, new, strict=True):
                if entry != value:
                    self._release(entry)

    def make_empty(self) -> None:
        """Drop every cluster of this image (for commit): reads then come from the backing file."""
        self._check_writable()
        with self._locked():
            self._drop_clusters(0, self.header.size, "full")
            self._flush_metadata()

    # --- size, backing file -----------------------------------------------------------

    def resize(self, new_length: int) -> None:
        self._check_writable()
        if new_length < 0 or new_length % 512:
            raise BlockError(errno.EINVAL, f"'{self.path}': the new size must be a multiple "
                                           "of 512")  # fmt: skip
        with self._locked():
            old = self.header.size
            if self.snapshot_list and self.header.version < 3 and new_length != old:
                raise BlockError(errno.ENOTSUP, f"'{self.path}': can't resize a v2 image which "
                                                "has snapshots")  # fmt: skip
            if new_length < old:
                self._shrink(new_length)
            elif new_length > old:
                self._grow(old, new_length)

    def _shrink(self, new_length: int) -> None:
        cs = self.cluster_size
        first = -(-new_length // cs)
        count = -(-self.header.size // cs) - first
        for _, _, entries in self._entries(first, count):
            if any(l2_kind(e) not in (Kind.UNALLOCATED, Kind.ZERO_PLAIN) for e in entries):
                raise BlockError(errno.ENOTSUP, f"'{self.path}': cannot shrink: clusters "
                                                "beyond the new size are allocated")  # fmt: skip
        if count > 0:
            self._drop_clusters(first * cs, count * cs, "full")
        self._flush_metadata()
        self.header.size = new_length
        self._write_header()

    def _grow(self, old: int, new_length: int) -> None:
        needed = -(-new_length // (self.cluster_size * self.l2_entries))
        if needed * 8 > L.MAX_L1_BYTES:
            raise BlockError(errno.EFBIG, f"'{self.path}': {new_length} bytes is too big")
        if needed > len(self.l1):
            self._resize_l1(needed)
        self.header.size = new_length
        cs = self.cluster_size
        if old % cs:  # the old last cluster's tail may hold stale data: it must read zeroes
            self._zero_locked(old, min(new_length, -(-old // cs) * cs) - old)
        backing_end = self.backing.length if self.backing is not None else 0
        if backing_end > old:  # QEMU: growing never makes backing data visible
            self._zero_locked(-(-old // cs) * cs, min(new_length, backing_end) - -(-old // cs) * cs)
        self._flush_metadata()
        self._write_header()

    def _zero_locked(self, offset: int, length: int) -> None:
        if length <= 0:
            return
        cs = self.cluster_size
        if offset % cs == 0 and self.header.version >= 3:
            self._drop_clusters(offset, length, "zero")
            return
        cluster = offset >> self.cluster_bits
        kind = l2_kind(next(self._entries(cluster, 1))[2][0])
        backing_end = self.backing.length if self.backing is not None else 0
        if kind == Kind.ZERO_PLAIN or (kind == Kind.UNALLOCATED and backing_end <= offset):
            return  # reads zeroes already
        zeroes = BufferCursor([memoryview(bytes(length))])
        for host, views in self._write_locked(offset, length, zeroes):
            self.io.writev(host, views)

    def _resize_l1(self, entries: int) -> None:
        """A bigger active L1 table in new clusters; the header is switched once it is written."""
        self._flush_metadata()
        clusters = -(-entries * 8 // self.cluster_size)
        old_offset, old_size = self.header.l1_table_offset, len(self.l1)
        new_offset = self.refcounts.allocate(clusters)
        self.l1.extend([0] * (entries - len(self.l1)))
        self.refcounts.write_dirty()
        self.io.write_table(new_offset, self.l1)
        self._sync()
        self.header.l1_table_offset, self.header.l1_size = new_offset, entries
        self._write_header()
        self._l1_version += 1
        if old_size:
            self.refcounts.free(old_offset, old_size * 8)
        self._flush_metadata()

    def set_backing(self, backing_file: str | None, backing_format: str | None) -> None:
        """Record another backing file (for rebase); the caller reopens the chain."""
        self._check_writable()
        with self._locked():
            self._flush_metadata()
            old = (self.header.backing_file, self.header.backing_format)
            self.header.backing_file = backing_file or None
            self.header.backing_format = backing_format if backing_file else None
            try:
                self._write_header()
            except HeaderError as e:
                self.header.backing_file, self.header.backing_format = old
                raise BlockError(errno.EINVAL, f"'{self.path}': {e}") from None

    # --- block status -----------------------------------------------------------------

    def block_status(self, offset: int, length: int) -> list[Extent]:
        self._check_range(offset, length)
        with self._locked():
            plan = self._map(offset, length)
        out: list[Extent] = []
        for kind, start, n, where in plan:
            if kind == Kind.NORMAL:
                out.append(Extent(start, n, 0, True, False, True, where))
            elif kind == Kind.COMPRESSED:
                out.append(Extent(start, n, 0, True, False, True, None, True))
            elif kind == Kind.ZERO_PLAIN:
                out.append(Extent(start, n, 0, True, True, False, self._zero_alloc_offset(start)))
            else:
                out.extend(self._backing_status(start, n))
        return merge_extents(out)

    def _zero_alloc_offset(self, guest: int) -> int | None:
        cluster = guest >> self.cluster_bits
        l1_index, slot = divmod(cluster, self.l2_entries)
        with self._locked():
            table = self._l2(l1_index, for_write=False)
        entry = table[slot] if table is not None else 0
        if l2_kind(entry) == Kind.ZERO_ALLOC:
            return (entry & L.OFFSET_MASK) + (guest & (self.cluster_size - 1))
        return None

    def _backing_status(self, start: int, n: int) -> list[Extent]:
        backing = self.backing
        if backing is None:
            return [Extent(start, n, 0, False, True, False)]
        inside = max(0, min(n, backing.length - start))
        out = [dataclasses.replace(e, depth=e.depth + 1)
               for e in backing.block_status(start, inside)] if inside else []  # fmt: skip
        if inside < n:
            # Past the end of the backing file: QEMU reports it at this layer.
            out.append(Extent(start + inside, n - inside, 0, False, True, False))
        return out

    # --- check ------------------------------------------------------------------------

    def check(self, repair: str | None = None) -> CheckResult:
        """qemu-img check: counts, messages, and repairs with repair="leaks" or "all"."""
        if repair is not None:
            self._check_writable()
        with self._locked():
            if not self.read_only:
                self._flush_metadata()
            return check_image(self, repair)

    def snapshots(self) -> list[SnapshotInfo]:
        return list(self.snapshot_list)


def _owned(entry: int) -> bool:
    """A normal cluster with refcount 1: written in place."""
    return l2_kind(entry) == Kind.NORMAL and bool(entry & L.COPIED)


def _runs(sorted_items: list[int]) -> Iterator[tuple[int, int]]:
    start = prev = None
    for item in sorted_items:
        if start is not None and prev is not None and item == prev + 1:
            prev = item
            continue
        if start is not None and prev is not None:
            yield start, prev - start + 1
        start = prev = item
    if start is not None and prev is not None:
        yield start, prev - start + 1
