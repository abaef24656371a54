"""The interface every disk image format implements, as the block devices see it.

Offsets and lengths are in bytes. Reads and writes go straight between the
image and the caller's buffers (memoryviews of guest RAM): no copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .hostfile import HostFile


class BlockError(OSError):
    """An image cannot be opened or an I/O on it failed; the message names the file."""


@dataclass(frozen=True)
class Extent:
    """A run of the virtual disk with one status, as `qemu-img map --output=json` shows it.

    `depth` counts layers of the backing chain from 0 (this image); `present`
    is false when no layer has the range (it reads zeroes); `offset` is the
    host offset in the file at `depth` when the data is stored plainly there.
    """

    start: int
    length: int
    depth: int
    present: bool
    zero: bool
    data: bool
    offset: int | None = None
    compressed: bool = False

    def same_kind(self, other: Extent) -> bool:
        """`other` continues this extent (adjacent, same attributes, contiguous offsets)."""
        if (self.depth, self.present, self.zero, self.data, self.compressed) != (
            other.depth,
            other.present,
            other.zero,
            other.data,
            other.compressed,
        ) or self.start + self.length != other.start:
            return False
        if self.offset is None or other.offset is None:
            return self.offset is other.offset
        return self.offset + self.length == other.offset


def merge_extents(extents: list[Extent]) -> list[Extent]:
    """Adjacent extents with equal attributes (and contiguous offsets) joined."""
    out: list[Extent] = []
    for e in extents:
        if out and out[-1].same_kind(e):
            last = out[-1]
            out[-1] = Extent(last.start, last.length + e.length, last.depth, last.present,
                             last.zero, last.data, last.offset, last.compressed)  # fmt: skip
        else:
            out.append(e)
    return out


class BlockDriver(Protocol):
    path: str
    read_only: bool
    format_name: str  # "raw" or "qcow2"
    backing: BlockDriver | None

    @property
    def file(self) -> HostFile:
        """The image's own file on the host."""

    @property
    def length(self) -> int:
        """Virtual disk size in bytes."""

    @property
    def actual_size(self) -> int:
        """Bytes the image file takes on the host file system."""

    def readv(self, offset: int, buffers: list[memoryview]) -> int: ...

    def writev(self, offset: int, buffers: list[memoryview]) -> int: ...

    def flush(self) -> None: ...

    def discard(self, offset: int, length: int) -> None:
        """The range's contents may be dropped (reads return zeroes or old data)."""

    def write_zeroes(self, offset: int, length: int, *, unmap: bool) -> None:
        """The range reads as zeroes afterwards; with `unmap` it may also be deallocated."""

    def resize(self, new_length: int) -> None: ...

    def block_status(self, offset: int, length: int) -> list[Extent]:
        """Extents covering exactly [offset, offset+length), the backing chain resolved."""

    def close(self) -> None: ...
