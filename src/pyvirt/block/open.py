"""Opening images by format: probing, and backing chains resolved like QEMU does."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from .driver import BlockDriver, BlockError
from .locking import Permissions
from .raw import RawImage

QCOW2_MAGIC = b"QFI\xfb"
FORMATS = ("raw", "qcow2")
MAX_CHAIN_DEPTH = 64


def probe_format(path: str) -> str:
    """ "qcow2" when the file starts with the qcow2 magic, else "raw"."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise BlockError(e.errno, f"Could not open '{path}': {e.strerror}") from None
    return "qcow2" if magic == QCOW2_MAGIC else "raw"


@dataclass(frozen=True)
class _Options:
    read_only: bool
    backing: bool
    discard: bool
    writethrough: bool
    no_flush: bool
    for_check: bool
    direct: bool
    lock: Permissions | None


def open_image(
    path: str,
    *,
    format: str | None = None,
    read_only: bool = False,
    backing: bool = True,
    discard: bool = False,
    writethrough: bool = False,
    no_flush: bool = False,
    for_check: bool = False,
    direct: bool = False,
    lock: Permissions | None = None,
) -> BlockDriver:
    """The image at `path`; `format=None` probes, `format="raw"` is never upgraded.

    `backing=False` opens a qcow2 image without its backing chain; `for_check`
    opens an image marked corrupt read-write, for `check -r` (as qemu-img check).
    `direct` opens every file of the chain with O_DIRECT. `lock` is what the
    opener does with the image and lets others do: each layer's file is locked
    accordingly, as QEMU would (None: no locks taken, none respected).
    """
    options = _Options(read_only, backing, discard, writethrough, no_flush, for_check, direct,
                       lock)  # fmt: skip
    return _open(path, format, options, [])


def _open(path: str, format: str | None, o: _Options, chain: list[str]) -> BlockDriver:
    fmt = format if format is not None else probe_format(path)
    if fmt not in FORMATS:
        raise BlockError(errno.EINVAL, f"'{path}': unknown format '{fmt}' (raw or qcow2)")
    lock = o.lock.for_file(fmt, not o.read_only) if o.lock is not None else None
    if fmt == "raw":
        return RawImage(path, read_only=o.read_only, discard=o.discard,
                        writethrough=o.writethrough, no_flush=o.no_flush, direct=o.direct,
                        lock=lock)  # fmt: skip
    from .qcow2 import Qcow2Image

    image = Qcow2Image(path, read_only=o.read_only, discard=o.discard,
                       writethrough=o.writethrough, no_flush=o.no_flush,
                       for_check=o.for_check, direct=o.direct, lock=lock)  # fmt: skip
    if o.backing and image.backing_file:
        try:
            image.backing = _open_backing(image, o, [*chain, os.path.realpath(path)])
        except BaseException:
            image.close()
            raise
    return image


def backing_path(overlay: str, backing_file: str) -> str:
    """Where a backing file name stored in `overlay` points (relative to its directory)."""
    if os.path.isabs(backing_file):
        return backing_file
    return os.path.join(os.path.dirname(overlay), backing_file)


def _open_backing(image: BlockDriver, o: _Options, chain: list[str]) -> BlockDriver:
    """The backing file, read-only, locked as a backing file (QEMU's "cow" child)."""
    name = image.backing_file  # type: ignore[attr-defined]
    if ":" in name.split("/")[0] and not os.path.exists(backing_path(image.path, name)):
        raise BlockError(errno.ENOTSUP, f"'{image.path}': backing file '{name}' uses a protocol "
                                        "pyvirt does not support")  # fmt: skip
    path = backing_path(image.path, name)
    if os.path.realpath(path) in chain or len(chain) >= MAX_CHAIN_DEPTH:
        raise BlockError(errno.ELOOP, f"'{image.path}': backing chain loops or is too deep "
                                      f"(at '{name}')")  # fmt: skip
    backing = _Options(True, True, False, False, False, False, o.direct,
                       o.lock.for_backing() if o.lock is not None else None)  # fmt: skip
    try:
        return _open(path, image.backing_format, backing, chain)  # type: ignore[attr-defined]
    except BlockError as e:
        raise BlockError(e.errno, f"Could not open backing file: {e.strerror}") from None
