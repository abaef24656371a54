"""The qcow2 modules on their own: header, entry encodings, refcount blocks, cache, allocation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2
from pyvirt.block.qcow2 import layout as L
from pyvirt.block.qcow2.cache import TableCache
from pyvirt.block.qcow2.header import Header, HeaderError, parse_header
from pyvirt.block.qcow2.refcount import decode_block, encode_block, encode_values

from .conftest import pattern, qemu_check, qemu_img, qemu_raw, read_all, write

MiB = 1 << 20


def test_header_round_trip_keeps_unknown_extensions() -> None:
    h = Header(version=3, cluster_bits=16, size=MiB, l1_size=1, l1_table_offset=3 << 16,
               refcount_table_offset=1 << 16, refcount_table_clusters=1,
               backing_file="base.img", backing_format="raw",
               unknown_extensions=[(0x12345678, b"keep me")])  # fmt: skip
    data = h.pack()
    back = parse_header(data + bytes(4 << 16), 4 << 16)
    assert (back.backing_file, back.backing_format) == ("base.img", "raw")
    assert back.unknown_extensions == [(0x12345678, b"keep me")]
    assert back.feature_name(0, 4) == "extended L2 entries"
    assert back.pack() == data


def test_header_rejects_extension_overrunning_the_cluster() -> None:
    h = Header(version=3, cluster_bits=9, size=MiB, l1_size=32, l1_table_offset=1536,
               refcount_table_offset=512, refcount_table_clusters=1)  # fmt: skip
    data = bytearray(h.pack().ljust(512, b"\0"))
    data[112:120] = (0x1234).to_bytes(4, "big") + (4000).to_bytes(4, "big")
    with pytest.raises(HeaderError, match="invalid length"):
        parse_header(bytes(data) + bytes(4096), 4608)


def test_compressed_descriptor() -> None:
    c = L.Compressed(16)
    entry = c.encode(0x123456 + 100, 3000)
    assert L.l2_kind(entry) == L.Kind.COMPRESSED
    offset, size = c.decode(entry)
    assert offset == 0x123456 + 100 and size >= 3000 and (offset + size) % 512 == 0
    start, length = c.span(entry)
    assert start % 512 == 0 and start + length == offset + size


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16, 32, 64])
def test_refcount_block_codec(bits: int) -> None:
    values = [(i * 7) % (1 << min(bits, 20)) for i in range(4096 * 8 // bits)]
    data = encode_values(values, bits, 4096)
    assert len(data) == 4096
    block = decode_block(data, bits)
    assert list(block) == values
    block[3] = 1
    assert decode_block(encode_block(block, bits), bits)[3] == 1


def test_cache_lru_and_dirty() -> None:
    cache: TableCache[str] = TableCache(2)
    cache.put(1, "a", dirty=False)
    cache.put(2, "b", dirty=True)
    cache.get(1)
    assert cache.full() and cache.victim() == 2
    assert list(cache.take_dirty()) == [(2, "b")] and not cache.dirty


def test_refcount_table_grows(tmp_path: Path) -> None:
    """512-byte clusters: one refcount table cluster covers 8 MiB; write more than that."""
    path = tmp_path / "g.qcow2"
    create_qcow2(str(path), 16 * MiB, cluster_size=512)
    image = open_image(str(path))
    assert isinstance(image, Qcow2Image)
    data = pattern(9, 10 * MiB)
    for offset in range(0, len(data), MiB):
        write(image, offset, data[offset : offset + MiB])
    assert image.refcounts.table_clusters > 1
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path)[: len(data)] == data


def test_concurrent_writers(tmp_path: Path) -> None:
    """virtio-blk's workers: four threads writing and reading their own ranges at once."""
    path = tmp_path / "t.qcow2"
    create_qcow2(str(path), 8 * MiB, cluster_size=4096)
    image = open_image(str(path), discard=True)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            base = n * 2 * MiB
            for i in range(64):
                chunk = pattern(n * 1000 + i, 12288)
                offset = base + (i * 28672) % (2 * MiB - 12288)
                write(image, offset, chunk)
                buf = bytearray(len(chunk))
                image.readv(offset, [memoryview(buf)])
                assert buf == chunk
                if i % 16 == 15:
                    image.flush()
                    image.discard(base + 4096 * i, 8192)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = read_all(image)
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path) == expected


def test_info_properties(tmp_path: Path) -> None:
    path = tmp_path / "i.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on,refcount_bits=8", path, "1M")
    image = open_image(str(path), read_only=True)
    assert isinstance(image, Qcow2Image)
    assert (image.version, image.compat, image.lazy_refcounts, image.refcount_bits) == (
        3, "1.1", True, 8)  # fmt: skip
    assert (image.corrupt, image.dirty, image.extended_l2, image.compression_type) == (
        False, False, False, "zlib")  # fmt: skip
    assert image.actual_size == path.stat().st_blocks * 512
    image.close()
