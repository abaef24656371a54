"""create, convert, resize, snapshot, rebase, commit: each run by both tools on twin copies
of the same files; same output, and images that qemu-img finds clean and equal to its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import check_clean, identical, ours, qemu, qemu_io


@pytest.fixture
def twins(samples: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the sample images: one for qemu-img, one for pyvirt-img."""
    dirs = tmp_path / "qemu", tmp_path / "pyvirt"
    for d in dirs:
        shutil.copytree(samples, d)
    return dirs


def both(twins: tuple[Path, Path], *args: str) -> None:
    theirs = qemu(*args, cwd=twins[0])
    mine = ours(*args, cwd=twins[1])
    assert mine == theirs, f"pyvirt-img {' '.join(args)}"


def results_match(twins: tuple[Path, Path], name: str) -> None:
    """The file both tools produced: clean, same content, same info apart from the disk usage."""
    theirs, mine = twins[0] / name, twins[1] / name
    check_clean(mine)
    identical(mine, theirs)
    info = [json.loads(qemu("info", "--output=json", name, cwd=d).stdout) for d in twins]
    for i in info:
        i.pop("actual-size")
    assert info[0] == info[1]


CREATE = [
    ["-f", "raw", "new.img", "1G"],
    ["-f", "raw", "new.img", "1.5k"],
    ["-f", "raw", "-o", "size=2M", "new.img"],
    ["-f", "raw", "-q", "new.img", "0x10k"],
    ["new.img", "3M"],
    ["-f", "qcow2", "new.img", "1.5G"],
    ["-f", "qcow2", "-b", "data.raw", "-F", "raw", "new.img"],
    ["-f", "qcow2", "-b", "v3.qcow2", "-F", "qcow2", "new.img", "128M"],
    ["-f", "qcow2", "-u", "-b", "data.raw", "-F", "raw", "new.img", "1M"],
    ["-f", "qcow2", "-o", "compat=0.10,cluster_size=4k", "new.img", "100M"],
    [
        "-f",
        "qcow2",
        "-o",
        "cluster_size=512,lazy_refcounts=on,refcount_bits=8",
        "new.img",
        "1M",
    ],
    ["-f", "qcow2", "-o", "backing_file=v2.qcow2,backing_fmt=qcow2", "new.img"],
]


@pytest.mark.parametrize("args", CREATE, ids=" ".join)
def test_create(twins: tuple[Path, Path], args: list[str]) -> None:
    both(twins, "create", *args)
    results_match(twins, "new.img")


CONVERT = [
    ["-O", "raw", "data.raw", "out.img"],
    ["-f", "raw", "-O", "raw", "-p", "empty.raw", "out.img"],
    ["-O", "qcow2", "data.raw", "out.img"],
    ["-O", "raw", "v3.qcow2", "out.img"],
    ["-O", "raw", "overlay.qcow2", "out.img"],
    ["-O", "qcow2", "-c", "v3.qcow2", "out.img"],
    ["-O", "qcow2", "-o", "cluster_size=4k,compat=0.10", "v2.qcow2", "out.img"],
    ["-O", "qcow2", "on-raw.qcow2", "out.img"],
]


@pytest.mark.parametrize("args", CONVERT, ids=" ".join)
def test_convert(twins: tuple[Path, Path], args: list[str]) -> None:
    both(twins, "convert", *args)
    results_match(twins, "out.img")
    identical(twins[1] / "out.img", twins[1] / args[-2])


def test_convert_is_sparse(twins: tuple[Path, Path]) -> None:
    both(twins, "convert", "-O", "raw", "data.raw", "out.img")
    used = [(d / "out.img").stat().st_blocks for d in twins]
    assert used[1] <= used[0]


RESIZE = [
    ["-f", "raw", "data.raw", "+1M"],
    ["-f", "raw", "data.raw", "8M"],
    ["--shrink", "-f", "raw", "data.raw", "1M"],
    ["-q", "-f", "raw", "empty.raw", "2M"],
    ["v3.qcow2", "+64M"],
    ["v2.qcow2", "1G"],
    ["--shrink", "v3.qcow2", "32M"],
    ["overlay.qcow2", "+1G"],
]


@pytest.mark.parametrize("args", RESIZE, ids=" ".join)
def test_resize(twins: tuple[Path, Path], args: list[str]) -> None:
    both(twins, "resize", *args)
    results_match(twins, args[-2])


def test_snapshot_create_apply_delete(twins: tuple[Path, Path]) -> None:
    mine = twins[1] / "v3.qcow2"
    pristine = twins[1] / "pristine.img"
    shutil.copy(twins[1] / "data.raw", pristine)
    assert qemu("convert", "-O", "raw", "v3.qcow2", "pristine.img", cwd=twins[1]).status == 0
    both(twins, "snapshot", "-c", "before", "v3.qcow2")
    listing = qemu("snapshot", "-l", "v3.qcow2", cwd=twins[1]).stdout
    assert "before" in listing
    qemu_io(mine, "write -P 0x99 0 2M")
    check_clean(mine)
    both(twins, "snapshot", "-a", "before", "v3.qcow2")
    check_clean(mine)
    identical(mine, pristine)
    both(twins, "snapshot", "-d", "before", "v3.qcow2")
    check_clean(mine)
    assert qemu("snapshot", "-l", "v3.qcow2", cwd=twins[1]).stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["-b", "empty.raw", "-F", "raw", "on-raw.qcow2"],
        ["-b", "", "on-raw.qcow2"],
        ["-u", "-b", "empty.raw", "-F", "raw", "on-raw.qcow2"],
        ["-b", "v2.qcow2", "-F", "qcow2", "overlay.qcow2"],
    ],
    ids=" ".join,
)
def test_rebase(twins: tuple[Path, Path], args: list[str]) -> None:
    both(twins, "rebase", *args)
    results_match(twins, args[-1])


@pytest.mark.parametrize("args", [["overlay.qcow2"], ["-d", "overlay.qcow2"], ["on-raw.qcow2"]])
def test_commit(twins: tuple[Path, Path], args: list[str]) -> None:
    top = args[-1]
    seen_before = twins[1] / "seen.raw"
    assert qemu("convert", "-O", "raw", top, str(seen_before), cwd=twins[1]).status == 0
    both(twins, "commit", *args)
    results_match(twins, top)
    base = json.loads(qemu("info", "--output=json", top, cwd=twins[1]).stdout)["backing-filename"]
    results_match(twins, base)
    identical(twins[1] / base, seen_before)
