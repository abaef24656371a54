"""The image file under a qcow2 image: bounded reads, writes that track its size."""

from __future__ import annotations

import os
from array import array

from ..buffers import zero_tail
from ..hostfile import HostFile
from ..raw import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, _fallocate


class Corrupt(Exception):
    """The image's metadata is inconsistent; the text says where."""


class ImageFile:
    """Reads never go outside the file: metadata that points there is corruption."""

    def __init__(self, file: HostFile) -> None:
        self.file = file
        self.size = os.fstat(file.fd).st_size

    @property
    def fd(self) -> int:
        return self.file.fd

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise Corrupt(f"{what} at {offset:#x} (+{length}) lies outside the image file "
                          f"({self.size} bytes)")  # fmt: skip
        data = self.file.pread(length, offset)
        if len(data) != length:
            raise Corrupt(f"{what} at {offset:#x}: short read of {len(data)} of {length} bytes")
        return data

    def read_table(self, offset: int, entries: int, what: str) -> array[int]:
        """Big-endian 64-bit entries, in host order."""
        return decode_table(self.read(offset, entries * 8, what))

    def readv(self, offset: int, buffers: list[memoryview]) -> None:
        """Data clusters: a cluster cut short by the end of the file reads zeroes there."""
        want = sum(len(b) for b in buffers)
        done = self.file.preadv(buffers, offset) if offset < self.size else 0
        if done < want:
            zero_tail(buffers, done)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self.writev(offset, [memoryview(data)])

    def writev(self, offset: int, buffers: list[memoryview]) -> None:
        want = sum(len(b) for b in buffers)
        self.file.pwritev(buffers, offset)
        self.size = max(self.size, offset + want)

    def write_table(self, offset: int, table: array[int]) -> None:
        self.write(offset, table_bytes(table))

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def punch(self, offset: int, length: int) -> None:
        _fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self.size = size


BIG_ENDIAN_NEEDS_SWAP = array("H", b"\x00\x01")[0] != 1


def table_bytes(table: array[int]) -> bytes:
    """A table of host-order entries as big-endian bytes."""
    if not BIG_ENDIAN_NEEDS_SWAP:
        return table.tobytes()
    copy = array(table.typecode, table)
    copy.byteswap()
    return copy.tobytes()


def decode_table(data: bytes) -> array[int]:
    table = array("Q", data)
    if BIG_ENDIAN_NEEDS_SWAP:
        table.byteswap()
    return table
