"""Raw disk images: the file is the disk, byte for byte."""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from .buffers import zero_tail
from .driver import BlockError, Extent, merge_extents
from .hostfile import HostFile
from .locking import Permissions

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
ZERO_CHUNK = 1 << 20

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def _fallocate(fd: int, mode: int, offset: int, length: int) -> bool:
    """fallocate(2); False when the file system cannot do it."""
    if _libc.fallocate(fd, mode, offset, length) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err))


class RawImage:
    """A raw image file opened for a VM.

    `discard` follows QEMU's `discard=ignore|unmap`: with ignore, discard
    requests succeed without touching the file. `writethrough` makes every
    write durable before it completes; `no_flush` (cache=unsafe) ignores
    flushes; `direct` bypasses the host's page cache (O_DIRECT). `lock` is
    what this opener takes of the file (None: no locking).
    """

    format_name = "raw"
    backing: None = None

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        discard: bool = False,
        writethrough: bool = False,
        no_flush: bool = False,
        direct: bool = False,
        lock: Permissions | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.discard_enabled = discard
        self.no_flush = no_flush
        # The format was probed: refuse writes that would make it probe as qcow2 (as QEMU).
        self.protect_format = False
        self.file = HostFile(path, writable=not read_only, direct=direct, dsync=writethrough,
                             lock=lock)  # fmt: skip
        if not os.path.isfile(path) and not _is_block_device(self.fd):
            self.file.close()
            raise BlockError(errno.EINVAL, f"'{path}' is neither a file nor a block device")

    @property
    def fd(self) -> int:
        return self.file.fd

    @property
    def length(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_END)

    @property
    def actual_size(self) -> int:
        return os.fstat(self.fd).st_blocks * 512

    def readv(self, offset: int, buffers: list[memoryview]) -> int:
        done = self.file.preadv(buffers, offset)
        want = sum(len(b) for b in buffers)
        if done < want:  # past the end of a file that shrank: the disk reads zeroes there
            zero_tail(buffers, done)
        return want

    def writev(self, offset: int, buffers: list[memoryview]) -> int:
        want = sum(len(b) for b in buffers)
        if self.protect_format and offset == 0 and _starts_with_qcow2_magic(buffers):
            raise BlockError(errno.EPERM, f"'{self.path}': a write to block 0 would turn this "
                                          "probed raw image into qcow2")  # fmt: skip
        self.file.pwritev(buffers, offset)
        return want

    def flush(self) -> None:
        if not self.no_flush and not self.read_only:
            os.fdatasync(self.fd)

    def discard(self, offset: int, length: int) -> None:
        if self.discard_enabled:
            _fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)

    def write_zeroes(self, offset: int, length: int, *, unmap: bool) -> None:
        if (
            unmap
            and self.discard_enabled
            and _fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)
        ):
            return
        if _fallocate(self.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length):
            return
        zeroes = memoryview(bytes(min(length, ZERO_CHUNK)))
        end = offset + length
        while offset < end:
            n = min(len(zeroes), end - offset)
            self.file.pwrite(zeroes[:n], offset)
            offset += n

    def resize(self, new_length: int) -> None:
        if _is_block_device(self.fd):
            raise BlockError(errno.ENOTSUP, f"'{self.path}': cannot resize a block device")
        if new_length < 0:
            raise BlockError(errno.EINVAL, f"'{self.path}': invalid size {new_length}")
        os.ftruncate(self.fd, new_length)

    def block_status(self, offset: int, length: int) -> list[Extent]:
        """Data and holes as SEEK_DATA/SEEK_HOLE find them (all data when it cannot tell)."""
        end = offset + length
        file_end = self.length
        extents = []
        pos = offset
        while pos < end:
            data, hole = _data_run(self.fd, pos, file_end)
            if data > pos:  # a hole up to the next data
                stop = min(data, end)
                extents.append(Extent(pos, stop - pos, 0, True, True, False, pos))
                pos = stop
                continue
            stop = min(hole, end)
            extents.append(Extent(pos, stop - pos, 0, True, False, True, pos))
            pos = stop
        return merge_extents(extents)

    def close(self) -> None:
        self.file.close()


def create_raw(path: str, size: int) -> None:
    """A sparse raw image of `size` bytes (an existing file is truncated, as qemu-img does).

    Like QEMU, the first block is allocated (written as zeroes): file systems then
    report a block size to O_DIRECT probing, and `info`/`map` agree with qemu-img's."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise BlockError(e.errno, f"Could not create '{path}': {e.strerror}") from None
    try:
        os.ftruncate(fd, size)
        os.pwrite(fd, bytes(min(4096, size)), 0)
    finally:
        os.close(fd)


def _starts_with_qcow2_magic(buffers: list[memoryview]) -> bool:
    head = b"".join(bytes(b[:4]) for b in buffers[:4])[:4]
    return head == b"QFI\xfb"


def _data_run(fd: int, pos: int, file_end: int) -> tuple[int, int]:
    """(start of data at or after pos, end of that data); past the file's end is a hole."""
    if pos >= file_end:
        return (1 << 63), (1 << 63)
    try:
        data = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError as e:
        if e.errno == errno.ENXIO:  # only a hole up to the end
            return (1 << 63), (1 << 63)
        return pos, file_end  # no SEEK_DATA here: say data
    try:
        hole = os.lseek(fd, data, os.SEEK_HOLE)
    except OSError:
        hole = file_end
    return data, hole


def _is_block_device(fd: int) -> bool:
    return stat.S_ISBLK(os.fstat(fd).st_mode)
