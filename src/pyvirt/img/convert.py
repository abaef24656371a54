"""pyvirt-img convert [-f FMT] [-O FMT] [-c] [-p] [-n] [-S SIZE] [-o OPTIONS] [-q] SRC DST

The target is written sparsely: ranges that read as zeroes are not written
(checked in blocks of the target's cluster size, or of 4 KiB for raw).
"""

from __future__ import annotations

import sys

from pyvirt.block.driver import BlockDriver, BlockError

from . import cmdline, create
from .createopts import validate_option_list
from .errors import ImgError, usage_error
from .images import (
    IO_CHUNK,
    block_message,
    check_cache,
    check_format,
    chunks,
    close_chain,
    extents,
    is_zero,
    open_img,
    read,
)
from .sizes import parse_size

RAW_BLOCK = 4096


class Progress:
    """qemu-img's -p: "    (NN.NN/100%)" redrawn with a carriage return."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.shown = enabled, max(total, 1), -1.0

    def update(self, done: int) -> None:
        percent = done * 100.0 / self.total
        if self.enabled and (percent - self.shown >= 1.0 or percent == 100.0):
            sys.stdout.write(f"    ({percent:.2f}/100%)\r")
            sys.stdout.flush()
            self.shown = percent

    def end(self) -> None:
        if self.enabled:
            sys.stdout.write("    (100.00/100%)\r\n")


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":hf:O:co:pqnS:t:T:WUm:", {"force-share": "U"})
    src_fmt, out_fmt = None, "raw"
    compress = progress = quiet = no_create = force_share = False
    cache = "unsafe"  # qemu-img convert's default for the target
    option_strings: list[str] = []
    for key, value in opts:
        if key == "f":
            src_fmt = value
        elif key == "O":
            out_fmt = value
        elif key == "c":
            compress = True
        elif key == "o":
            validate_option_list(value)
            option_strings.append(value)
        elif key == "p":
            progress = True
        elif key == "q":
            quiet = True
        elif key == "n":
            no_create = True
        elif key == "S":
            parse_size(value, "buffer size for sparse output")
        elif key == "t":
            cache = check_cache(value)
        elif key == "U":
            force_share = True
    if len(operands) < 2:
        raise ImgError("Must specify image file name")
    if len(operands) > 2:
        raise usage_error("Converting more than one source image is not supported")
    src_path, dst_path = operands
    check_format(out_fmt)
    if compress and out_fmt != "qcow2":
        raise ImgError("Compression not supported for this file format")
    source = open_img(src_path, src_fmt, force_share=force_share)
    try:
        if not no_create:
            options = create.prepare(dst_path, out_fmt, source.length, ",".join(option_strings))
            try:
                create.make(dst_path, out_fmt, options)
            except ImgError as e:
                raise ImgError(f"{dst_path}: error while converting {out_fmt}: {e}") from None
        target = open_img(dst_path, out_fmt, read_only=False, cache=cache)
        try:
            copy(
                source, target, compress, Progress(progress and not quiet, source.length), no_create
            )
            target.flush()
        except BlockError as e:
            raise ImgError(f"error while writing at byte 0: {block_message(e)}") from None
        finally:
            close_chain(target)
    finally:
        close_chain(source)
    return 0


def copy(
    source: BlockDriver,
    target: BlockDriver,
    compress: bool,
    progress: Progress,
    zero_target: bool,
) -> None:
    """Copy every range of `source` that is not zero; zero ranges too when the target existed."""
    block = getattr(target, "cluster_size", RAW_BLOCK)
    step = max(IO_CHUNK // block, 1) * block
    length = min(source.length, target.length)
    progress.update(0)
    for e in extents(source, 0, length):
        if e.present and e.data and not e.zero:
            for offset, n in chunks(e.start, e.length, step):
                _write_nonzero(target, offset, read(source, offset, n), block, compress)
        elif zero_target:
            target.write_zeroes(e.start, e.length, unmap=True)
        progress.update(e.start + e.length)
    progress.end()


def _write_nonzero(
    target: BlockDriver, offset: int, data: bytearray, block: int, compress: bool
) -> None:
    """Write the blocks of `data` that are not all zero, in runs; compressed one cluster each."""
    if is_zero(data):
        return
    view = memoryview(data)
    run_start = None
    for pos in range(0, len(data) + block, block):
        piece = data[pos : pos + block]  # a bytearray: compared with memcmp, unlike a memoryview
        zero = not piece or is_zero(piece)
        if compress and not zero and len(piece) == block and (offset + pos) % block == 0:
            target.write_compressed(offset + pos, bytes(piece))
            zero = True  # written: nothing left for a plain run
        if zero and run_start is not None:
            target.writev(offset + run_start, [view[run_start:pos]])
            run_start = None
        elif not zero and run_start is None:
            run_start = pos
