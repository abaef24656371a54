"""check and repair: the same counters and messages as qemu-img check, and repairs it accepts."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2

from .conftest import pattern, qemu_check, qemu_img, qemu_raw, write

CLUSTER = 65536
REFBLOCK = 2 * CLUSTER  # where create_qcow2 (and qemu-img create) put the first refcount block


def set_refcount(path: Path, cluster: int, value: int) -> None:
    with open(path, "r+b") as f:
        f.seek(REFBLOCK + 2 * cluster)
        f.write(struct.pack(">H", value))


def qemu_report(path: Path, *args: str) -> tuple[dict[str, int], list[str]]:
    out = qemu_img("check", "--output=json", *args, path, check=False)
    messages = [line for line in out.stderr.splitlines() if line.strip()]
    return json.loads(out.stdout), messages


def damaged_image(tmp_path: Path, damage: dict[int, int]) -> tuple[Path, bytes]:
    path = tmp_path / "d.qcow2"
    create_qcow2(str(path), 4 << 20)
    image = open_image(str(path))
    write(image, 0, pattern(1, 5 * CLUSTER))
    image.close()
    contents = qemu_raw(path, tmp_path)
    for cluster, value in damage.items():
        set_refcount(path, cluster, value)
    return path, contents


# data clusters are 5..9 (after header, refcount table, refcount block, L1, L2)
CASES = {
    "leak of a used cluster": {6: 2},
    "leak of a free cluster": {12: 1},
    "refcount too small": {7: 0},
}


@pytest.mark.parametrize("case", list(CASES))
def test_report_matches_qemu(tmp_path: Path, case: str) -> None:
    path, _ = damaged_image(tmp_path, CASES[case])
    theirs, their_messages = qemu_report(path)
    image = open_image(str(path), read_only=True)
    assert isinstance(image, Qcow2Image)
    ours = image.check()
    image.close()
    for key in ("corruptions", "leaks", "check-errors", "image-end-offset", "total-clusters",
                "allocated-clusters", "fragmented-clusters", "compressed-clusters"):  # fmt: skip
        assert getattr(ours, key.replace("-", "_")) == theirs.get(key, 0), key
    assert ours.messages == their_messages


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("repair", ["leaks", "all"])
def test_repair_accepted_by_qemu(tmp_path: Path, case: str, repair: str) -> None:
    path, contents = damaged_image(tmp_path, CASES[case])
    reference = tmp_path / "reference.qcow2"
    shutil.copy(path, reference)
    image = open_image(str(path), for_check=True)
    assert isinstance(image, Qcow2Image)
    ours = image.check(repair)
    image.close()
    if case == "refcount too small" and repair == "leaks":
        # QEMU: "ERROR need to rebuild refcount structures", check fails (I/O error)
        assert ours.check_errors == 1
        assert "ERROR need to rebuild refcount structures" in ours.messages
        assert qemu_img("check", "-r", repair, reference, check=False).returncode == 1
        return
    theirs, _ = qemu_report(reference, "-r", repair)
    assert (ours.leaks_fixed, ours.corruptions_fixed) == (
        theirs.get("leaks-fixed", 0), theirs.get("corruptions-fixed", 0))  # fmt: skip
    qemu_check(path)
    assert qemu_raw(path, tmp_path) == contents


def test_dirty_image_with_lazy_refcounts_is_repaired_on_open(tmp_path: Path) -> None:
    path = tmp_path / "lazy.qcow2"
    create_qcow2(str(path), 4 << 20, lazy_refcounts=True)
    image = open_image(str(path))
    assert isinstance(image, Qcow2Image)
    write(image, 0, b"lazy" * 1000)
    image.flush()
    assert image.dirty
    info = json.loads(qemu_img("info", "--output=json", "-U", path).stdout)
    assert info["dirty-flag"] is True
    image.file.fd, fd = -1, image.file.fd  # abandon it as a crash would
    os.close(fd)
    set_refcount(path, 13, 1)  # a leak the lazy refcounts left
    image = open_image(str(path))
    assert isinstance(image, Qcow2Image) and not image.dirty
    assert image.check().leaks == 0
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path)[:4000] == b"lazy" * 1000
