"""Choosing the boot protocol from the -kernel file, in QEMU's order:
a bzImage setup header, then a multiboot header, then an ELF with a PVH note."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pyvirt.machine.x86.boot import load_kernel, read_kernel
from pyvirt.machine.x86.entry import CpuMode
from pyvirt.machine.x86.loader import BootError
from tests.unit.x86_images import Note, Seg, SetupHeader, boot_input, build_bzimage, build_elf

MB_MAGIC = 0x1BADB002
PVH_NOTE = Note(b"Xen", 18, struct.pack("<Q", 0x100000))


def mb_header() -> bytes:
    return struct.pack("<III", MB_MAGIC, 3, -(MB_MAGIC + 3) & 0xFFFFFFFF)


def pvh_elf(text: bytes = b"\x90" * 64) -> bytes:
    return build_elf([Seg(0x100000, text)], entry=0x100000, notes=[PVH_NOTE])


def multiboot_elf(*, with_pvh_note: bool) -> bytes:
    notes = [PVH_NOTE] if with_pvh_note else []
    return build_elf([Seg(0x100000, mb_header() + b"\xf4" * 64)], entry=0x10000C, is64=False,
                     notes=notes)  # fmt: skip


def test_bzimage() -> None:
    entry = load_kernel(boot_input(build_bzimage(b"\x90" * 512)), None)
    assert entry.description.startswith("bzImage (boot protocol 2.15)")


def test_bzimage_wins_over_a_multiboot_header() -> None:
    image = build_bzimage(mb_header() + b"\x90" * 64, SetupHeader(setup_sects=1))
    assert "bzImage" in load_kernel(boot_input(image), None).description


def test_multiboot_elf() -> None:
    entry = load_kernel(boot_input(multiboot_elf(with_pvh_note=False)), None)
    assert entry.description == "multiboot kernel"
    assert entry.regs["rax"] == 0x2BADB002


def test_multiboot_wins_over_a_pvh_note() -> None:
    entry = load_kernel(boot_input(multiboot_elf(with_pvh_note=True)), None)
    assert entry.description == "multiboot kernel"


def test_pvh_elf() -> None:
    entry = load_kernel(boot_input(pvh_elf()), None)
    assert entry.description == "ELF kernel, PVH entry"
    assert entry.mode is CpuMode.PROTECTED32


def test_initrd_is_read_for_bzimage_and_pvh(tmp_path: Path) -> None:
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(b"070701" + bytes(100))
    for image in (build_bzimage(b"\x90" * 512), pvh_elf()):
        inp = boot_input(image)
        load_kernel(inp, str(initrd))
        assert inp.initrd == initrd.read_bytes()
        assert inp.initrd_path == str(initrd)


def test_multiboot_modules_come_from_the_initrd_option(tmp_path: Path) -> None:
    (tmp_path / "mod").write_bytes(b"MODULE")
    inp = boot_input(multiboot_elf(with_pvh_note=False))
    entry = load_kernel(inp, f"{tmp_path}/mod some args")
    mods_count, mods_addr = struct.unpack_from("<II", inp.mem.read(entry.regs["rbx"] + 20, 8))
    assert mods_count == 1
    start, end = struct.unpack_from("<II", inp.mem.read(mods_addr, 8))
    assert inp.mem.read(start, end - start) == b"MODULE"


def test_elf_without_pvh_note_or_multiboot_header() -> None:
    image = build_elf([Seg(0x100000, b"\x90" * 64)], entry=0x100000)
    with pytest.raises(BootError) as info:
        load_kernel(boot_input(image, path="/tmp/vmlinux"), None)
    assert str(info.value) == (
        "/tmp/vmlinux: ELF kernel has neither a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) "
        "nor a multiboot header"
    )


@pytest.mark.parametrize("data", [b"", b"MZ\x90\x00" + bytes(5000), b"#!/bin/sh\necho hi\n"])
def test_other_files(data: bytes) -> None:
    with pytest.raises(BootError) as info:
        load_kernel(boot_input(data, path="/tmp/thing"), None)
    assert str(info.value) == "/tmp/thing: not a Linux bzImage, multiboot or PVH ELF kernel"


def test_malformed_pvh_elf_is_a_boot_error() -> None:
    image = pvh_elf()[:-10]  # the note segment runs past the end of the file
    with pytest.raises(BootError, match="segment 1 lies beyond the end of the file"):
        load_kernel(boot_input(image, path="/tmp/vmlinux"), None)


def test_malformed_multiboot_elf_is_a_boot_error() -> None:
    # The multiboot header is found, but the ELF around it is broken: still a BootError
    # (the VMM prints BootErrors as one line; anything else would be a traceback).
    image = bytearray(multiboot_elf(with_pvh_note=False))
    struct.pack_into("<I", image, 52 + 20, 0x10)  # segment 0: p_memsz < p_filesz
    with pytest.raises(BootError, match="segment 0 has filesz > memsz"):
        load_kernel(boot_input(bytes(image)), None)


def test_missing_kernel_file(tmp_path: Path) -> None:
    with pytest.raises(BootError) as info:
        read_kernel(str(tmp_path / "bzImage"))
    assert str(info.value) == (
        f"could not open kernel file '{tmp_path}/bzImage': No such file or directory"
    )


def test_kernel_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BootError, match=r"could not open kernel file .*: Is a directory"):
        read_kernel(str(tmp_path))


def test_missing_initrd_file(tmp_path: Path) -> None:
    with pytest.raises(BootError) as info:
        load_kernel(boot_input(pvh_elf()), str(tmp_path / "initrd"))
    assert str(info.value) == (
        f"could not open initial ram disk '{tmp_path}/initrd': No such file or directory"
    )
