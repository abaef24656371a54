"""pyvirt-img compare [-f FMT] [-F FMT] [-s] [-q] FILE1 FILE2

Exit status: 0 equal, 1 different, 2 error (as qemu-img's). Mismatches are
reported at the 512-byte sector where the first difference is.
"""

from __future__ import annotations

from pyvirt.block.driver import BlockDriver, BlockError, Extent

from . import cmdline
from .errors import ImgError, usage_error
from .images import (
    SECTOR,
    block_message,
    chunks,
    close_chain,
    extents,
    first_difference,
    first_nonzero,
    open_img,
    read,
)

ERROR = 2


class Mismatch(Exception):
    """The images differ; the message is what qemu-img prints on stdout."""


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":hf:F:T:pqsU", {"force-share": "U"})
    fmt1 = fmt2 = None
    strict = quiet = force_share = False
    for key, value in opts:
        if key == "f":
            fmt1 = value
        elif key == "F":
            fmt2 = value
        elif key == "s":
            strict = True
        elif key == "q":
            quiet = True
        elif key == "U":
            force_share = True
    if len(operands) != 2:
        raise usage_error("Expecting two image file names")
    try:
        message, status = _compare_files(operands, fmt1, fmt2, strict, force_share)
    except ImgError as e:
        e.status = ERROR
        raise
    if not quiet:
        print(message)
    return status


def _compare_files(
    files: list[str], fmt1: str | None, fmt2: str | None, strict: bool, force_share: bool
) -> tuple[str, int]:
    image1 = open_img(files[0], fmt1, force_share=force_share)
    try:
        image2 = open_img(files[1], fmt2, force_share=force_share)
        try:
            return _outcome(image1, image2, strict)
        finally:
            close_chain(image2)
    finally:
        close_chain(image1)


def _outcome(image1: BlockDriver, image2: BlockDriver, strict: bool) -> tuple[str, int]:
    try:
        compare(image1, image2, strict)
    except Mismatch as m:
        return str(m), 1
    except BlockError as e:
        raise ImgError(block_message(e)) from None
    return "Images are identical.", 0


def _status(e: Extent) -> tuple[bool, bool, bool, bool]:
    """What strict mode compares: qemu's block status flags, without offsets."""
    return (e.present, e.zero, e.data, e.offset is not None)


def compare(image1: BlockDriver, image2: BlockDriver, strict: bool) -> None:
    """Raise Mismatch at the first difference qemu-img would report."""
    size1, size2 = image1.length, image2.length
    if strict and size1 != size2:
        raise Mismatch("Strict mode: Image size mismatch!")
    common = min(size1, size2)
    pending1 = extents(image1, 0, common)
    pending2 = extents(image2, 0, common)
    e1 = next(pending1, None)
    e2 = next(pending2, None)
    offset = 0
    while offset < common:
        assert e1 is not None and e2 is not None
        end = min(e1.start + e1.length, e2.start + e2.length)
        if strict and _status(e1) != _status(e2):
            raise Mismatch(f"Strict mode: Offset {offset} block status mismatch!")
        if not (e1.zero and e2.zero):
            if e1.present and e2.present:
                _same_content(image1, image2, offset, end - offset)
            elif e1.present != e2.present:
                _all_zero(image1 if e1.present else image2, offset, end - offset)
        offset = end
        if offset >= e1.start + e1.length:
            e1 = next(pending1, None)
        if offset >= e2.start + e2.length:
            e2 = next(pending2, None)
    if size1 != size2:
        print("Warning: Image size mismatch!")
        longer = image1 if size1 > size2 else image2
        for e in extents(longer, common, abs(size1 - size2)):
            if e.present and not e.zero:
                _all_zero(longer, e.start, e.length)


def _same_content(image1: BlockDriver, image2: BlockDriver, offset: int, length: int) -> None:
    for pos, n in chunks(offset, length):
        at = first_difference(read(image1, pos, n), read(image2, pos, n))
        if at is not None:
            raise Mismatch(f"Content mismatch at offset {(pos + at) // SECTOR * SECTOR}!")


def _all_zero(image: BlockDriver, offset: int, length: int) -> None:
    for pos, n in chunks(offset, length):
        at = first_nonzero(read(image, pos, n))
        if at is not None:
            raise Mismatch(f"Content mismatch at offset {(pos + at) // SECTOR * SECTOR}!")
