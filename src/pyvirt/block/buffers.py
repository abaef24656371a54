"""Buffer lists (memoryviews of guest RAM or of our own buffers): cutting, filling, copying."""

from __future__ import annotations


class BufferCursor:
    """Hands out the next `n` bytes of a buffer list as memoryview slices."""

    def __init__(self, buffers: list[memoryview]) -> None:
        self.buffers = [memoryview(b).cast("B") for b in buffers if len(b)]
        self.index = 0
        self.offset = 0

    def take(self, n: int) -> list[memoryview]:
        out = []
        while n > 0:
            buf = self.buffers[self.index]
            piece = buf[self.offset : self.offset + n]
            out.append(piece)
            n -= len(piece)
            self.offset += len(piece)
            if self.offset == len(buf):
                self.index += 1
                self.offset = 0
        return out


def fill_zero(views: list[memoryview]) -> None:
    for v in views:
        v[:] = bytes(len(v))


def copy_into(views: list[memoryview], data: bytes | memoryview) -> None:
    src = memoryview(data)
    for v in views:
        v[:] = src[: len(v)]
        src = src[len(v) :]


def skip(buffers: list[memoryview], count: int) -> list[memoryview]:
    """The buffer list without its first `count` bytes."""
    out = []
    for b in buffers:
        if count >= len(b):
            count -= len(b)
            continue
        out.append(b[count:])
        count = 0
    return out


def zero_tail(buffers: list[memoryview], done: int) -> None:
    """Zeroes in everything after the first `done` bytes (a read cut short by the file's end)."""
    fill_zero(skip(buffers, done))
