"""Creating qcow2 images, laid out as qemu-img lays them out."""

from __future__ import annotations

import errno
import os
import tempfile
from array import array

from ..driver import BlockError
from . import layout as L
from .fileio import table_bytes
from .header import Header, HeaderError
from .refcount import encode_values


def create_qcow2(
    path: str,
    size: int,
    *,
    cluster_size: int = 65536,
    compat: str = "1.1",
    backing_file: str | None = None,
    backing_format: str | None = None,
    lazy_refcounts: bool = False,
    refcount_bits: int = 16,
) -> None:
    """An empty image: header, refcount table, one refcount block, L1 table (temp file + rename)."""
    cluster_bits = cluster_size.bit_length() - 1
    problem = _check_options(size, cluster_size, cluster_bits, compat, lazy_refcounts,
                             refcount_bits)  # fmt: skip
    if problem:
        raise BlockError(errno.EINVAL, f"could not create '{path}': {problem}")
    version = 2 if compat == "0.10" else 3
    l1_size = -(-size // (cluster_size * (cluster_size // 8)))
    l1_clusters = -(-l1_size * 8 // cluster_size)
    # cluster 0 header, 1 refcount table, 2 refcount block, then the L1 table
    header = Header(
        version=version, cluster_bits=cluster_bits, size=size, l1_size=l1_size,
        l1_table_offset=3 * cluster_size if l1_size else 0,
        refcount_table_offset=cluster_size, refcount_table_clusters=1,
        compatible=L.COMPAT_LAZY_REFCOUNTS if lazy_refcounts else 0,
        refcount_order=refcount_bits.bit_length() - 1,
        backing_file=backing_file, backing_format=backing_format if backing_file else None,
    )  # fmt: skip
    try:
        head = header.pack()
    except HeaderError as e:
        raise BlockError(errno.EINVAL, f"could not create '{path}': {e}") from None
    used = 3 + l1_clusters
    if used > cluster_size * 8 // refcount_bits:
        raise BlockError(errno.EINVAL, f"could not create '{path}': L1 table too large for "
                                       "one refcount block")  # fmt: skip
    reftable = array("Q", [2 * cluster_size]) + array("Q", bytes(cluster_size - 8))
    image = bytearray(head.ljust(cluster_size, b"\0"))
    image += table_bytes(reftable)
    image += encode_values([1] * used, refcount_bits, cluster_size)
    image += bytes(l1_size * 8)  # the file ends with the L1 table, as with qemu-img
    _write_atomically(path, bytes(image))


def _check_options(
    size: int, cluster_size: int, cluster_bits: int, compat: str, lazy: bool, refcount_bits: int
) -> str | None:
    if cluster_size != 1 << cluster_bits or not (
        L.MIN_CLUSTER_BITS <= cluster_bits <= L.MAX_CLUSTER_BITS
    ):
        return ("Cluster size must be a power of two between 512 and 2048k "
                f"(not {cluster_size})")  # fmt: skip
    if compat not in ("0.10", "1.1"):
        return f"invalid compatibility level: '{compat}'"
    if refcount_bits not in (1, 2, 4, 8, 16, 32, 64):
        return "Refcount width must be a power of two and may not exceed 64 bits"
    if compat == "0.10" and (lazy or refcount_bits != 16):
        return ("lazy refcounts and refcount widths other than 16 bits require "
                "compatibility level 1.1 or above (use compat=1.1 or greater)")  # fmt: skip
    if size < 0 or size % 512:
        return "image size must be a multiple of 512 bytes"
    if -(-size // (cluster_size * (cluster_size // 8))) * 8 > L.MAX_L1_BYTES:
        return "image size is too large for this cluster size"
    return None


def _write_atomically(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pyvirt-", dir=directory)
    except OSError as e:
        raise BlockError(e.errno, f"could not create '{path}': {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise BlockError(e.errno, f"could not create '{path}': {e.strerror}") from None
