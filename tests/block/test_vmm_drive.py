"""The VMM's -drive and -blockdev with qcow2, and probing when format= is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyvirt.block.qcow2 import Qcow2Image, create_qcow2
from pyvirt.block.raw import RawImage
from pyvirt.vmm.device_options import parse_blockdev, parse_drive
from pyvirt.vmm.errors import OptionError, VmmError
from pyvirt.vmm.runner import open_image

from .conftest import write


def test_drive_format_qcow2(tmp_path: Path) -> None:
    path = tmp_path / "d.qcow2"
    create_qcow2(str(path), 1 << 20)
    spec = parse_drive("-drive", f"file={path},if=none,id=d0,format=qcow2,discard=unmap", 0)
    assert spec.format == "qcow2"
    image = open_image(spec)
    assert isinstance(image, Qcow2Image) and image.discard_enabled
    image.close()


def test_drive_without_format_probes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qcow2 = tmp_path / "d.qcow2"
    create_qcow2(str(qcow2), 1 << 20)
    image = open_image(parse_drive("-drive", f"file={qcow2},if=none,id=d0", 0))
    assert isinstance(image, Qcow2Image)
    image.close()
    assert capsys.readouterr().err == ""

    raw = tmp_path / "d.img"
    raw.write_bytes(bytes(1 << 20))
    image = open_image(parse_drive("-drive", f"file={raw},if=none,id=d1", 1))
    assert isinstance(image, RawImage)
    err = capsys.readouterr().err
    assert err.startswith(f"WARNING: Image format was not specified for '{raw}' and probing "
                          "guessed raw.\n")  # fmt: skip
    assert "write operations on block 0 will be restricted" in err
    with pytest.raises(OSError, match="block 0"):
        write(image, 0, b"QFI\xfb" + bytes(508))
    write(image, 0, b"fine" + bytes(508))
    image.close()


def test_format_raw_never_opens_qcow2(tmp_path: Path) -> None:
    path = tmp_path / "d.qcow2"
    create_qcow2(str(path), 1 << 20)
    image = open_image(parse_drive("-drive", f"file={path},if=none,id=d0,format=raw", 0))
    assert isinstance(image, RawImage)
    write(image, 0, b"QFI\xfb")  # explicitly raw: no restriction
    image.close()


def test_blockdev_qcow2(tmp_path: Path) -> None:
    path = tmp_path / "d.qcow2"
    create_qcow2(str(path), 1 << 20)
    nodes: dict = {}
    spec = parse_blockdev(
        "-blockdev", f"driver=qcow2,node-name=disk0,file.driver=file,file.filename={path}", nodes
    )
    assert (spec.id, spec.format, spec.file, spec.backing) == ("disk0", "qcow2", str(path), True)
    tree = {"driver": "qcow2", "node-name": "disk1", "backing": None, "read-only": True,
            "file": {"driver": "file", "filename": str(path)}}  # fmt: skip
    spec = parse_blockdev("-blockdev", json.dumps(tree), nodes)
    assert (spec.backing, spec.read_only) == (False, True)
    image = open_image(spec)
    assert isinstance(image, Qcow2Image) and image.read_only
    image.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("driver=vmdk,node-name=x,file.driver=file,file.filename=f", "only file, raw and qcow2"),
        ("driver=qcow2,node-name=x,backing=other,file.driver=file,file.filename=f", "backing"),
        ("driver=qcow2,node-name=x", "driver=qcow2 needs file="),
    ],
)
def test_blockdev_errors(value: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_blockdev("-blockdev", value, {})


def test_drive_errors(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="only raw and qcow2"):
        parse_drive("-drive", "file=x,if=none,format=vmdk", 0)
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb" + bytes(200))
    with pytest.raises(VmmError, match="unsupported qcow2 version 0"):
        open_image(parse_drive("-drive", f"file={bad},if=none,id=d0,format=qcow2", 0))
