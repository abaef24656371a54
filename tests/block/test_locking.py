"""Image locking against the real QEMU 7.2: the same lock bytes, and each side refusing
what the other holds (VMMs both ways, qemu-img and pyvirt-img on images in use)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockDriver
from pyvirt.block.locking import Permissions
from pyvirt.block.open import open_image
from tests.conftest import vmm_argv
from tests.support import TinyGuests

from .conftest import qemu_img

PYVIRT_IMG = [sys.executable, "-m", "pyvirt.img"]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """rw.raw, rw.qcow2, ro.raw, and top.qcow2 over base.raw."""
    for name, fmt in (("rw.raw", "raw"), ("rw.qcow2", "qcow2"), ("ro.raw", "raw"),
                      ("base.raw", "raw")):  # fmt: skip
        qemu_img("create", "-q", "-f", fmt, tmp_path / name, "1M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", tmp_path / "top.qcow2")
    return tmp_path


HOLDER_DRIVES = ["file=top.qcow2,format=qcow2,if=virtio", "file=rw.raw,format=raw,if=virtio",
                 "file=rw.qcow2,format=qcow2,if=virtio",
                 "file=ro.raw,format=raw,if=virtio,readonly=on"]  # fmt: skip


def lock_bytes(directory: Path) -> dict[str, set[int]]:
    """The bytes of each image in `directory` that someone holds an OFD lock on."""
    names = {os.stat(p).st_ino: p.name for p in directory.iterdir()}
    out: dict[str, set[int]] = {}
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] != "OFDLCK":
            continue
        inode = int(fields[5].rsplit(":", 1)[1])
        if inode in names:
            start, end = int(fields[6]), int(fields[7])
            out.setdefault(names[inode], set()).update(range(start, end + 1))
    return out


def start(argv: list[str], cwd: Path, drives: list[str]) -> subprocess.Popen[str]:
    args = [*argv, "-S", "-m", "64M"] + [a for d in drives for a in ("-drive", d)]
    return subprocess.Popen(args, cwd=cwd, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.communicate(timeout=10)


def wait_for_locks(directory: Path, name: str) -> None:
    """Until `name` is locked and the locks stay as they are (a VMM takes them in steps)."""
    deadline = time.monotonic() + 20
    before: dict[str, set[int]] = {}
    while True:
        now = lock_bytes(directory)
        if name in now and now == before:
            return
        assert time.monotonic() < deadline, f"the VMM's locks did not settle: {now}"
        before = now
        time.sleep(0.3)


def vmm(kind: str, tiny_guests: TinyGuests) -> list[str]:
    return vmm_argv(kind, "-display", "none", "-nodefaults", "-kernel",
                    str(tiny_guests["counter"]))  # fmt: skip


@pytest.fixture
def holder_qemu(images: Path, tiny_guests: TinyGuests) -> Iterator[subprocess.Popen[str]]:
    proc = start(vmm("qemu", tiny_guests), images, HOLDER_DRIVES)
    wait_for_locks(images, "ro.raw")
    yield proc
    stop(proc)


def test_our_lock_bytes_are_qemus(images: Path, holder_qemu: subprocess.Popen[str]) -> None:
    """The bytes QEMU's guest disks lock, taken by our drives and by our backing chain."""
    theirs = lock_bytes(images)
    stop(holder_qemu)
    assert theirs == {"top.qcow2": {100, 101, 103, 201, 203}, "base.raw": {100, 201, 203},
                      "rw.raw": {100, 101, 201}, "rw.qcow2": {100, 101, 103, 201, 203},
                      "ro.raw": {100, 201}}  # fmt: skip
    opened: list[BlockDriver] = []
    for drive in HOLDER_DRIVES:
        opts = dict(kv.split("=") for kv in drive.split(","))
        read_only = opts.get("readonly") == "on"
        opened.append(open_image(str(images / opts["file"]), format=opts["format"],
                                 read_only=read_only,
                                 lock=Permissions.device(read_only=read_only)))  # fmt: skip
    try:
        assert lock_bytes(images) == theirs
    finally:
        for image in opened:
            image.close()
            if image.backing is not None:
                image.backing.close()
    assert lock_bytes(images) == {}, "closing released the locks"


@pytest.mark.parametrize("holder", ["pyvirt", "qemu"])
@pytest.mark.parametrize("opener", ["pyvirt", "qemu"])
def test_vmms_refuse_images_the_other_holds(
    holder: str, opener: str, images: Path, tiny_guests: TinyGuests
) -> None:
    held = start(vmm(holder, tiny_guests), images, HOLDER_DRIVES)
    try:
        wait_for_locks(images, "ro.raw")
        argv = vmm(opener, tiny_guests)
        for drive, failure in (
            ("file=rw.raw,format=raw,if=virtio", 'Failed to get "write" lock'),
            ("file=base.raw,format=raw,if=virtio", 'Failed to get "write" lock'),
            ("file=ro.raw,format=raw,if=virtio", 'Failed to get "write" lock'),
            ("file=rw.qcow2,format=qcow2,if=virtio,readonly=on",
             'Failed to get shared "write" lock'),
        ):  # fmt: skip
            proc = start(argv, images, [drive])
            _, err = proc.communicate(timeout=30)
            name = drive.split(",")[0][5:]
            assert proc.returncode == 1, err
            hint = f"Is another process using the image [{name}]?"
            assert f": -drive {drive}: {failure}\n{hint}" in err
        # Readers share with readers; file.locking=off neither takes nor respects locks.
        sharing = start(argv, images, ["file=ro.raw,format=raw,if=virtio,readonly=on",
                                       "file=base.raw,format=raw,if=virtio,readonly=on",
                                       "file=rw.raw,format=raw,if=virtio,file.locking=off"],
                        )  # fmt: skip
        time.sleep(1.5)
        assert sharing.poll() is None, sharing.communicate()[1]
        stop(sharing)
    finally:
        stop(held)
    assert lock_bytes(images) == {}


@pytest.mark.parametrize("holder", ["pyvirt", "qemu"])
def test_img_tools_on_images_in_use(holder: str, images: Path, tiny_guests: TinyGuests) -> None:
    """pyvirt-img answers as qemu-img does: info works on a raw image in use, not on a
    qcow2 one (its metadata may change) unless -U; writers are refused."""
    held = start(vmm(holder, tiny_guests), images, HOLDER_DRIVES)
    try:
        wait_for_locks(images, "ro.raw")
        for args in (["info", "rw.raw"], ["info", "top.qcow2"], ["info", "-U", "top.qcow2"],
                     ["info", "--force-share", "--backing-chain", "top.qcow2"],
                     ["check", "rw.qcow2"], ["check", "-U", "rw.qcow2"],
                     ["map", "-U", "--output=json", "top.qcow2"],
                     ["snapshot", "-U", "-c", "s", "rw.qcow2"],
                     ["resize", "-f", "raw", "rw.raw", "2M"], ["commit", "top.qcow2"]):  # fmt: skip
            ours = subprocess.run([*PYVIRT_IMG, *args], cwd=images, capture_output=True,
                                  text=True)  # fmt: skip
            theirs = subprocess.run(["qemu-img", *args], cwd=images, capture_output=True,
                                    text=True)  # fmt: skip
            assert ours.returncode == theirs.returncode, (args, ours.stderr, theirs.stderr)
            assert ours.stderr.replace("pyvirt-img:", "qemu-img:") == theirs.stderr, args
    finally:
        stop(held)
    assert lock_bytes(images) == {}
