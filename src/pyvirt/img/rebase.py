"""pyvirt-img rebase [-f FMT] [-u] [-q] -b BACKING [-F FMT] FILE

Safe mode (without -u) keeps what the guest sees: every cluster the image
does not hold itself and that reads differently through the new backing file
than through the old one is first copied from the old chain into the image.
"""

from __future__ import annotations

from pyvirt.block.driver import BlockDriver, BlockError

from . import cmdline
from .errors import ImgError, usage_error
from .images import (
    IO_CHUNK,
    OpenError,
    backing_path,
    block_message,
    close_chain,
    extents,
    open_img,
    read,
)


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":hf:F:b:upt:T:qU", {"force-share": "U"})
    fmt = new_fmt = new_backing = None
    unsafe = False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "F":
            new_fmt = value
        elif key == "b":
            new_backing = value
        elif key == "u":
            unsafe = True
    filename = cmdline.one_file(operands)
    if new_backing is None and not unsafe:
        raise usage_error("Must specify backing file (-b) or use unsafe mode (-u)")
    new_backing = new_backing or None  # -b "" removes the backing file
    image = open_img(filename, fmt, read_only=False, backing=not unsafe)
    try:
        if new_backing is not None and new_fmt is None:
            raise ImgError(
                f"Could not change the backing file to '{new_backing}': "
                "backing format must be specified"
            )
        if not hasattr(image, "set_backing"):
            raise ImgError(
                f"Could not change the backing file to '{new_backing or ''}': "
                "Operation not supported"
            )
        if not unsafe:
            _copy_differences(image, filename, new_backing, new_fmt)
        try:
            image.set_backing(new_backing, new_fmt if new_backing else None)
            image.flush()
        except BlockError as e:
            raise ImgError(
                f"Could not change the backing file to '{new_backing or ''}': {block_message(e)}"
            ) from None
    finally:
        close_chain(image)
    return 0


def _copy_differences(
    image: BlockDriver, filename: str, new_backing: str | None, new_fmt: str | None
) -> None:
    new = None
    if new_backing is not None:
        try:
            new = open_img(backing_path(filename, new_backing), new_fmt)
        except OpenError as e:
            raise ImgError(f"Could not open new backing file '{new_backing}': {e.detail}") from None
    try:
        step = max(IO_CHUNK // image.cluster_size, 1) * image.cluster_size
        for e in list(extents(image)):
            if e.depth == 0 and e.present:
                continue  # the image's own data stays
            for offset in range(e.start, e.start + e.length, step):
                n = min(step, e.start + e.length - offset)
                old = _read_or_zero(image.backing, offset, n)
                if old != _read_or_zero(new, offset, n):
                    _write_changed(image, offset, old, _read_or_zero(new, offset, n))
    except BlockError as e:
        raise ImgError(f"Error while rebasing: {block_message(e)}") from None
    finally:
        if new is not None:
            close_chain(new)


def _read_or_zero(image: BlockDriver | None, offset: int, length: int) -> bytes:
    """What `image` holds at offset, zeroes where it has no data (or no image at all)."""
    if image is None or offset >= image.length:
        return bytes(length)
    n = min(length, image.length - offset)
    return bytes(read(image, offset, n)) + bytes(length - n)


def _write_changed(image: BlockDriver, offset: int, old: bytes, new: bytes) -> None:
    """Write the clusters of `old` that differ from `new`."""
    size = image.cluster_size
    view = memoryview(old)
    for pos in range(0, len(old), size):
        if old[pos : pos + size] != new[pos : pos + size]:
            image.writev(offset + pos, [view[pos : pos + size]])
