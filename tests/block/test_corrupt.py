"""Corrupt and truncated images: refused, or the bad request fails with EIO, never a crash."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockError
from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2

from .conftest import qemu_check, qemu_img, write

CLUSTER = 65536
L1_OFFSET = 3 * CLUSTER  # create_qcow2's layout: header, refcount table, refcount block, L1


def patch(path: Path, offset: int, fmt: str, value: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    path = tmp_path / "c.qcow2"
    create_qcow2(str(path), 8 << 20)
    image = open_image(str(path))
    write(image, 0, b"data" * 50000)
    image.close()
    return path


REFUSED = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:100]), "too short|qcow2 header"),
    "truncated tables": (lambda p: p.write_bytes(p.read_bytes()[: 2 * CLUSTER]),
                         "beyond the end of the file"),
    "bad L1 offset": (lambda p: patch(p, 40, ">Q", 0x12345), "active L1 table offset"),
    "L1 beyond the file": (lambda p: patch(p, 40, ">Q", 1 << 40), "active L1 table.*beyond"),
    "refcount table out of range": (lambda p: patch(p, 48, ">Q", 1 << 50),
                                    "reference count table.*beyond"),
    "huge refcount table": (lambda p: patch(p, 56, ">I", 1 << 20), "reference count table too"),
    "unknown incompatible bit": (lambda p: patch(p, 72, ">Q", 1 << 40),
                                 "unsupported qcow2 feature"),
    "external data file": (lambda p: patch(p, 72, ">Q", 1 << 2), "external data file"),
    "huge L1": (lambda p: patch(p, 36, ">I", 1 << 30), "L1 table too large"),
    "L1 too small": (lambda p: patch(p, 24, ">Q", 1 << 40), "L1 table is too small"),
    "version 4": (lambda p: patch(p, 4, ">I", 4), "unsupported qcow2 version 4"),
    "cluster bits": (lambda p: patch(p, 20, ">I", 30), "cluster size"),
    "encrypted": (lambda p: patch(p, 32, ">I", 1), "encrypted"),
    "snapshot table beyond": (lambda p: (patch(p, 60, ">I", 1), patch(p, 64, ">Q", 1 << 45)),
                              "snapshot table"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_with_a_clear_error(image_path: Path, case: str) -> None:
    damage, message = REFUSED[case]
    damage(image_path)
    with pytest.raises(BlockError, match=message) as info:
        open_image(str(image_path), format="qcow2")
    assert str(image_path) in str(info.value)


def test_bad_l2_entry_fails_the_request_and_marks_the_image_corrupt(image_path: Path) -> None:
    image = open_image(str(image_path))
    assert isinstance(image, Qcow2Image)
    l2_offset = image.l1[0] & ((1 << 56) - 512)
    image.close()
    patch(image_path, l2_offset + 8, ">Q", (1 << 63) | (1 << 44))  # cluster 1 far past the end
    image = open_image(str(image_path))
    buf = bytearray(4096)
    image.readv(0, [memoryview(buf)])  # cluster 0 is fine
    with pytest.raises(BlockError) as info:
        image.readv(CLUSTER, [memoryview(buf)])
    assert info.value.errno == errno.EIO and "outside the image file" in str(info.value)
    with pytest.raises(BlockError):  # marked corrupt: no more I/O
        image.readv(0, [memoryview(buf)])
    image.close()
    with pytest.raises(BlockError, match="corrupt"):
        open_image(str(image_path))
    assert open_image(str(image_path), read_only=True).length == 8 << 20
    info_json = qemu_img("info", "--output=json", image_path).stdout
    assert '"corrupt": true' in info_json
    image = open_image(str(image_path), for_check=True)
    assert isinstance(image, Qcow2Image)
    result = image.check("all")
    assert result.corruptions == 0 and result.corruptions_fixed >= 1
    image.close()
    qemu_check(image_path)


def test_data_write_over_metadata_is_prevented(image_path: Path) -> None:
    image = open_image(str(image_path))
    assert isinstance(image, Qcow2Image)
    l2_offset = image.l1[0] & ((1 << 56) - 512)
    image.close()
    patch(image_path, l2_offset, ">Q", (1 << 63) | L1_OFFSET)  # cluster 0 -> the L1 table
    image = open_image(str(image_path))
    with pytest.raises(BlockError, match="metadata"):
        write(image, 0, b"x" * 512)
    image.close()
    assert open_image(str(image_path), read_only=True).corrupt  # type: ignore[attr-defined]


def test_garbage_never_raises_anything_but_block_error(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    create_qcow2(str(tmp_path / "good.qcow2"), 1 << 20, cluster_size=512)
    image = open_image(str(tmp_path / "good.qcow2"))
    assert isinstance(image, Qcow2Image)
    write(image, 1000, b"data" * 3000)
    image.snapshot_create("snap")
    image.write_compressed(65536, b"z" * 512)
    write(image, 5000, b"more" * 300)
    image.close()
    good = (tmp_path / "good.qcow2").read_bytes()
    for i in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"bad{i}.qcow2"
        path.write_bytes(data)
        try:
            image = open_image(str(path), format="qcow2", discard=True, for_check=i % 2 == 1)
        except BlockError:
            continue
        try:
            buf = bytearray(image.length)
            image.readv(0, [memoryview(buf)])
            write(image, 0, b"x" * 4096)
            image.discard(0, 65536)
            image.flush()
            image.check("all")  # type: ignore[attr-defined]
        except BlockError:
            pass
        finally:
            image.close()
