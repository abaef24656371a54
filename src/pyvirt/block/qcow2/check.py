"""qemu-img check for qcow2: references counted from every table, compared with the refcounts.

Counters, messages and repairs follow QEMU's qcow2_check_refcounts: leaks
are fixed by lowering refcounts, wrong counts by setting them, a refcount of
zero on a used cluster (or broken refcount blocks) by rebuilding the whole
refcount structure at the end of the file, then the COPIED flags of the
active tree are checked and fixed.
"""

from __future__ import annotations

import errno
import os
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import layout as L
from .fileio import Corrupt
from .layout import Kind, l2_kind
from .refcount import encode_values

if TYPE_CHECKING:
    from .image import Qcow2Image


@dataclass
class CheckResult:
    corruptions: int = 0
    leaks: int = 0
    check_errors: int = 0
    corruptions_fixed: int = 0
    leaks_fixed: int = 0
    image_end_offset: int = 0
    total_clusters: int = 0
    allocated_clusters: int = 0
    fragmented_clusters: int = 0
    compressed_clusters: int = 0
    messages: list[str] = field(default_factory=list)


def check_image(image: Qcow2Image, repair: str | None) -> CheckResult:
    if repair not in (None, "leaks", "all"):
        raise ValueError(f"repair must be None, 'leaks' or 'all', not {repair!r}")
    checker = _Checker(image, fix_leaks=repair is not None, fix_errors=repair == "all")
    checker.run()
    return checker.res


class _Checker:
    def __init__(self, image: Qcow2Image, *, fix_leaks: bool, fix_errors: bool) -> None:
        self.img = image
        self.fix_leaks, self.fix_errors = fix_leaks, fix_errors
        self.res = CheckResult()
        self.cb = image.cluster_bits
        self.cs = image.cluster_size
        self.nb = -(-image.io.size // self.cs)
        self.refs = array("I", bytes(4 * self.nb))
        self.beyond: dict[int, int] = defaultdict(int)  # references past the end of the file
        self.next_contiguous = 0
        self.rebuild = False
        self.refcount_corruptions = 0
        self.refcount_leaks = 0
        self.old_structure: list[int] = []  # refcount table and block clusters, replaced by rebuild

    def say(self, text: str) -> None:
        self.res.messages.append(text)

    def inc(self, offset: int, length: int) -> None:
        for cluster in range(offset >> self.cb, ((offset + length - 1) >> self.cb) + 1):
            if cluster < self.nb:
                self.refs[cluster] += 1
            else:
                self.beyond[cluster] += 1

    # --- counting references ---------------------------------------------------------------

    def run(self) -> None:
        img, h, res = self.img, self.img.header, self.res
        self.inc(0, self.cs)
        self.check_l1(h.l1_table_offset, img.l1, active=True)
        for sn in img.snapshot_list:
            try:
                table = img.io.read_table(sn.l1_table_offset, sn.l1_size, "snapshot L1 table")
            except Corrupt as e:
                self.say(f"ERROR snapshot {sn.id} ({sn.name}): {e}")
                res.corruptions += 1
                continue
            self.check_l1(sn.l1_table_offset, table, active=False)
        if h.nb_snapshots:
            self.inc(h.snapshots_offset, img.snapshot_table_size)
        rc = img.refcounts
        self.inc(rc.table_offset, rc.table_clusters * self.cs)
        first = rc.table_offset >> self.cb
        self.old_structure += range(first, first + rc.table_clusters)
        self.check_refblocks()
        highest = self.compare()
        if self.rebuild and self.fix_errors:
            highest = self.rebuild_refcounts()
        elif self.rebuild and self.fix_leaks:
            self.say("ERROR need to rebuild refcount structures")
            res.check_errors += 1
        if self.fix_leaks and not self.rebuild:
            rc.write_dirty()
            img._sync()
        self.check_copied()
        res.image_end_offset = (highest + 1) * self.cs
        res.total_clusters = -(-h.size // self.cs)
        if self.fix_errors and not res.corruptions and not res.check_errors:
            h.incompatible &= ~(L.INCOMPAT_CORRUPT | L.INCOMPAT_DIRTY)
            img._write_header()
            img._broken = None
        img.l2_cache.clear()

    def check_l1(self, offset: int, l1: array[int], *, active: bool) -> None:
        if len(l1):
            self.inc(offset, len(l1) * 8)
        for _index, entry in enumerate(l1):
            l2_offset = entry & L.OFFSET_MASK
            if not l2_offset:
                continue
            if l2_offset % self.cs:
                self.say(f"ERROR l2_offset={l2_offset:x}: Table is not cluster aligned; "
                         "L1 entry corrupted")  # fmt: skip
                self.res.corruptions += 1
                continue
            if l2_offset + self.cs > self.img.io.size:
                self.say(f"ERROR l2_offset={l2_offset:x}: Table is outside the image file; "
                         "L1 entry corrupted")  # fmt: skip
                self.res.corruptions += 1
                continue
            self.inc(l2_offset, self.cs)
            table = self.img.io.read_table(l2_offset, self.cs // 8, "L2 table")
            if self.check_l2(table, active=active):
                self.img.io.write_table(l2_offset, table)

    def check_l2(self, table: array[int], *, active: bool) -> bool:
        """Count one table's references; True when repairs changed it."""
        res, cs, size = self.res, self.cs, self.img.io.size
        changed = False
        for i, entry in enumerate(table):
            if not entry:
                continue
            kind = l2_kind(entry)
            if kind == Kind.COMPRESSED:
                if entry & L.COPIED:
                    self.say(f"ERROR: coffset=0x{entry & self.img.compressed.offset_mask:x}: "
                             "Compressed cluster has copied flag set")  # fmt: skip
                    res.corruptions += 1
                if active:
                    res.allocated_clusters += 1
                    res.compressed_clusters += 1
                    res.fragmented_clusters += 1
                start, length = self.img.compressed.span(entry)
                if start >= size:
                    changed |= self.beyond_eof(table, i, start)
                    continue
                self.inc(start, length)
            elif kind in (Kind.NORMAL, Kind.ZERO_ALLOC):
                offset = entry & L.OFFSET_MASK
                if offset % cs:
                    if kind == Kind.ZERO_ALLOC and self.fix_errors:
                        self.say(f"Repairing offset={offset:x}: Preallocated cluster is not "
                                 "properly aligned; L2 entry corrupted.")  # fmt: skip
                        table[i] = L.ZERO
                        res.corruptions_fixed += 1
                        changed = True
                        continue
                    what = "Preallocated" if kind == Kind.ZERO_ALLOC else "Data"
                    self.say(f"ERROR offset={offset:x}: {what} cluster is not properly aligned; "
                             "L2 entry corrupted.")  # fmt: skip
                    res.corruptions += 1
                if offset >= size:
                    changed |= self.beyond_eof(table, i, offset)
                    continue
                if active:
                    res.allocated_clusters += 1
                    if self.next_contiguous and offset != self.next_contiguous:
                        res.fragmented_clusters += 1
                    self.next_contiguous = offset + cs
                self.inc(offset, cs)
        return changed

    def beyond_eof(self, table: array[int], index: int, offset: int) -> bool:
        """An L2 entry pointing past the end of the file: it reads zeroes, so make it say so."""
        if self.fix_errors:
            self.say(f"Repairing offset={offset:x}: Data cluster is beyond the end of the "
                     "image file; L2 entry corrupted.")  # fmt: skip
            table[index] = L.ZERO if self.img.header.version >= 3 else 0
            self.res.corruptions_fixed += 1
            return True
        self.say(f"ERROR offset={offset:x}: Data cluster is beyond the end of the image file; "
                 "L2 entry corrupted.")  # fmt: skip
        self.res.corruptions += 1
        return False

    def check_refblocks(self) -> None:
        rc = self.img.refcounts
        for index, entry in enumerate(rc.table):
            offset = entry & L.REFT_OFFSET_MASK
            if not offset:
                continue
            if offset % self.cs:
                self.say(f"ERROR refcount block {index} is not cluster aligned; refcount table "
                         "entry corrupted")  # fmt: skip
                self.res.corruptions += 1
                self.rebuild = True
                continue
            cluster = offset >> self.cb
            if cluster >= self.nb:
                self.say(f"ERROR refcount block {index} is outside image")
                self.res.corruptions += 1
                self.rebuild = True
                continue
            self.inc(offset, self.cs)
            self.old_structure.append(cluster)
            if self.refs[cluster] != 1:
                self.say(f"ERROR refcount block {index} refcount={self.refs[cluster]}")
                self.res.corruptions += 1
                self.rebuild = True

    # --- comparing and repairing -------------------------------------------------------------

    def compare(self) -> int:
        rc, res = self.img.refcounts, self.res
        highest = 0
        clusters = [*range(self.nb), *sorted(self.beyond)]
        for cluster in clusters:
            try:
                refcount = rc.get(cluster)
            except Corrupt:
                self.say(f"Can't get refcount for cluster {cluster}: {os.strerror(errno.EIO)}")
                res.check_errors += 1
                continue
            reference = self.refs[cluster] if cluster < self.nb else self.beyond[cluster]
            if refcount or reference:
                highest = cluster
            if refcount == reference:
                continue
            fixed = False
            if refcount == 0 or reference > rc.max:
                self.rebuild = True
            else:
                fixed = self.fix_leaks if refcount > reference else self.fix_errors
            tag = "Repairing" if fixed else "ERROR" if refcount < reference else "Leaked"
            self.say(f"{tag} cluster {cluster} refcount={refcount} reference={reference}")
            if fixed:
                rc.set(cluster, reference)
                if refcount > reference:
                    res.leaks_fixed += 1
                else:
                    res.corruptions_fixed += 1
            elif refcount < reference:
                res.corruptions += 1
                self.refcount_corruptions += 1
            else:
                res.leaks += 1
                self.refcount_leaks += 1
        return highest

    def rebuild_refcounts(self) -> int:
        """New refcount blocks and table after the last used cluster, then the header switched."""
        img, rc, res = self.img, self.img.refcounts, self.res
        self.say("Rebuilding refcount structure")
        used = [c for c in range(self.nb) if self.refs[c]]
        used_end = (used[-1] + 1) if used else 1
        blocks = tclusters = 0
        while True:
            end = used_end + tclusters + blocks
            new_blocks = -(-end // rc.per_block)
            new_tclusters = -(-new_blocks * 8 // self.cs)
            if (new_blocks, new_tclusters) == (blocks, tclusters):
                break
            blocks, tclusters = new_blocks, new_tclusters
        counts = self.refs.tolist()[:used_end]
        for cluster in self.old_structure:  # left behind, unreferenced, once the header switches
            counts[cluster] -= 1
        counts += [1] * (tclusters + blocks)
        table = array("Q", [(used_end + tclusters + b) << self.cb for b in range(blocks)])
        table.extend([0] * (tclusters * self.cs // 8 - blocks))
        for b in range(blocks):
            values = counts[b * rc.per_block : (b + 1) * rc.per_block]
            img.io.write(table[b], encode_values(values, rc.bits, self.cs))
        table_offset = used_end << self.cb
        img.io.write_table(table_offset, table)
        img._sync()
        img.header.refcount_table_offset = table_offset
        img.header.refcount_table_clusters = tclusters
        img._write_header()
        rc.reload(table_offset, tclusters)
        res.corruptions_fixed += self.refcount_corruptions
        res.corruptions -= self.refcount_corruptions
        res.leaks_fixed += self.refcount_leaks
        res.leaks -= self.refcount_leaks
        return len(counts) - 1

    def check_copied(self) -> None:
        """COPIED must be set exactly where the refcount is 1 (active tree only)."""
        img, rc, res = self.img, self.img.refcounts, self.res
        fix = self.fix_errors
        tag = "Repairing" if fix else "ERROR"
        l1_changed = False
        for index, entry in enumerate(img.l1):
            l2_offset = entry & L.OFFSET_MASK
            if not l2_offset or l2_offset % self.cs or l2_offset + self.cs > img.io.size:
                continue
            try:
                refcount = rc.get(l2_offset >> self.cb)
            except Corrupt:
                continue
            if (refcount == 1) != bool(entry & L.COPIED):
                self.say(f"{tag} OFLAG_COPIED L2 cluster: l1_index={index} l1_entry={entry:x} "
                         f"refcount={refcount}")  # fmt: skip
                if fix:
                    img.l1[index] = l2_offset | (L.COPIED if refcount == 1 else 0)
                    l1_changed = True
                    res.corruptions_fixed += 1
                else:
                    res.corruptions += 1
            table = img.io.read_table(l2_offset, self.cs // 8, "L2 table")
            changed = False
            for i, e in enumerate(table):
                if l2_kind(e) not in (Kind.NORMAL, Kind.ZERO_ALLOC):
                    continue
                offset = e & L.OFFSET_MASK
                if offset % self.cs or offset >= img.io.size:
                    continue
                refcount = rc.get(offset >> self.cb)
                if (refcount == 1) != bool(e & L.COPIED):
                    self.say(f"{tag} OFLAG_COPIED data cluster: l2_entry={e:x} "
                             f"refcount={refcount}")  # fmt: skip
                    if fix:
                        table[i] = (e & ~L.COPIED) | (L.COPIED if refcount == 1 else 0)
                        changed = True
                        res.corruptions_fixed += 1
                    else:
                        res.corruptions += 1
            if changed:
                img.io.write_table(l2_offset, table)
        if l1_changed:
            img.io.write_table(img.header.l1_table_offset, img.l1)
        if fix:
            img._sync()
