"""Image locking as QEMU's file-posix does it, so pyvirt and QEMU see each other's locks.

Each opener of an image file holds a shared open-file-description lock
(F_OFD_SETLK, F_RDLCK) on byte 100+bit for every permission it holds and on
byte 200+bit for every permission it does not let others have. Before using
the file it tests (F_OFD_GETLK) that nobody else blocks a permission it holds
(byte 200+bit) or holds one it does not share (byte 100+bit). The locks live
as long as the file description: closing the image releases them.

The permissions each kind of opener asks for, and how a format passes them
down to its image file and backing file, follow QEMU 7.2's block layer
(verified against /proc/locks of a running qemu-system-x86_64).
"""

from __future__ import annotations

import errno
import fcntl
import struct
from dataclasses import dataclass

from .driver import BlockError

PERM_CONSISTENT_READ = 0x1
PERM_WRITE = 0x2
PERM_WRITE_UNCHANGED = 0x4
PERM_RESIZE = 0x8
PERM_ALL = 0xF
PERM_NAMES = ("consistent read", "write", "write unchanged", "resize")

LOCK_PERM_BASE = 100
LOCK_SHARED_BASE = 200

_FLOCK = struct.Struct("@hhqqi4x")  # struct flock: type, whence, start, len, pid


@dataclass(frozen=True)
class Permissions:
    """What an opener does with an image (`perm`) and lets others do (`shared`)."""

    perm: int
    shared: int
    force_share: bool = False  # qemu-img -U: share everything, at every layer

    @classmethod
    def device(cls, *, read_only: bool) -> Permissions:
        """A guest disk (virtio-blk): others may read, and resize, but not write."""
        perm = PERM_CONSISTENT_READ | (0 if read_only else PERM_WRITE)
        return cls(perm, PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED | PERM_RESIZE)

    @classmethod
    def tool(
        cls, *, read_only: bool, no_io: bool = False, force_share: bool = False
    ) -> Permissions:
        """qemu-img: asks only what it does and shares everything (its formats restrict that).

        `no_io` is `info`: it reads metadata only, so it does not even need consistent reads."""
        perm = 0 if no_io else PERM_CONSISTENT_READ
        if not read_only:
            perm |= PERM_WRITE | PERM_RESIZE
        return cls(perm, PERM_ALL, force_share)

    def for_file(self, fmt: str, writable: bool) -> Permissions:
        """What a `fmt` node asks of the file under it.

        raw passes everything through; qcow2 keeps metadata there, so it needs
        consistent reads (unless no I/O is done), writes and resizes when
        writable, and lets nobody else write or resize."""
        if fmt == "raw" or self.force_share:
            return self
        perm = self.perm
        if writable:
            perm |= PERM_WRITE | PERM_RESIZE
        shared = self.shared & ~(PERM_WRITE | PERM_RESIZE)
        return Permissions(perm, shared)

    def for_backing(self) -> Permissions:
        """What an overlay asks of its backing file: reads, and a file nobody else writes
        unless the overlay's own users accept writes."""
        if self.force_share:
            return Permissions(self.perm & PERM_CONSISTENT_READ, PERM_ALL, True)
        shared = PERM_WRITE | PERM_RESIZE if self.shared & PERM_WRITE else 0
        shared |= PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED
        return Permissions(self.perm & PERM_CONSISTENT_READ, shared)


def lock_file(fd: int, path: str, perms: Permissions) -> None:
    """Take `perms`' lock bytes on `fd`, then fail as QEMU does if another opener conflicts.

    On failure the locks taken stay with `fd`: the caller closes it."""
    for bit in range(len(PERM_NAMES)):
        if perms.perm & (1 << bit):
            _set_lock(fd, path, LOCK_PERM_BASE + bit)
        if not perms.shared & (1 << bit):
            _set_lock(fd, path, LOCK_SHARED_BASE + bit)
    for bit, name in enumerate(PERM_NAMES):
        if perms.perm & (1 << bit) and _locked_by_others(fd, LOCK_SHARED_BASE + bit):
            raise _conflict(path, f'Failed to get "{name}" lock')
    for bit, name in enumerate(PERM_NAMES):
        if not perms.shared & (1 << bit) and _locked_by_others(fd, LOCK_PERM_BASE + bit):
            raise _conflict(path, f'Failed to get shared "{name}" lock')


def _set_lock(fd: int, path: str, byte: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_RDLCK, 0, byte, 1, 0))
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            raise _conflict(path, f"Failed to lock byte {byte}") from None
        raise BlockError(e.errno, f"Failed to lock byte {byte} of '{path}': "
                                  f"{e.strerror}") from None  # fmt: skip


def _locked_by_others(fd: int, byte: int) -> bool:
    """Whether another file description holds a lock on `byte` (ours never conflict)."""
    answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_WRLCK, 0, byte, 1, 0))
    return _FLOCK.unpack(answer)[0] != fcntl.F_UNLCK


def _conflict(path: str, what: str) -> BlockError:
    return BlockError(errno.EAGAIN, f"{what}\nIs another process using the image [{path}]?")
