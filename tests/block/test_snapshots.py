"""Internal snapshots made by us and by qemu-img, used by both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockError
from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2

from .conftest import pattern, qemu_check, qemu_img, qemu_io, qemu_raw, read_all, write

MiB = 1 << 20


def open_qcow2(path: Path) -> Qcow2Image:
    image = open_image(str(path))
    assert isinstance(image, Qcow2Image)
    return image


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_create_apply_delete(tmp_path: Path, compat: str) -> None:
    path = tmp_path / "s.qcow2"
    create_qcow2(str(path), 2 * MiB, cluster_size=4096, compat=compat)
    image = open_qcow2(path)
    write(image, 0, pattern(1, 100000))
    first = read_all(image)
    image.snapshot_create("one")
    write(image, 50000, pattern(2, 200000))
    second = read_all(image)
    image.snapshot_create("two")
    image.write_zeroes(0, MiB, unmap=True)
    assert [(s.id, s.name) for s in image.snapshots()] == [("1", "one"), ("2", "two")]
    image.close()
    qemu_check(path)
    listing = qemu_img("snapshot", "-l", path).stdout
    assert "one" in listing and "two" in listing

    image = open_qcow2(path)
    image.snapshot_apply("one")
    assert read_all(image) == first
    write(image, 4096, b"after apply")  # shared clusters are copied, the snapshot stays intact
    image.snapshot_apply("2")
    assert read_all(image) == second
    image.snapshot_delete("one")
    with pytest.raises(BlockError, match="Can't find the snapshot"):
        image.snapshot_apply("one")
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path) == second
    qemu_img("snapshot", "-a", "two", path)  # qemu-img uses what we wrote
    qemu_check(path)


def test_qemu_snapshots_read_and_applied(tmp_path: Path) -> None:
    path = tmp_path / "q.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", path, "4M")
    qemu_io(path, "write -P 1 0 1M")
    qemu_img("snapshot", "-c", "base", path)
    expected = qemu_raw(path, tmp_path)
    qemu_io(path, "write -P 2 512k 1M", "discard 3M 64k")
    image = open_qcow2(path)
    [sn] = image.snapshots()
    assert (sn.id, sn.name, sn.vm_state_size) == ("1", "base", 0)
    info = json.loads(qemu_img("info", "--output=json", "--force-share", path).stdout)
    assert info["snapshots"][0]["date-sec"] == sn.date_sec
    image.snapshot_apply("base")
    assert read_all(image) == expected
    write(image, 0, b"x" * 70000)
    image.snapshot_delete("base")
    image.close()
    qemu_check(path)


def test_snapshot_of_resized_image_restores_size(tmp_path: Path) -> None:
    path = tmp_path / "g.qcow2"
    create_qcow2(str(path), MiB, cluster_size=512)
    image = open_qcow2(path)
    write(image, 1000, b"small")
    image.snapshot_create("small")
    image.resize(200 * MiB)
    write(image, 150 * MiB, b"big")
    image.snapshot_apply("small")
    assert image.length == MiB
    assert read_all(image)[1000:1005] == b"small"
    image.close()
    qemu_check(path)


def test_refcount_overflow_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r1.qcow2"
    create_qcow2(str(path), MiB, refcount_bits=1)
    image = open_qcow2(path)
    write(image, 0, b"data")
    with pytest.raises(BlockError, match="overflow"):
        image.snapshot_create("no room")
    image.close()
