"""The snapshot stream: a header naming the machine, its state as JSON, then guest RAM.

    magic "PYVIRTSS", u32 version, u32 length, JSON {"machine": ..., "state": ...}
    RAM records: u64 guest address, u32 length, u32 CRC-32 of the data, the data
    end record: address END_ADDRESS, length 0, CRC-32 of everything before it

Only pages the VMM process has ever touched are written (from /proc/self/pagemap), and
of those only chunks that are not all zero, so an idle 1 GiB guest writes megabytes.
Data goes straight between the guest's mapping and the file descriptor, a chunk at a
time: a snapshot never holds a second copy of guest memory. The stream is sequential,
so it can go through a pipe (exec:cat > FILE). All little-endian.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import zlib
from array import array
from collections.abc import Iterator
from typing import Any

from pyvirt.memory import GuestMemory, GuestMemoryError, RamRegion, host_address

MAGIC = b"PYVIRTSS"
VERSION = 1
END_ADDRESS = (1 << 64) - 1
CHUNK = 256 << 10
MAX_HEADER = 64 << 20
_HEADER = struct.Struct("<8sII")
_RECORD = struct.Struct("<QII")
_ZERO_CRC = zlib.crc32(bytes(CHUNK))
_PAGE = mmap.PAGESIZE
_PRESENT_OR_SWAPPED = 0b11 << 62


class SnapshotError(Exception):
    """The stream is not a usable snapshot, or I/O failed; the message says which."""


class Writer:
    """Writes one snapshot to `fd`, counting what it wrote (for query-migrate)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.crc = 0
        self.transferred = 0
        self.zero_chunks = 0
        self.normal_chunks = 0
        self.ram_scanned = 0  # bytes of guest RAM gone through, written or skipped

    def _write(self, data: bytes | memoryview, checksum: bool = True) -> None:
        view = memoryview(data)
        if checksum:
            self.crc = zlib.crc32(view, self.crc)
        while view:
            try:
                written = os.write(self.fd, view)
            except OSError as e:
                raise SnapshotError(f"writing the snapshot: {e.strerror}") from None
            view = view[written:]
            self.transferred += written

    def header(self, machine: dict[str, Any], state: dict[str, Any]) -> None:
        body = json.dumps({"machine": machine, "state": state}, separators=(",", ":")).encode()
        self._write(_HEADER.pack(MAGIC, VERSION, len(body)) + body)

    def memory(self, mem: GuestMemory) -> None:
        for region in mem.regions:
            base = self.ram_scanned
            view = memoryview(region.mapping)
            try:
                for start, end in _touched(region):
                    for offset in range(start, end, CHUNK):
                        stop = min(offset + CHUNK, end)
                        self._chunk(region.gpa + offset, view[offset:stop])
                        self.ram_scanned = base + stop
            finally:
                view.release()
            self.ram_scanned = base + region.size

    def _chunk(self, gpa: int, data: memoryview) -> None:
        crc = zlib.crc32(data)
        if crc == _ZERO_CRC and len(data) == CHUNK and data == bytes(CHUNK):
            self.zero_chunks += 1
            return
        self.normal_chunks += 1
        self._write(_RECORD.pack(gpa, len(data), crc))
        self._write(data, checksum=False)  # covered by its record's CRC

    def finish(self) -> None:
        self._write(_RECORD.pack(END_ADDRESS, 0, self.crc), checksum=False)


def _touched(region: RamRegion) -> Iterator[tuple[int, int]]:
    """[start, end) offsets of the runs of pages of `region` that are present or swapped."""
    pages = region.size // _PAGE
    entries = array("Q")
    try:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(host_address(region.mapping) // _PAGE * 8)
            entries.frombytes(f.read(pages * 8))
    except OSError:
        yield 0, region.size  # no pagemap: write it all (zero chunks are still skipped)
        return
    run = None
    for page, entry in enumerate(entries):
        if entry & _PRESENT_OR_SWAPPED:
            if run is None:
                run = page
        elif run is not None:
            yield run * _PAGE, page * _PAGE
            run = None
    if run is not None:
        yield run * _PAGE, len(entries) * _PAGE


class Reader:
    """Reads a snapshot from `fd`: `header()` first, then `memory(mem)`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.crc = 0
        self.transferred = 0

    def _read_into(self, view: memoryview, checksum: bool = True) -> None:
        done = 0
        while done < len(view):
            try:
                got = os.readv(self.fd, [view[done:]])
            except OSError as e:
                raise SnapshotError(f"reading the snapshot: {e.strerror}") from None
            if got == 0:
                raise SnapshotError("the snapshot ends too early (truncated?)")
            done += got
        self.transferred += done
        if checksum:
            self.crc = zlib.crc32(view, self.crc)

    def _read(self, size: int, checksum: bool = True) -> bytes:
        buf = bytearray(size)
        self._read_into(memoryview(buf), checksum)
        return bytes(buf)

    def header(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(machine signature, state), checked for shape but not yet against a machine."""
        magic, version, length = _HEADER.unpack(self._read(_HEADER.size))
        if magic != MAGIC:
            raise SnapshotError("not a pyvirt snapshot (bad magic)")
        if version != VERSION:
            raise SnapshotError(f"snapshot format version {version}, this VMM reads {VERSION}")
        if length > MAX_HEADER:
            raise SnapshotError(f"snapshot header of {length} bytes is too large")
        try:
            body = json.loads(self._read(length))
        except ValueError as e:
            raise SnapshotError(f"snapshot header is not JSON: {e}") from None
        if not (isinstance(body, dict) and isinstance(body.get("machine"), dict)
                and isinstance(body.get("state"), dict)):  # fmt: skip
            raise SnapshotError("snapshot header lacks its machine or state")
        return body["machine"], body["state"]

    def memory(self, mem: GuestMemory) -> None:
        """Fill guest RAM from the records, then check the stream's checksum."""
        while True:
            record = self._read(_RECORD.size, checksum=False)
            gpa, length, crc = _RECORD.unpack(record)
            if gpa == END_ADDRESS:
                if crc != self.crc:
                    raise SnapshotError("snapshot checksum mismatch: the file is corrupt")
                return
            self.crc = zlib.crc32(record, self.crc)
            self._record(mem, gpa, length, crc)

    def _record(self, mem: GuestMemory, gpa: int, length: int, crc: int) -> None:
        if length > CHUNK:
            raise SnapshotError(f"RAM record at {gpa:#x} of {length} bytes is too long")
        try:
            view = mem.view(gpa, length)
        except GuestMemoryError:
            raise SnapshotError(f"RAM record at {gpa:#x}+{length:#x} is not guest RAM") from None
        try:
            self._read_into(view, checksum=False)
            if zlib.crc32(view) != crc:
                raise SnapshotError(f"RAM at {gpa:#x}: checksum mismatch, the file is corrupt")
        finally:
            view.release()
