"""The internal snapshot table: entries parsed (bounded, checked) and packed."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import layout as L
from .fileio import Corrupt, ImageFile

_ENTRY = struct.Struct(">QIHHIIQII")  # 40 bytes
_EXTRA = struct.Struct(">QQq")  # vm_state_size_large, disk_size, icount
MAX_EXTRA = 1024
NO_ICOUNT = -1


@dataclass
class SnapshotInfo:
    id: str
    name: str
    vm_state_size: int
    date_sec: int
    date_nsec: int
    vm_clock_nsec: int
    icount: int | None
    l1_table_offset: int = 0
    l1_size: int = 0
    disk_size: int | None = None  # None in old v2 entries: the image's size then
    unknown_extra: bytes = b""  # extra data past the fields we know, kept


def read_snapshots(
    io: ImageFile, offset: int, count: int, cluster_size: int
) -> tuple[list[SnapshotInfo], int]:
    """The entries, and the table's size in bytes as stored."""
    out = []
    pos = offset
    for i in range(count):
        what = f"snapshot table entry {i}"
        (l1_offset, l1_size, id_size, name_size, date_sec, date_nsec, vm_clock, vm_state,
         extra_size) = _ENTRY.unpack(io.read(pos, _ENTRY.size, what))  # fmt: skip
        if extra_size > MAX_EXTRA:
            raise Corrupt(f"{what}: too much extra data ({extra_size} bytes)")
        body = io.read(pos + _ENTRY.size, extra_size + id_size + name_size, what)
        extra = body[:extra_size] + bytes(max(0, _EXTRA.size - extra_size))
        vm_state_large, disk_size, icount = _EXTRA.unpack_from(extra)
        if l1_size * 8 > L.MAX_L1_BYTES:
            raise Corrupt(f"{what}: L1 table too large ({l1_size} entries)")
        if l1_offset % cluster_size or (l1_size and l1_offset == 0):
            raise Corrupt(f"{what}: L1 table offset {l1_offset:#x} invalid")
        if l1_offset + l1_size * 8 > io.size:
            raise Corrupt(f"{what}: L1 table lies outside the image file")
        out.append(SnapshotInfo(
            id=body[extra_size:extra_size + id_size].decode(errors="replace"),
            name=body[extra_size + id_size:].decode(errors="replace"),
            vm_state_size=vm_state_large if extra_size >= 8 else vm_state,
            date_sec=date_sec, date_nsec=date_nsec, vm_clock_nsec=vm_clock,
            icount=icount if extra_size >= 24 and icount != NO_ICOUNT else None,
            l1_table_offset=l1_offset, l1_size=l1_size,
            disk_size=disk_size if extra_size >= 16 else None,
            unknown_extra=body[_EXTRA.size:extra_size] if extra_size > _EXTRA.size else b"",
        ))  # fmt: skip
        pos += _entry_size(_ENTRY.size + extra_size + id_size + name_size)
        if pos - offset > L.MAX_SNAPSHOT_TABLE_BYTES:
            raise Corrupt("snapshot table too large")
    return out, pos - offset


def _entry_size(n: int) -> int:
    return (n + 7) & ~7


def pack_snapshots(snapshots: list[SnapshotInfo], image_size: int) -> bytes:
    out = bytearray()
    for sn in snapshots:
        ident, name = sn.id.encode(), sn.name.encode()
        icount = NO_ICOUNT if sn.icount is None else sn.icount
        disk = image_size if sn.disk_size is None else sn.disk_size
        extra = _EXTRA.pack(sn.vm_state_size, disk, icount) + sn.unknown_extra
        entry = _ENTRY.pack(sn.l1_table_offset, sn.l1_size, len(ident), len(name), sn.date_sec,
                            sn.date_nsec, sn.vm_clock_nsec, min(sn.vm_state_size, 0xFFFFFFFF),
                            len(extra)) + extra + ident + name  # fmt: skip
        out += entry + bytes(_entry_size(len(entry)) - len(entry))
    return bytes(out)
