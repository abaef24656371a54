"""pyvirt-qemu's command line as a user meets it: help, listings and errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYVIRT_QEMU


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYVIRT_QEMU, *args], capture_output=True, text=True, timeout=30)


def test_version_and_help() -> None:
    version = run("-version")
    assert version.returncode == 0
    assert version.stdout.startswith("pyvirt-qemu version ")
    usage = run("-h")
    assert usage.returncode == 0
    for option in ("-kernel", "-initrd", "-append", "-serial", "-nographic", "-smp", "-cpu"):
        assert option in usage.stdout


@pytest.mark.parametrize(
    ("what", "expected"),
    [("-machine", "pc"), ("-cpu", "xsave"), ("-device", "isa-debug-exit")],
)
def test_help_listings(what: str, expected: str) -> None:
    result = run(what, "help")
    assert result.returncode == 0
    assert expected in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-hda", "disk.img"], "pyvirt-qemu: -hda: invalid option"),
        (["disk.img"], "pyvirt-qemu: disk.img: disk images without an option"),
        (["-m"], "pyvirt-qemu: -m: requires an argument"),
        (["-m", "lots"], "pyvirt-qemu: -m: invalid size 'lots'"),
        (["-machine", "q35"], "unsupported machine type 'q35'"),
        (["-accel", "tcg"], "accelerator 'tcg' is not supported"),
        (["-cpu", "host,+warp-drive"], "unknown CPU feature 'warp-drive'"),
        (["-cpu", "pentium"], "unable to find CPU model 'pentium'"),
        (["-serial", "telnet:1234"], "'telnet:1234' is not a supported serial backend"),
        (["-serial", "chardev:nope"], "chardev 'nope' not found"),
        (["-device", "virtio-gpu-pci"], "device 'virtio-gpu-pci' is not supported"),
        (["-device", "virtio-blk-pci"], "drive property not set"),
        (["-display", "gtk"], "display 'gtk' is not supported"),
        (["-smp", "4,sockets=2"], "sockets=2 is not supported"),
    ],
)
def test_bad_options_are_named(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_kernel_file(tmp_path: Path) -> None:
    result = run("-nodefaults", "-kernel", str(tmp_path / "missing"))
    assert result.returncode == 1
    assert f"could not open kernel file '{tmp_path / 'missing'}'" in result.stderr


def test_not_a_kernel(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 8192)
    result = run("-nodefaults", "-kernel", str(junk))
    assert result.returncode == 1
    assert "not a Linux bzImage, multiboot or PVH ELF kernel" in result.stderr


def test_nothing_to_boot() -> None:
    result = run("-nodefaults")
    assert result.returncode == 1
    assert "nothing to boot" in result.stderr
