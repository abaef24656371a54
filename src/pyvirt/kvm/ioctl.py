"""ioctl request numbers, computed the way <asm-generic/ioctl.h> does."""

from __future__ import annotations

import ctypes

_NRBITS, _TYPEBITS, _SIZEBITS = 8, 8, 14
_NRSHIFT = 0
_TYPESHIFT = _NRSHIFT + _NRBITS
_SIZESHIFT = _TYPESHIFT + _TYPEBITS
_DIRSHIFT = _SIZESHIFT + _SIZEBITS

_NONE, _WRITE, _READ = 0, 1, 2

KVMIO = 0xAE


def _ioc(direction: int, nr: int, size: int, type_: int = KVMIO) -> int:
    return (
        (direction << _DIRSHIFT) | (type_ << _TYPESHIFT) | (nr << _NRSHIFT) | (size << _SIZESHIFT)
    )


def io(nr: int) -> int:
    return _ioc(_NONE, nr, 0)


def ior(nr: int, ctype: type) -> int:
    return _ioc(_READ, nr, ctypes.sizeof(ctype))


def iow(nr: int, ctype: type) -> int:
    return _ioc(_WRITE, nr, ctypes.sizeof(ctype))


def iowr(nr: int, ctype: type) -> int:
    return _ioc(_READ | _WRITE, nr, ctypes.sizeof(ctype))


def ioc_read(nr: int, size: int) -> int:
    """_IOR with the size of a structure we treat as an opaque blob."""
    return _ioc(_READ, nr, size)


def ioc_write(nr: int, size: int) -> int:
    return _ioc(_WRITE, nr, size)
