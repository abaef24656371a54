"""The block layer API pyvirt-img is written against (notes/block-api.md).

Until the qcow2 driver lands, raw images are served by a stand-in built on
`RawImage`; this module then becomes plain re-exports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyvirt.block.driver import BlockError
from pyvirt.block.raw import RawImage

__all__ = ["BlockError", "Extent", "create_qcow2", "create_raw", "open_image", "probe_format"]

QCOW2_MAGIC = b"QFI\xfb"


@dataclass(frozen=True)
class Extent:
    start: int
    length: int
    depth: int
    present: bool
    zero: bool
    data: bool
    offset: int | None
    compressed: bool = False


def probe_format(path: str) -> str:
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"


class _Raw(RawImage):
    format_name = "raw"
    backing = None

    @property
    def actual_size(self) -> int:
        return os.fstat(self.fd).st_blocks * 512

    def resize(self, new_length: int) -> None:
        os.ftruncate(self.fd, new_length)

    def block_status(self, offset: int, length: int) -> list[Extent]:
        out: list[Extent] = []
        end = offset + length
        pos = offset
        while pos < end:
            try:
                data = os.lseek(self.fd, pos, os.SEEK_DATA)
            except OSError:
                data = end
            if data > pos:
                n = min(data, end) - pos
                out.append(Extent(pos, n, 0, True, True, False, pos))
                pos += n
                continue
            hole = min(os.lseek(self.fd, pos, os.SEEK_HOLE), end)
            out.append(Extent(pos, hole - pos, 0, True, False, True, pos))
            pos = hole
        return out


def open_image(
    path: str, *, format: str | None = None, read_only: bool = False, backing: bool = True
) -> _Raw:
    if os.path.exists(path) and (format or probe_format(path)) == "qcow2":
        raise BlockError(95, "qcow2 is not supported yet")
    return _Raw(path, read_only=read_only, discard=True)


def create_raw(path: str, size: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise BlockError(e.errno, f"Could not create '{path}': {e.strerror}") from None
    try:
        os.ftruncate(fd, size)
        os.pwrite(fd, bytes(min(4096, size)), 0)  # QEMU allocates the first block
    finally:
        os.close(fd)


def create_qcow2(path: str, size: int, **options: object) -> None:
    raise BlockError(95, "qcow2 is not supported yet")
