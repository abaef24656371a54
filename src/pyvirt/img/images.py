"""Opening images the way qemu-img does, and walking their contents by extent."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from pyvirt.block.cache_mode import CACHE_MODES
from pyvirt.block.driver import BlockDriver, BlockError, Extent
from pyvirt.block.locking import Permissions
from pyvirt.block.open import open_image, probe_format

from .errors import ImgError

FORMATS = ("raw", "qcow2")
IO_CHUNK = 2 << 20  # bytes per read or write when copying data
SECTOR = 512
_ZEROES = memoryview(bytes(IO_CHUNK))  # sliced without a copy

PROBED_RAW_WARNING = (
    "WARNING: Image format was not specified for '{}' and probing guessed raw.\n"
    "         Automatically detecting the format is dangerous for raw images, "
    "write operations on block 0 will be restricted.\n"
    "         Specify the 'raw' format explicitly to remove the restrictions."
)


def block_message(error: BlockError) -> str:
    """The block layer's message, capitalised as QEMU's error messages are."""
    text = error.strerror or str(error)
    return text[:1].upper() + text[1:]


def check_cache(mode: str) -> str:
    if mode not in CACHE_MODES:
        raise ImgError(f"Invalid cache option: {mode}")
    return mode


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ImgError(f"Unknown file format '{fmt}'")
    return fmt


class OpenError(ImgError):
    """An image did not open: "Could not open 'PATH': DETAIL"."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"Could not open '{path}': {detail}")
        self.detail = detail


def open_img(
    path: str,
    fmt: str | None = None,
    *,
    read_only: bool = True,
    backing: bool = True,
    for_check: bool = False,
    cache: str = "writeback",
    force_share: bool = False,
    no_io: bool = False,
    locking: bool = True,
) -> BlockDriver:
    """Open an image for a command, with its backing chain unless `backing` is false.

    `for_check` opens it as `check` needs: an image marked corrupt opens, a dirty one
    is not repaired on the way in. `cache` is qemu-img's -t: "unsafe" ignores flushes,
    "writethrough"/"directsync" make every write durable, "none"/"directsync" bypass
    the page cache. The files are locked as qemu-img locks them (`no_io`: only
    metadata is read, as by `info`), unless `locking` is false; `force_share` is -U."""
    if fmt is not None and fmt not in FORMATS:
        raise OpenError(path, f"Unknown driver '{fmt}'")
    if force_share and not read_only:
        raise OpenError(path, "force-share=on can only be used with read-only images")
    mode = CACHE_MODES[cache]
    lock = Permissions.tool(read_only=read_only, no_io=no_io, force_share=force_share)
    try:
        if fmt is None and not read_only and probe_format(path) == "raw":
            print(PROBED_RAW_WARNING.format(path), file=sys.stderr)
    except OSError:
        pass  # open_image below reports it
    try:
        return open_image(
            path,
            format=fmt,
            read_only=read_only,
            backing=backing,
            for_check=for_check,
            writethrough=not mode.writeback,
            no_flush=mode.no_flush,
            direct=mode.direct,
            lock=lock if locking else None,
        )
    except BlockError as e:
        raise OpenError(path, block_message(e)) from None


def lock_for_writing(image: BlockDriver) -> None:
    """Add a writer's locks (as qemu-img's) to an image opened read-only, on its own file
    description: for a backing file about to be written through a second, unlocked one."""
    perms = Permissions.tool(read_only=False).for_file(image.format_name, True)
    try:
        image.file.lock(perms)
    except BlockError as e:
        raise OpenError(image.path, block_message(e)) from None


def chain(image: BlockDriver) -> list[BlockDriver]:
    """The image and its backing files, top first."""
    out = []
    while image is not None:
        out.append(image)
        image = image.backing
    return out


def close_chain(image: BlockDriver) -> None:
    for layer in chain(image):
        layer.close()


def extents(image: BlockDriver, offset: int = 0, length: int | None = None) -> Iterator[Extent]:
    """Block status of [offset, offset+length), in pieces of at most 1 GiB per query."""
    end = image.length if length is None else offset + length
    while offset < end:
        for extent in image.block_status(offset, min(end - offset, 1 << 30)):
            yield extent
            offset = extent.start + extent.length


def read(image: BlockDriver, offset: int, length: int) -> bytearray:
    buf = bytearray(length)
    image.readv(offset, [memoryview(buf)])
    return buf


def is_zero(data: bytes | bytearray | memoryview) -> bool:
    n = len(data)
    return data == _ZEROES[:n] if n <= len(_ZEROES) else not any(data)


def first_difference(a: bytes | bytearray, b: bytes | bytearray) -> int | None:
    """Offset of the first differing byte, or None when equal (a and b have the same length)."""
    if a == b:
        return None
    lo, hi = 0, len(a)
    while hi - lo > 4096:  # bisect with fast slice comparisons, then scan
        mid = (lo + hi) // 2
        if a[lo:mid] != b[lo:mid]:
            hi = mid
        else:
            lo = mid
    return next(i for i in range(lo, hi) if a[i] != b[i])


def first_nonzero(data: bytes | bytearray) -> int | None:
    return first_difference(data, bytes(len(data))) if not is_zero(data) else None


def chunks(offset: int, length: int, size: int = IO_CHUNK) -> Iterator[tuple[int, int]]:
    end = offset + length
    while offset < end:
        n = min(size, end - offset)
        yield offset, n
        offset += n


def backing_path(overlay_path: str, backing_file: str) -> str:
    """QEMU's path_combine(): a relative backing file is relative to the overlay's directory."""
    if os.path.isabs(backing_file):
        return backing_file
    return os.path.join(os.path.dirname(overlay_path), backing_file)
