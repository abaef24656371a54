"""Internal snapshots: create, apply (goto) and delete, with their refcount updates.

Each snapshot's L1 table counts as one more reference on every L2 table and
data cluster of its tree, as in QEMU; COPIED flags of the active tree are
recomputed afterwards. Every step is written and synced before the header
points at it, so a crash leaves leaks at worst.
"""

from __future__ import annotations

import errno
import time
from array import array
from typing import TYPE_CHECKING

from ..driver import BlockError
from . import layout as L
from .layout import Kind, l2_kind
from .snapshot_table import SnapshotInfo, pack_snapshots

if TYPE_CHECKING:
    from .image import Qcow2Image


class SnapshotOps:
    def snapshot_create(self: Qcow2Image, name: str) -> None:
        self._check_writable()
        with self._locked():
            self._flush_metadata()
            if len(self.snapshot_list) >= L.MAX_SNAPSHOTS:
                raise BlockError(errno.EFBIG, f"'{self.path}': too many snapshots")
            numeric = [int(s.id) for s in self.snapshot_list if s.id.isdigit()]
            l1_offset = 0
            if len(self.l1):
                l1_offset = self.refcounts.allocate(-(-len(self.l1) * 8 // self.cluster_size))
                self.io.write_table(l1_offset, array("Q", [e & ~L.COPIED for e in self.l1]))
            self._tree_refs(self.l1, +1)
            self._refresh_copied()
            self._flush_metadata()
            now = time.time_ns()
            snapshot = SnapshotInfo(
                id=str(max(numeric, default=0) + 1), name=name, vm_state_size=0,
                date_sec=now // 10**9, date_nsec=now % 10**9, vm_clock_nsec=0, icount=None,
                l1_table_offset=l1_offset, l1_size=len(self.l1), disk_size=self.header.size,
            )  # fmt: skip
            self._write_snapshot_table([*self.snapshot_list, snapshot])

    def snapshot_apply(self: Qcow2Image, name_or_id: str) -> None:
        """Revert the active image to a snapshot (qemu-img snapshot -a)."""
        self._check_writable()
        with self._locked():
            self._flush_metadata()
            sn = self._find_snapshot(name_or_id)
            sn_l1 = self.io.read_table(sn.l1_table_offset, sn.l1_size, "snapshot L1 table")
            size = self.header.size if sn.disk_size is None else sn.disk_size
            needed = -(-size // (self.cluster_size * self.l2_entries))
            entries = max(len(self.l1), sn.l1_size, needed)
            self._tree_refs(sn_l1, +1)
            self.refcounts.write_dirty()
            self._sync()
            old_l1 = self.l1
            new_l1 = array("Q", [e & ~L.COPIED for e in sn_l1])
            new_l1.extend([0] * (entries - len(new_l1)))
            old_offset = self.header.l1_table_offset
            if entries > len(old_l1):
                self.header.l1_table_offset = self.refcounts.allocate(
                    -(-entries * 8 // self.cluster_size)
                )
                self.refcounts.write_dirty()
            self.io.write_table(self.header.l1_table_offset, new_l1)
            self._sync()
            self.header.l1_size, self.header.size = entries, size
            self._write_header()
            self.l1 = new_l1
            self._l1_version += 1
            self.l2_cache.clear()
            self._tree_refs(old_l1, -1)
            if entries > len(old_l1) and len(old_l1):
                self.refcounts.free(old_offset, len(old_l1) * 8)
            self._refresh_copied()
            self._flush_metadata()

    def snapshot_delete(self: Qcow2Image, name_or_id: str) -> None:
        self._check_writable()
        with self._locked():
            self._flush_metadata()
            sn = self._find_snapshot(name_or_id)
            self._write_snapshot_table([s for s in self.snapshot_list if s is not sn])
            sn_l1 = self.io.read_table(sn.l1_table_offset, sn.l1_size, "snapshot L1 table")
            freed: list[int] = []
            self._tree_refs(sn_l1, -1, freed)
            if sn.l1_size:
                first = sn.l1_table_offset >> self.cluster_bits
                last = (sn.l1_table_offset + sn.l1_size * 8 - 1) >> self.cluster_bits
                freed += [c for c in range(first, last + 1) if self.refcounts.add(c, -1) == 0]
            self.refcounts.write_dirty()
            self._sync()
            self._punch(freed)  # QEMU discards what a deleted snapshot frees
            self._refresh_copied()
            self._flush_metadata()

    def _find_snapshot(self: Qcow2Image, name_or_id: str) -> SnapshotInfo:
        for sn in self.snapshot_list:
            if sn.id == name_or_id:
                return sn
        for sn in self.snapshot_list:
            if sn.name == name_or_id:
                return sn
        raise BlockError(errno.ENOENT, "Can't find the snapshot")

    def _write_snapshot_table(self: Qcow2Image, snapshots: list[SnapshotInfo]) -> None:
        """The table in new clusters, then the header pointing at it, then the old one freed."""
        data = pack_snapshots(snapshots, self.header.size)
        old_offset, old_size = self.header.snapshots_offset, self.snapshot_table_size
        offset = 0
        if data:
            offset = self.refcounts.allocate(-(-len(data) // self.cluster_size))
            self.refcounts.write_dirty()
            self.io.write(offset, data)
            self._sync()
        self.header.snapshots_offset, self.header.nb_snapshots = offset, len(snapshots)
        self._write_header()
        self.snapshot_list, self.snapshot_table_size = snapshots, len(data)
        if old_size:
            self.refcounts.free(old_offset, old_size)
        self._flush_metadata()

    def _tree_refs(
        self: Qcow2Image, l1: array[int], delta: int, freed: list[int] | None = None
    ) -> None:
        """`delta` on the refcount of every L2 table and data cluster an L1 table reaches."""
        rc, cb = self.refcounts, self.cluster_bits

        def add(cluster: int) -> None:
            if rc.add(cluster, delta) == 0 and freed is not None:
                freed.append(cluster)

        for l1_index, entry in enumerate(l1):
            offset = entry & L.OFFSET_MASK
            if not offset:
                continue
            table = self._load_l2(offset, l1_index)
            for e in table:
                if not e:
                    continue
                kind = self._check_entry(e, -1)
                if kind in (Kind.NORMAL, Kind.ZERO_ALLOC):
                    add((e & L.OFFSET_MASK) >> cb)
                elif kind == Kind.COMPRESSED:
                    start, length = self.compressed.span(e)
                    for cluster in range(start >> cb, ((start + length - 1) >> cb) + 1):
                        add(cluster)
            add(offset >> cb)

    def _refresh_copied(self: Qcow2Image) -> None:
        """COPIED set exactly on the active tree's entries whose refcount is 1.

        Tables that just became shared are rewritten too: their entries lose COPIED.
        """
        rc, cb = self.refcounts, self.cluster_bits
        for l1_index, entry in enumerate(self.l1):
            offset = entry & L.OFFSET_MASK
            if not offset:
                continue
            owned = rc.get(offset >> cb) == 1
            want = offset | (L.COPIED if owned else 0)
            if want != entry:
                self.l1[l1_index] = want
                self.l1_dirty = True
            table = self._load_l2(offset, l1_index)
            changed = False
            for i, e in enumerate(table):
                if l2_kind(e) in (Kind.NORMAL, Kind.ZERO_ALLOC):
                    flag = L.COPIED if rc.get((e & L.OFFSET_MASK) >> cb) == 1 else 0
                    if (e & L.COPIED) != flag:
                        table[i] = (e & ~L.COPIED) | flag
                        changed = True
            if changed:
                self.l2_cache.mark_dirty(offset)
