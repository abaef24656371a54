"""The host file under an image: opened as the cache mode asks, locked, and read and
written within O_DIRECT's rules.

With O_DIRECT (cache=none, directsync) the kernel takes only I/O whose file
offset, length and memory address are multiples of the file's logical block
size. Requests that already are (guest RAM is page-aligned, guests usually
use whole sectors) go straight to the file; any other is done through an
aligned bounce buffer, writes read-modify-writing the blocks at their ends.
Direct writes over the same blocks are serialised, so that such a
read-modify-write cannot undo a concurrent write to the rest of a block.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import stat
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .buffers import BufferCursor, copy_into, skip
from .driver import BlockError
from .locking import Permissions, lock_file

BLKSSZGET = 0x1268  # ioctl: a block device's logical sector size
PROBE_SIZES = (512, 1024, 2048, 4096)
MAX_ALIGN = 4096  # when probing cannot tell (an empty file), as QEMU assumes


class HostFile:
    """An open image file. `align` is 1 without O_DIRECT."""

    def __init__(
        self,
        path: str,
        *,
        writable: bool,
        direct: bool = False,
        dsync: bool = False,
        lock: Permissions | None = None,
    ) -> None:
        self.path = path
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC
        flags |= (os.O_DSYNC if dsync else 0) | (os.O_DIRECT if direct else 0)
        self.fd = _open(path, flags)
        try:
            self.align = probe_alignment(self.fd) if direct else 1
            if lock is not None:
                self.lock(lock)
        except BaseException:
            os.close(self.fd)
            raise
        self._busy: list[tuple[int, int]] = []  # ranges of direct writes in flight
        self._idle = threading.Condition()

    def lock(self, perms: Permissions) -> None:
        """Take `perms`' locks too (they add to those held); BlockError on a conflict."""
        lock_file(self.fd, self.path, perms)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def preadv(self, buffers: list[memoryview], offset: int) -> int:
        """Bytes read into `buffers` from `offset`: fewer only at the end of the file."""
        if self._aligned(offset, buffers):
            return os.preadv(self.fd, buffers, offset)
        want = sum(len(b) for b in buffers)
        start, end = self._span(offset, want)
        with _bounce(end - start) as bounce:
            got = os.preadv(self.fd, [bounce], start) - (offset - start)
            done = max(0, min(got, want))
            copy_into(BufferCursor(buffers).take(done), bounce[offset - start :])
        return done

    def pread(self, length: int, offset: int) -> bytes:
        buf = bytearray(length)
        return bytes(buf[: self.preadv([memoryview(buf)], offset)])

    def pwritev(self, buffers: list[memoryview], offset: int) -> None:
        """All of `buffers` written at `offset` (short writes retried)."""
        if self.align == 1:
            self._write_all(buffers, offset)
            return
        want = sum(len(b) for b in buffers)
        start, end = self._span(offset, want)
        with self._serialised(start, end):
            if self._aligned(offset, buffers):
                self._write_all(buffers, offset)
            else:
                self._write_bounced(buffers, offset, want, start, end)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        self.pwritev([memoryview(data)], offset)

    def _write_all(self, buffers: list[memoryview], offset: int) -> None:
        want = sum(len(b) for b in buffers)
        done = os.pwritev(self.fd, buffers, offset)
        while done < want:
            done += os.pwritev(self.fd, skip(buffers, done), offset + done)

    def _write_bounced(
        self, buffers: list[memoryview], offset: int, want: int, start: int, end: int
    ) -> None:
        """Read-modify-write of the aligned blocks [start, end) around the request."""
        a = self.align
        with _bounce(end - start) as bounce:
            if offset != start:
                self._read_block(bounce[:a], start)
            if offset + want != end and (end - a > start or offset == start):
                self._read_block(bounce[-a:], end - a)
            cursor = 0
            for b in buffers:
                bounce[offset - start + cursor : offset - start + cursor + len(b)] = b
                cursor += len(b)
            self._write_all([bounce], start)
        if os.fstat(self.fd).st_size == end and offset + want < end:
            os.ftruncate(self.fd, offset + want)  # the padding extended the file: undo that

    def _read_block(self, block: memoryview, offset: int) -> None:
        got = os.preadv(self.fd, [block], offset)
        block[got:] = bytes(len(block) - got)  # past the end of the file

    def _span(self, offset: int, length: int) -> tuple[int, int]:
        a = self.align
        return offset - offset % a, -(-(offset + length) // a) * a

    def _aligned(self, offset: int, buffers: list[memoryview]) -> bool:
        a = self.align
        if a == 1:
            return True
        if offset % a:
            return False
        return all(not len(b) % a and _address(b) % a == 0 for b in buffers if len(b))

    @contextmanager
    def _serialised(self, start: int, end: int) -> Iterator[None]:
        with self._idle:
            while any(s < end and start < e for s, e in self._busy):
                self._idle.wait()
            self._busy.append((start, end))
        try:
            yield
        finally:
            with self._idle:
                self._busy.remove((start, end))
                self._idle.notify_all()


def _open(path: str, flags: int) -> int:
    try:
        return os.open(path, flags)
    except OSError as e:
        err = e
    if err.errno == errno.EINVAL and flags & os.O_DIRECT:
        try:
            os.close(os.open(path, flags & ~os.O_DIRECT))
        except OSError:
            pass
        else:
            raise BlockError(errno.EINVAL, f"Could not open '{path}': filesystem does not "
                                           "support O_DIRECT")  # fmt: skip
    raise BlockError(err.errno, f"Could not open '{path}': {err.strerror}")


def probe_alignment(fd: int) -> int:
    """The smallest block size O_DIRECT accepts on `fd`: the sector size of a block
    device, else found by trying reads of the file's first bytes (as QEMU does)."""
    if stat.S_ISBLK(os.fstat(fd).st_mode):
        answer = fcntl.ioctl(fd, BLKSSZGET, struct.pack("i", 0))
        return struct.unpack("i", answer)[0]
    with _bounce(MAX_ALIGN) as buf:
        for size in PROBE_SIZES:
            try:
                if os.preadv(fd, [buf[:size]], 0) > 0:
                    return size
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
    return MAX_ALIGN


@contextmanager
def _bounce(size: int) -> Iterator[memoryview]:
    """A page-aligned buffer (anonymous mmap), unmapped afterwards."""
    area = mmap.mmap(-1, max(size, 1))
    view = memoryview(area)[:size]
    try:
        yield view
    finally:
        view.release()
        area.close()


def _address(buffer: memoryview) -> int:
    """Where a buffer lies in memory; 1 (unaligned) for a read-only one, which we cannot ask."""
    if buffer.readonly:
        return 1
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))
