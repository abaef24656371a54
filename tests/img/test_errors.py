"""Bad input: the same one-line errors and exit statuses as qemu-img, and no file changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import digest, same

CASES = [
    [],
    ["frobnicate"],
    ["info"],
    ["info", "a", "b"],
    ["info", "missing.img"],
    ["info", "-f", "bogus", "data.raw"],
    ["info", "--output=xml", "data.raw"],
    ["info", "-z", "data.raw"],
    ["info", "--nope", "data.raw"],
    ["info", "-f"],
    ["info", "data.raw", "--output"],
    ["create", "-f", "raw", "new.img", "12Q"],
    ["create", "-f", "raw", "new.img", "1.5"],
    ["create", "-f", "raw", "new.img", "8E"],
    ["create", "-f", "bogus", "new.img", "1M"],
    ["create", "-f", "raw", "new.img"],
    ["create", "-f", "raw", "new.img", "1M", "extra"],
    ["create", "-f", "raw", "-o", "cluster_size=4k", "new.img", "1M"],
    ["create", "-f", "raw", "-o", "size=1M,", "new.img"],
    ["create", "-f", "raw", "-o", "size=1M", "new.img", "2M"],
    ["create", "-f", "raw", "-b", "data.raw", "-F", "raw", "new.img"],
    ["create", "-f", "qcow2", "-b", "missing.img", "-F", "raw", "new.img"],
    ["create", "-f", "qcow2", "-b", "data.raw", "new.img"],
    ["create", "-f", "qcow2", "-o", "lazy_refcounts=maybe", "new.img", "1M"],
    ["create", "-f", "qcow2", "-o", "cluster_size=abc", "new.img", "1M"],
    ["create", "-f", "qcow2", "-o", "refcount_bits=x", "new.img", "1M"],
    ["create", "-f", "qcow2", "-o", "bogus=1", "new.img", "1M"],
    ["create", "-f", "qcow2", "-u", "-b", "missing.img", "-F", "raw", "new.img"],
    ["create", "-f", "raw", "/nonexistent/dir/new.img", "1M"],
    ["check", "-r", "bogus", "data.raw"],
    ["check", "data.raw"],
    ["check", "missing.img"],
    ["map", "missing.img"],
    ["compare", "data.raw"],
    ["compare", "data.raw", "missing.img"],
    ["compare", "-f", "bogus", "data.raw", "data.raw"],
    ["convert", "-O", "bogus", "data.raw", "out.img"],
    ["convert", "-O", "raw", "missing.img", "out.img"],
    ["convert", "-O", "raw", "data.raw"],
    ["convert", "-t", "bogus", "-O", "raw", "data.raw", "out.img"],
    ["convert", "-c", "-O", "raw", "data.raw", "out.img"],
    ["convert", "-O", "qcow2", "-o", "bogus=1", "data.raw", "out.img"],
    ["resize", "data.raw"],
    ["resize", "data.raw", "10Q"],
    ["resize", "-f", "raw", "data.raw", "1M"],
    ["resize", "-f", "raw", "data.raw", "-3M"],
    ["resize", "missing.img", "1G"],
    ["resize", "-f", "raw", "data.raw", "1G", "x"],
    ["snapshot", "-c", "s", "-d", "t", "data.raw"],
    ["snapshot", "-l", "missing.img"],
    ["snapshot", "-l", "data.raw", "extra"],
    ["snapshot", "-f", "raw", "-l", "data.raw"],
    ["rebase", "data.raw"],
    ["rebase", "-b", "empty.raw", "data.raw"],
    ["commit", "missing.img"],
    ["create", "-f", "qcow2", "-o", "cluster_size=1000", "new.img", "1M"],
    ["create", "-f", "qcow2", "-o", "compat=0.9", "new.img", "1M"],
    ["create", "-f", "qcow2", "-o", "refcount_bits=3", "new.img", "1M"],
    ["info", "-f", "qcow2", "data.raw"],
    ["snapshot", "-a", "nope", "snap.qcow2"],
    ["snapshot", "-d", "nope", "snap.qcow2"],
    ["commit", "v3.qcow2"],
    ["commit", "-b", "nope", "overlay.qcow2"],
    ["rebase", "-b", "missing.img", "-F", "raw", "overlay.qcow2"],
    ["resize", "overlay.qcow2", "-64M"],
    ["convert", "-f", "qcow2", "-O", "raw", "data.raw", "out.img"],
]


@pytest.fixture
def workdir(samples: Path, tmp_path: Path) -> Path:
    for f in samples.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a) or "(nothing)")
def test_error(workdir: Path, args: list[str]) -> None:
    before = {f.name: digest(f) for f in workdir.iterdir()}
    result = same(*args, cwd=workdir)
    assert result.status != 0
    after = {f.name: digest(f) for f in workdir.iterdir() if f.name in before}
    assert after == before
