"""Multiboot v1 (Multiboot Specification 0.6.96): finding the header, ELF and a.out-kludge
images, and the multiboot information structure handed over in EBX."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pyvirt.machine.x86 import multiboot
from pyvirt.machine.x86.entry import CpuMode
from pyvirt.machine.x86.loader import BootError
from tests.unit.x86_images import MiB, Seg, boot_input, build_elf, c_string

MAGIC, LOADER_MAGIC = 0x1BADB002, 0x2BADB002
PAGE_ALIGN, MEMORY_INFO, AOUT_KLUDGE = 1 << 0, 1 << 1, 1 << 16
# multiboot_info flags
MI_MEMORY, MI_CMDLINE, MI_MODS, MI_MMAP, MI_LOADER_NAME = 1, 1 << 2, 1 << 3, 1 << 6, 1 << 9


def mb_header(flags: int = PAGE_ALIGN | MEMORY_INFO, *addrs: int) -> bytes:
    checksum = -(MAGIC + flags) & 0xFFFFFFFF
    return struct.pack("<III", MAGIC, flags, checksum) + struct.pack(f"<{len(addrs)}I", *addrs)


def elf_kernel() -> bytes:
    text = mb_header() + b"\xf4" * 100  # the header at the start of .text
    return build_elf([Seg(0x100000, text), Seg(0x101000, b"data", memsz=0x5000)],
                     entry=0x10000C, is64=False)  # fmt: skip


def info(inp, entry) -> dict[str, int]:
    """The multiboot_info structure EBX points at."""
    raw = inp.mem.read(entry.regs["rbx"], 0x58)
    names = ["flags", "mem_lower", "mem_upper", "boot_device", "cmdline", "mods_count",
             "mods_addr", "syms0", "syms1", "syms2", "syms3", "mmap_length", "mmap_addr",
             "drives_length", "drives_addr", "config_table", "boot_loader_name"]  # fmt: skip
    return dict(zip(names, struct.unpack_from("<17I", raw), strict=True))


def load(image: bytes, modules=(), **kw):
    inp = boot_input(image, path="/boot/kernel.elf", **kw)
    header = multiboot.find_header(image)
    assert header is not None
    return inp, multiboot.load(inp, header, list(modules))


# --- the header ------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 4, 0x400, 8192 - 12])
def test_header_found_anywhere_in_the_first_8k(offset: int) -> None:
    data = bytes(offset) + mb_header() + bytes(64)
    header = multiboot.find_header(data)
    assert header is not None and header.offset == offset


@pytest.mark.parametrize("offset", [8192 - 8, 8192, 10000])
def test_header_must_lie_within_the_first_8k(offset: int) -> None:
    assert multiboot.find_header(bytes(offset) + mb_header() + bytes(64)) is None


def test_header_must_be_4_byte_aligned() -> None:
    assert multiboot.find_header(bytes(2) + mb_header() + bytes(64)) is None


def test_checksum_must_make_the_sum_zero() -> None:
    bad = struct.pack("<III", MAGIC, 3, (-(MAGIC + 3) + 1) & 0xFFFFFFFF)
    assert multiboot.find_header(bad + bytes(64)) is None
    assert multiboot.find_header(bad + mb_header(3)) is not None  # the next one is fine


def test_aout_kludge_fields() -> None:
    h = multiboot.find_header(mb_header(AOUT_KLUDGE, 0x100000, 0x100000, 0x101000, 0x102000,
                                        0x100020))  # fmt: skip
    assert h is not None
    assert (h.header_addr, h.load_addr, h.load_end_addr, h.bss_end_addr, h.entry_addr) == (
        0x100000, 0x100000, 0x101000, 0x102000, 0x100020)  # fmt: skip


def test_aout_kludge_header_cut_off_by_end_of_file() -> None:
    assert multiboot.find_header(mb_header(AOUT_KLUDGE, 0x100000)) is None


# --- an ELF kernel ---------------------------------------------------------------------------


def test_elf_entry_state() -> None:
    inp, entry = load(elf_kernel())
    assert entry.mode is CpuMode.PROTECTED32
    assert entry.rip == 0x10000C
    assert entry.regs["rax"] == LOADER_MAGIC
    assert inp.mem.read(0x100000, 12) == mb_header()
    assert inp.mem.read(0x101004, 0x4FFC) == bytes(0x4FFC)  # bss


def test_info_flags_and_memory() -> None:
    inp, entry = load(elf_kernel(), ram=96 * MiB)
    mbi = info(inp, entry)
    for flag in (MI_MEMORY, MI_CMDLINE, MI_MODS, MI_MMAP, MI_LOADER_NAME):
        assert mbi["flags"] & flag
    assert 0 < mbi["mem_lower"] <= 640  # KiB of conventional memory
    assert mbi["mem_lower"] * 1024 <= 0x9FC00  # not the EBDA
    assert mbi["mem_upper"] == 95 * 1024  # KiB from 1 MiB to the first hole
    assert c_string(inp.mem, mbi["boot_loader_name"]) == b"pyvirt"


def test_command_line_is_path_then_arguments() -> None:
    inp, entry = load(elf_kernel(), cmdline="console=ttyS0 debug")
    assert c_string(inp.mem, info(inp, entry)["cmdline"]) == b"/boot/kernel.elf console=ttyS0 debug"


def test_command_line_without_arguments() -> None:
    inp, entry = load(elf_kernel())
    assert c_string(inp.mem, info(inp, entry)["cmdline"]) == b"/boot/kernel.elf"


def test_memory_map_entries() -> None:
    inp, entry = load(elf_kernel(), ram=5 * 1024 * MiB)
    mbi = info(inp, entry)
    raw = inp.mem.read(mbi["mmap_addr"], mbi["mmap_length"])
    entries, pos = [], 0
    while pos < len(raw):  # each entry: u32 size (not counting itself), u64 addr, u64 len, u32 type
        size, addr, length, kind = struct.unpack_from("<IQQI", raw, pos)
        assert size == 20
        entries.append((addr, length, kind))
        pos += size + 4
    assert entries == [(e.addr, e.size, int(e.type)) for e in inp.e820]
    assert (4 << 30, 2 << 30, 1) in entries


def test_modules_page_aligned_after_the_kernel_with_command_lines() -> None:
    mods = [("/boot/initrd.img root=ram", b"A" * 5000), ("/boot/second", b"B" * 10),
            ("/boot/empty", b"")]  # fmt: skip
    inp, entry = load(elf_kernel(), mods)
    mbi = info(inp, entry)
    assert mbi["mods_count"] == 3
    table = [struct.unpack_from("<IIII", inp.mem.read(mbi["mods_addr"] + 16 * i, 16))
             for i in range(3)]  # fmt: skip
    kernel_end = 0x101000 + 0x5000  # the end of the bss
    previous_end = kernel_end
    for (start, end, string, reserved), (cmdline, data) in zip(table, mods, strict=True):
        assert start % 4096 == 0
        assert start >= previous_end
        assert end - start == len(data)
        assert inp.mem.read(start, end - start) == data
        assert c_string(inp.mem, string) == cmdline.encode()
        assert reserved == 0
        previous_end = end
    assert table[0][0] == kernel_end


def test_no_modules() -> None:
    inp, entry = load(elf_kernel())
    assert info(inp, entry)["mods_count"] == 0


def test_module_beyond_ram() -> None:
    with pytest.raises(BootError, match="multiboot module '/boot/big'"):
        load(elf_kernel(), [("/boot/big", bytes(9 * MiB))], ram=8 * MiB)


# --- an a.out-kludge kernel ------------------------------------------------------------------


def aout_kernel(header_offset: int = 0x40, load_end: int = 0, bss_end: int = 0x104000) -> bytes:
    load_addr = 0x200000
    body = bytearray(b"\xcc" * 0x3000)
    header = mb_header(AOUT_KLUDGE | PAGE_ALIGN, load_addr + header_offset, load_addr,
                       load_end, bss_end and load_addr + bss_end - 0x100000,
                       load_addr + 0x100)  # fmt: skip
    body[header_offset : header_offset + len(header)] = header
    return bytes(body)


def test_aout_kludge_load() -> None:
    image = aout_kernel()
    inp, entry = load(image)
    assert entry.rip == 0x200100
    assert entry.regs["rax"] == LOADER_MAGIC
    assert inp.mem.read(0x200000, len(image)) == image  # load_end_addr 0: the whole file
    bss_end = 0x200000 + 0x4000
    assert inp.mem.read(0x203000, 0x1000) == bytes(0x1000)
    mods_inp, mods_entry = load(image, [("m", b"x")])
    mbi = info(mods_inp, mods_entry)
    start = struct.unpack_from("<I", mods_inp.mem.read(mbi["mods_addr"], 4))[0]
    assert start == bss_end


def test_aout_kludge_load_end_addr() -> None:
    image = aout_kernel(load_end=0x201000)
    inp, _ = load(image)
    assert inp.mem.read(0x200000, 0x1000) == image[:0x1000]
    assert inp.mem.read(0x201000, 0x1000) == bytes(0x1000)  # not loaded: bss


def test_aout_kludge_header_after_load_start_in_file() -> None:
    # The file offset of load_addr is the header's offset minus (header_addr - load_addr).
    image = bytes(0x100) + aout_kernel()
    inp, _ = load(image)
    assert inp.mem.read(0x200000, 0x3000) == image[0x100 : 0x100 + 0x3000]


def test_aout_kludge_inconsistent_addresses() -> None:
    bad = mb_header(AOUT_KLUDGE, 0x100000, 0x200000, 0, 0, 0x200000) + bytes(64)
    with pytest.raises(BootError, match="multiboot header addresses are inconsistent"):
        load(bad)


def test_aout_kludge_load_end_beyond_the_file() -> None:
    bad = mb_header(AOUT_KLUDGE, 0x200000, 0x200000, 0x300000, 0, 0x200000) + bytes(64)
    with pytest.raises(BootError, match="multiboot load range lies outside the file"):
        load(bad)


def test_plain_binary_without_load_addresses() -> None:
    with pytest.raises(BootError, match="neither ELF nor has load addresses"):
        load(mb_header() + bytes(64))


# --- modules from -initrd ----------------------------------------------------------------------


def test_split_modules() -> None:
    assert multiboot.split_modules("mod1.bin arg1 arg2,mod2.bin, ,mod3 x") == [
        ("mod1.bin", "mod1.bin arg1 arg2"),
        ("mod2.bin", "mod2.bin"),
        ("mod3", "mod3 x"),
    ]


def test_read_modules(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"AAA")
    (tmp_path / "b").write_bytes(b"")
    spec = f"{tmp_path}/a one two,{tmp_path}/b"
    assert multiboot.read_modules(spec) == [(f"{tmp_path}/a one two", b"AAA"),
                                            (f"{tmp_path}/b", b"")]  # fmt: skip


def test_read_missing_module(tmp_path: Path) -> None:
    with pytest.raises(BootError, match=r"could not load multiboot module '.*/nope': No such file"):
        multiboot.read_modules(f"{tmp_path}/nope arg")
