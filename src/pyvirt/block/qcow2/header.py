"""The qcow2 header and its extensions: parsed with every field checked, and rewritten."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import layout as L

_V2 = struct.Struct(">4sIQIIQIIQQIIQ")  # 72 bytes
_V3 = struct.Struct(">QQQII")  # incompatible..header_length, bytes 72-103
_EXT = struct.Struct(">II")
_FEATURE = struct.Struct(">BB46s")


class HeaderError(ValueError):
    """The header is not one we can open; the text says what is wrong."""


@dataclass
class Header:
    version: int
    cluster_bits: int
    size: int
    l1_size: int
    l1_table_offset: int
    refcount_table_offset: int
    refcount_table_clusters: int
    nb_snapshots: int = 0
    snapshots_offset: int = 0
    incompatible: int = 0
    compatible: int = 0
    autoclear: int = 0
    refcount_order: int = 4
    compression_type: int = 0
    backing_file: str | None = None
    backing_format: str | None = None
    unknown_header_fields: bytes = b""  # past the fields we know (v3), kept as they are
    unknown_extensions: list[tuple[int, bytes]] = field(default_factory=list)
    feature_names: dict[tuple[int, int], str] = field(default_factory=dict)  # from the file

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @property
    def refcount_bits(self) -> int:
        return 1 << self.refcount_order

    def feature_name(self, kind: int, bit: int) -> str:
        return self.feature_names.get((kind, bit)) or L.FEATURE_NAMES.get(
            (kind, bit), f"unknown feature bit {bit}"
        )

    def pack(self) -> bytes:
        """Header, extensions and backing file name, as they go at offset 0 (one cluster).

        The feature name table is left out when it does not fit, as QEMU does.
        """
        out = self._pack(feature_table=self.version >= 3)
        if len(out) > self.cluster_size:
            out = self._pack(feature_table=False)
        if len(out) > self.cluster_size:
            raise HeaderError("header, extensions and backing file name exceed one cluster")
        return out

    def _pack(self, *, feature_table: bool) -> bytes:
        length = L.V2_HEADER_LENGTH if self.version == 2 else (
            L.V3_HEADER_LENGTH + len(self.unknown_header_fields))  # fmt: skip
        ext = bytearray()
        if self.backing_format:
            _put_ext(ext, L.EXT_BACKING_FORMAT, self.backing_format.encode())
        if feature_table:
            table = b"".join(_FEATURE.pack(kind, bit, name.encode())
                             for (kind, bit), name in L.FEATURE_NAMES.items())  # fmt: skip
            _put_ext(ext, L.EXT_FEATURE_TABLE, table)
        for etype, data in self.unknown_extensions:
            _put_ext(ext, etype, data)
        _put_ext(ext, L.EXT_END, b"")
        backing = (self.backing_file or "").encode()
        backing_offset = length + len(ext) if backing else 0
        head = _V2.pack(
            L.MAGIC, self.version, backing_offset, len(backing), self.cluster_bits, self.size, 0,
            self.l1_size, self.l1_table_offset, self.refcount_table_offset,
            self.refcount_table_clusters, self.nb_snapshots, self.snapshots_offset,
        )  # fmt: skip
        if self.version >= 3:
            head += _V3.pack(self.incompatible, self.compatible, self.autoclear,
                             self.refcount_order, length)  # fmt: skip
            head += bytes([self.compression_type]) + bytes(7) + self.unknown_header_fields
        return head + ext + backing


def _put_ext(out: bytearray, etype: int, data: bytes) -> None:
    out += _EXT.pack(etype, len(data)) + data + bytes(-len(data) % 8)


def parse_header(data: bytes, file_size: int) -> Header:
    """The header in `data` (the file's first cluster, or all of a smaller file)."""
    if len(data) < _V2.size:
        raise HeaderError("file too short for a qcow2 header")
    (magic, version, backing_offset, backing_size, cluster_bits, size, crypt, l1_size, l1_offset,
     rt_offset, rt_clusters, nb_snapshots, sn_offset) = _V2.unpack_from(data)  # fmt: skip
    if magic != L.MAGIC:
        raise HeaderError("not a qcow2 image (bad magic)")
    if version not in (2, 3):
        raise HeaderError(f"unsupported qcow2 version {version}")
    if not L.MIN_CLUSTER_BITS <= cluster_bits <= L.MAX_CLUSTER_BITS:
        raise HeaderError(f"unsupported cluster size: 2^{cluster_bits}")
    cluster = 1 << cluster_bits
    h = Header(version, cluster_bits, size, l1_size, l1_offset, rt_offset, rt_clusters,
               nb_snapshots, sn_offset)  # fmt: skip
    header_length = L.V2_HEADER_LENGTH
    if version == 3:
        if len(data) < L.V3_MIN_HEADER_LENGTH:
            raise HeaderError("qcow2 header too short")
        (h.incompatible, h.compatible, h.autoclear, h.refcount_order,
         header_length) = _V3.unpack_from(data, 72)  # fmt: skip
        if header_length < L.V3_MIN_HEADER_LENGTH:
            raise HeaderError("qcow2 header too short")
        if header_length > cluster or header_length > len(data):
            raise HeaderError("qcow2 header exceeds cluster size")
        if header_length > 104:
            h.compression_type = data[104]
        h.unknown_header_fields = bytes(data[L.V3_HEADER_LENGTH : header_length])
    if crypt:
        raise HeaderError("encrypted images are not supported")
    _parse_extensions(h, data, header_length, backing_offset or min(cluster, len(data)))
    _check_features(h)
    if h.refcount_order > 6:
        raise HeaderError("reference count entry width too large; may not exceed 64 bits")
    if version == 2 and h.refcount_order != 4:
        raise HeaderError("version 2 images have 16-bit refcounts")
    if backing_offset:
        if backing_size > L.MAX_BACKING_NAME:
            raise HeaderError("backing file name too long")
        if backing_offset > cluster or backing_offset + backing_size > min(cluster, len(data)):
            raise HeaderError("invalid backing file offset")
        try:
            h.backing_file = data[backing_offset : backing_offset + backing_size].decode()
        except UnicodeDecodeError:
            raise HeaderError("backing file name is not valid UTF-8") from None
    _check_tables(h, file_size)
    return h


def _parse_extensions(h: Header, data: bytes, pos: int, end: int) -> None:
    while pos + _EXT.size <= end:
        etype, length = _EXT.unpack_from(data, pos)
        pos += _EXT.size
        if etype == L.EXT_END:
            return
        if length > end - pos:
            raise HeaderError(f"header extension {etype:#x}: invalid length {length}")
        body = bytes(data[pos : pos + length])
        pos += (length + 7) & ~7
        if etype == L.EXT_BACKING_FORMAT:
            h.backing_format = body.decode(errors="replace")
        elif etype == L.EXT_FEATURE_TABLE:
            for kind, bit, name in _FEATURE.iter_unpack(body[: len(body) // 48 * 48]):
                h.feature_names[(kind, bit)] = name.rstrip(b"\0").decode(errors="replace")
        elif etype == L.EXT_CRYPTO:
            raise HeaderError("encrypted images are not supported")
        else:
            h.unknown_extensions.append((etype, body))


def _check_features(h: Header) -> None:
    unsupported = h.incompatible & ~L.INCOMPAT_SUPPORTED
    if unsupported:
        names = [h.feature_name(0, bit) for bit in range(64) if unsupported >> bit & 1]
        raise HeaderError(f"unsupported qcow2 feature(s): {', '.join(names)}")
    if h.incompatible & L.INCOMPAT_COMPRESSION:
        if h.compression_type != 0:
            raise HeaderError(f"compression type {h.compression_type} (zstd) is not supported")
    elif h.compression_type != 0:
        raise HeaderError("invalid compression type: the compression type bit is not set")


def _check_table(what: str, offset: int, length: int, cluster: int, file_size: int) -> None:
    if offset % cluster or (offset <= 0 and length):
        raise HeaderError(f"{what} offset {offset:#x} invalid (not cluster aligned)")
    if offset + length > file_size:
        raise HeaderError(f"{what} at {offset:#x} (+{length}) lies beyond the end of the file "
                          f"({file_size} bytes)")  # fmt: skip


def _check_tables(h: Header, file_size: int) -> None:
    cluster = h.cluster_size
    l2_entries = cluster // 8
    needed = -(-h.size // (cluster * l2_entries))
    if h.size >= 1 << 63 or needed * 8 > L.MAX_L1_BYTES:
        raise HeaderError(f"image is too big (virtual size {h.size})")
    if h.l1_size * 8 > L.MAX_L1_BYTES:
        raise HeaderError(f"active L1 table too large ({h.l1_size} entries)")
    if h.l1_size < needed:
        raise HeaderError(f"L1 table is too small ({h.l1_size} entries for {h.size} bytes)")
    if h.l1_size:
        _check_table("active L1 table", h.l1_table_offset, h.l1_size * 8, cluster, file_size)
    if h.refcount_table_clusters == 0:
        raise HeaderError("image does not contain a reference count table")
    if h.refcount_table_clusters * cluster > L.MAX_REFTABLE_BYTES:
        raise HeaderError(f"reference count table too large "
                          f"({h.refcount_table_clusters} clusters)")  # fmt: skip
    _check_table("reference count table", h.refcount_table_offset,
                 h.refcount_table_clusters * cluster, cluster, file_size)  # fmt: skip
    if h.nb_snapshots > L.MAX_SNAPSHOTS:
        raise HeaderError(f"too many snapshots ({h.nb_snapshots})")
    if h.nb_snapshots:
        _check_table("snapshot table", h.snapshots_offset, 40 * h.nb_snapshots, cluster,
                     file_size)  # fmt: skip
