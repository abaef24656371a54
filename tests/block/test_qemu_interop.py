"""Images qemu-img writes read back through pyvirt.block; images we write pass qemu-img check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockError
from pyvirt.block.open import open_image, probe_format
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2

from .conftest import pattern, qemu_check, qemu_img, qemu_io, qemu_raw, read_all, write

MiB = 1 << 20


@pytest.mark.parametrize(
    ("compat", "cluster_size"),
    [("0.10", 65536), ("1.1", 512), ("1.1", 4096), ("1.1", 65536), ("1.1", 2 * MiB)],
)
def test_reads_images_qemu_wrote(tmp_path: Path, compat: str, cluster_size: int) -> None:
    path = tmp_path / "q.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"compat={compat},cluster_size={cluster_size}",
             path, "8M")  # fmt: skip
    qemu_io(path, "write -P 0x11 0 4k", "write -P 0x22 1000k 300k", "write -P 0x33 7M 1M",
            "write -P 0x44 3000k 512")  # fmt: skip
    image = open_image(str(path), read_only=True)
    assert isinstance(image, Qcow2Image)
    assert (image.compat, image.cluster_size) == (compat, cluster_size)
    assert read_all(image) == qemu_raw(path, tmp_path)
    image.close()


def test_backing_chain_three_deep(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(pattern(1, 4 * MiB))
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", tmp_path / "mid.qcow2")
    qemu_io(tmp_path / "mid.qcow2", "write -P 0x5a 1M 64k", "write -z 2M 128k")
    qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "mid.qcow2",
             "-F", "qcow2", tmp_path / "top.qcow2")  # fmt: skip
    qemu_io(tmp_path / "top.qcow2", "write -P 0xa5 1000k 100k", "discard 0 64k")
    top = tmp_path / "top.qcow2"
    image = open_image(str(top), read_only=True)
    assert image.backing is not None and image.backing.backing is not None
    assert image.backing.backing.format_name == "raw"
    assert read_all(image) == qemu_raw(top, tmp_path)
    image.close()


def test_writes_over_backing_chain_leave_backing_alone(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(pattern(2, 2 * MiB))
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", tmp_path / "mid.qcow2")
    qemu_io(tmp_path / "mid.qcow2", "write -P 0x5a 64k 64k")
    top = tmp_path / "top.qcow2"
    create_qcow2(str(top), 2 * MiB, cluster_size=4096, backing_file="mid.qcow2",
                 backing_format="qcow2")  # fmt: skip
    before_mid = qemu_raw(tmp_path / "mid.qcow2", tmp_path)
    expected = bytearray(before_mid)
    image = open_image(str(top))
    for offset, length, seed in [(100, 5000, 3), (65536 + 10, 70000, 4), (2 * MiB - 3000, 3000, 5)]:
        data = pattern(seed, length)
        write(image, offset, data)
        expected[offset : offset + length] = data
    assert read_all(image) == expected
    image.close()
    qemu_check(top)
    assert qemu_raw(top, tmp_path) == expected
    assert qemu_raw(tmp_path / "mid.qcow2", tmp_path) == before_mid
    assert base.read_bytes() == pattern(2, 2 * MiB)
    info = json.loads(qemu_img("info", "--output=json", top).stdout)
    assert info["backing-filename"] == "mid.qcow2"
    assert info["backing-filename-format"] == "qcow2"


def test_compressed_clusters_from_qemu_convert(tmp_path: Path) -> None:
    src = tmp_path / "src.raw"
    data = bytearray(3 * MiB)
    data[:MiB] = b"compressible text " * (MiB // 18) + b"x" * (MiB % 18)
    data[MiB + 12345 : MiB + 200000] = pattern(6, 200000 - 12345)
    src.write_bytes(data)
    dst = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", src, dst)
    image = open_image(str(dst))
    assert read_all(image) == data
    # a write into a compressed cluster copies it out first
    write(image, 100, b"overwrite")
    data[100:109] = b"overwrite"
    image.close()
    qemu_check(dst)
    assert qemu_raw(dst, tmp_path) == data


def test_write_compressed(tmp_path: Path) -> None:
    path = tmp_path / "c.qcow2"
    create_qcow2(str(path), MiB + 4096, cluster_size=65536)
    image = open_image(str(path))
    assert isinstance(image, Qcow2Image)
    expected = bytearray(image.length)
    for i in range(0, image.length, 65536):
        chunk = (b"block %d " % i) * 8000
        chunk = (chunk if i % 3 else pattern(i, 65536))[: min(65536, image.length - i)]
        image.write_compressed(i, chunk)
        expected[i : i + len(chunk)] = chunk
    assert read_all(image) == expected
    image.close()
    report = qemu_check(path)
    assert report["compressed-clusters"] >= 10
    assert qemu_raw(path, tmp_path) == expected


def test_zero_clusters_and_discard_from_qemu_io(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(pattern(7, MiB))
    path = tmp_path / "z.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.raw",
             "-F", "raw", path)  # fmt: skip
    qemu_io(path, "write -P 1 0 256k", "write -z 16k 32k", "discard 64k 64k", "write -z 600k 8k")
    image = open_image(str(path), read_only=True)
    assert read_all(image) == qemu_raw(path, tmp_path)
    image.close()


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_our_writes_pass_qemu_check(tmp_path: Path, compat: str) -> None:
    path = tmp_path / "w.qcow2"
    create_qcow2(str(path), 5 * MiB, cluster_size=4096, compat=compat)
    image = open_image(str(path), discard=True)
    expected = bytearray(5 * MiB)
    ops = [(0, 10000, 1), (4096 * 7 + 1, 123456, 2), (5 * MiB - 512, 512, 3), (3 * MiB, MiB, 4)]
    for offset, length, seed in ops:
        data = pattern(seed, length)
        write(image, offset, data)
        expected[offset : offset + length] = data
    image.write_zeroes(3 * MiB + 1000, 200000, unmap=True)
    expected[3 * MiB + 1000 : 3 * MiB + 201000] = bytes(200000)
    image.discard(3 * MiB + 300000, 100000)  # reads zeroes (no backing file)
    start, end = -(-(3 * MiB + 300000) // 4096) * 4096, (3 * MiB + 400000) // 4096 * 4096
    expected[start:end] = bytes(end - start)
    image.flush()
    assert read_all(image) == expected
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path) == expected


def test_probe_and_raw_never_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "x.qcow2"
    create_qcow2(str(path), MiB)
    assert probe_format(str(path)) == "qcow2"
    assert open_image(str(path)).format_name == "qcow2"
    raw = open_image(str(path), format="raw", read_only=True)
    assert raw.format_name == "raw" and raw.length == path.stat().st_size
    raw.close()


def test_block_status_matches_qemu_map(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", base, "4M")
    qemu_io(base, "write -P 1 1M 512k")
    top = tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
    qemu_io(top, "write -P 2 0 128k", "write -z 1M 64k", "write -P 3 3M 64k")
    image = open_image(str(top), read_only=True)
    ours = [{"start": e.start, "length": e.length, "depth": e.depth, "present": e.present,
             "zero": e.zero, "data": e.data, **({"offset": e.offset} if e.offset is not None
                                                 else {})}
            for e in image.block_status(0, image.length)]  # fmt: skip
    theirs = json.loads(qemu_img("map", "--output=json", top).stdout)
    for e in theirs:
        e.pop("compressed", None)
    assert ours == theirs
    image.close()


def test_resize(tmp_path: Path) -> None:
    path = tmp_path / "r.qcow2"
    create_qcow2(str(path), MiB, cluster_size=512)
    image = open_image(str(path))
    write(image, MiB - 1000, b"\xff" * 1000)
    with pytest.raises(BlockError, match="cannot shrink"):
        image.resize(MiB - 512 * 4)  # would cut through written data
    image.write_zeroes(MiB - 2048, 2048, unmap=True)
    image.resize(MiB - 2048)
    assert image.length == MiB - 2048
    image.resize(300 * MiB)  # the L1 table grows
    assert read_all(image)[MiB - 2048 :] == bytes(300 * MiB - MiB + 2048)
    write(image, 299 * MiB, b"tail")
    image.close()
    qemu_check(path)
    data = qemu_raw(path, tmp_path)
    assert len(data) == 300 * MiB and data[299 * MiB : 299 * MiB + 4] == b"tail"


@pytest.mark.parametrize(
    "options",
    ["compat=0.10", "refcount_bits=1", "refcount_bits=8", "refcount_bits=64,cluster_size=512",
     "lazy_refcounts=on,cluster_size=4096"],
)  # fmt: skip
def test_we_write_images_qemu_created(tmp_path: Path, options: str) -> None:
    path = tmp_path / "q.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", options, path, "3M")
    qemu_io(path, "write -P 7 0 1M")
    expected = bytearray(qemu_raw(path, tmp_path))
    image = open_image(str(path), discard=True)
    for offset, length, seed in [(512, 70000, 1), (2 * MiB + 7, 5000, 2), (MiB - 100, 200, 3)]:
        data = pattern(seed, length)
        write(image, offset, data)
        expected[offset : offset + length] = data
    image.discard(1536 * 1024, 512 * 1024)
    expected[1536 * 1024 : 2 * MiB] = bytes(512 * 1024)
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path) == expected
