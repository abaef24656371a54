"""pyvirt-img commit [-f FMT] [-d] [-b BASE] [-p] [-q] FILE

Writes what the image and the layers above BASE hold into BASE (by default
the image's backing file), then empties the image unless -d or -b is given.
"""

from __future__ import annotations

import os

from pyvirt.block.driver import BlockDriver, BlockError

from . import cmdline
from .errors import ImgError
from .images import (
    block_message,
    chain,
    chunks,
    close_chain,
    extents,
    lock_for_writing,
    open_img,
    read,
)


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":f:ht:b:dpqr:", {})
    fmt = base = None
    drop = quiet = False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "d":
            drop = True
        elif key == "b":
            base, drop = value, True
        elif key == "q":
            quiet = True
    filename = cmdline.one_file(operands)
    image = open_img(filename, fmt, read_only=drop)
    try:
        layers = chain(image)
        depth = _base_depth(layers, base, filename)
        base_layer = layers[depth]
        # The chain holds the base as a backing file: take a writer's locks on that same
        # file description (QEMU reopens the node read-write), then open it unlocked.
        lock_for_writing(base_layer)
        target = open_img(base_layer.path, base_layer.format_name, read_only=False,
                          backing=False, locking=False)  # fmt: skip
        try:
            commit(image, depth, target)
            target.flush()
        finally:
            target.close()
        if not drop:
            image.make_empty()
            image.flush()
    except BlockError as e:
        raise ImgError(block_message(e)) from None
    finally:
        close_chain(image)
    if not quiet:
        print("Image committed.")
    return 0


def _base_depth(layers: list[BlockDriver], base: str | None, filename: str) -> int:
    if len(layers) < 2:
        raise ImgError("Image does not have a backing file")
    if base is None:
        return 1
    for depth, layer in enumerate(layers[1:], 1):
        if layer.path == base or _same_file(layer.path, base):
            return depth
    raise ImgError(f"Did not find '{base}' in the backing chain of '{filename}'")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def commit(image: BlockDriver, base_depth: int, target: BlockDriver) -> None:
    """Copy into `target` every range that the layers above `base_depth` hold."""
    if target.length < image.length:
        target.resize(image.length)
    for e in extents(image):
        if not e.present or e.depth >= base_depth:
            continue
        if e.zero:
            target.write_zeroes(e.start, e.length, unmap=False)
            continue
        for offset, n in chunks(e.start, e.length):
            target.writev(offset, [memoryview(read(image, offset, n))])
