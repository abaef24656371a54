"""The interface every disk image format implements, as the block devices see it.

Offsets and lengths are in bytes. Reads and writes go straight between the
image and the caller's buffers (memoryviews of guest RAM): no copies.
"""

from __future__ import annotations

from typing import Protocol


class BlockError(OSError):
    """An image cannot be opened or an I/O on it failed; the message names the file."""


class BlockDriver(Protocol):
    path: str
    read_only: bool

    @property
    def length(self) -> int:
        """Virtual disk size in bytes."""

    def readv(self, offset: int, buffers: list[memoryview]) -> int: ...

    def writev(self, offset: int, buffers: list[memoryview]) -> int: ...

    def flush(self) -> None: ...

    def discard(self, offset: int, length: int) -> None:
        """The range's contents may be dropped (reads return zeroes or old data)."""

    def write_zeroes(self, offset: int, length: int, *, unmap: bool) -> None:
        """The range reads as zeroes afterwards; with `unmap` it may also be deallocated."""

    def close(self) -> None: ...
