"""Multiboot v1 kernels (the Multiboot Specification 0.6.96), as QEMU loads them.

The header sits 4-byte aligned in the first 8 KiB. ELF images are loaded by
their program headers unless the header asks for its own addresses
(MULTIBOOT_AOUT_KLUDGE). The command line is "<kernel path> <args>"; each
comma-separated -initrd item ("file [args]") becomes a module, page aligned
after the kernel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from . import layout as L
from .e820 import E820Type
from .elf import ElfError, ElfImage, is_elf, parse
from .entry import CpuMode, EntryState
from .loader import (
    BootError,
    BootInput,
    align_up,
    check_fits,
    elf_entry_physical,
    load_elf_segments,
)

HEADER_MAGIC = 0x1BADB002
BOOTLOADER_MAGIC = 0x2BADB002
SEARCH_LIMIT = 8192

FLAG_PAGE_ALIGN = 1 << 0
FLAG_MEMORY_INFO = 1 << 1
FLAG_VIDEO_MODE = 1 << 2
FLAG_AOUT_KLUDGE = 1 << 16

INFO_MEMORY = 1 << 0
INFO_CMDLINE = 1 << 2
INFO_MODS = 1 << 3
INFO_MEM_MAP = 1 << 6
INFO_BOOT_LOADER_NAME = 1 << 9

INFO_SIZE = 0x58  # up to and including the VBE fields
MODULE_SIZE = 16
MMAP_ENTRY_SIZE = 24  # u32 size (=20, not counting itself), u64 addr, u64 len, u32 type
LOADER_NAME = b"pyvirt\0"


@dataclass(frozen=True)
class Header:
    offset: int
    flags: int
    header_addr: int = 0
    load_addr: int = 0
    load_end_addr: int = 0
    bss_end_addr: int = 0
    entry_addr: int = 0


def find_header(data: bytes) -> Header | None:
    for off in range(0, min(len(data), SEARCH_LIMIT) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", data, off)
        if magic == HEADER_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            if flags & FLAG_AOUT_KLUDGE:
                if off + 32 > len(data):
                    return None
                return Header(off, flags, *struct.unpack_from("<IIIII", data, off + 12))
            return Header(off, flags)
    return None


def load(inp: BootInput, header: Header, modules: list[tuple[str, bytes]]) -> EntryState:
    """`modules` are (command line, contents) pairs, in order."""
    if header.flags & FLAG_AOUT_KLUDGE:
        entry, kernel_end = _load_aout_kludge(inp, header)
    elif is_elf(inp.kernel):
        try:
            elf: ElfImage = parse(inp.kernel, inp.kernel_path)
        except ElfError as e:
            raise BootError(str(e)) from None
        _, kernel_end = load_elf_segments(inp, elf)
        entry = elf_entry_physical(elf)
    else:
        raise BootError(f"{inp.kernel_path}: multiboot image is neither ELF nor has load addresses")

    strings = _StringArea(inp)
    cmdline = strings.add(f"{inp.kernel_path} {inp.cmdline}".rstrip())
    loader_name = strings.add_bytes(LOADER_NAME)

    next_free = align_up(kernel_end)
    mods = bytearray()
    for mod_cmdline, data in modules:
        check_fits(inp, f"multiboot module {mod_cmdline!r}", next_free, len(data))
        inp.mem.write(next_free, data)
        mods += struct.pack("<IIII", next_free, next_free + len(data), strings.add(mod_cmdline), 0)
        next_free = align_up(next_free + len(data))

    info_addr = L.BOOT_INFO_ADDR
    mods_addr = info_addr + INFO_SIZE
    mmap_addr = mods_addr + len(mods)
    mmap = b"".join(struct.pack("<IQQI", 20, e.addr, e.size, e.type) for e in inp.e820)
    if mmap_addr + len(mmap) > L.BOOT_PARAMS_ADDR:
        raise BootError(f"too many multiboot modules ({len(modules)})")
    inp.mem.write(mods_addr, bytes(mods))
    inp.mem.write(mmap_addr, mmap)

    low_kb, upper_kb = _memory_kb(inp)
    flags = INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_BOOT_LOADER_NAME
    info = bytearray(INFO_SIZE)
    struct.pack_into(
        "<IIIIIII", info, 0, flags, low_kb, upper_kb, 0xFFFFFFFF, cmdline, len(modules), mods_addr
    )
    struct.pack_into("<II", info, 44, len(mmap), mmap_addr)
    struct.pack_into("<I", info, 64, loader_name)
    inp.mem.write(info_addr, bytes(info))
    return EntryState(
        CpuMode.PROTECTED32, entry, {"rax": BOOTLOADER_MAGIC, "rbx": info_addr}, "multiboot kernel"
    )


def _load_aout_kludge(inp: BootInput, h: Header) -> tuple[int, int]:
    start = h.offset - (h.header_addr - h.load_addr)
    if h.header_addr < h.load_addr or start < 0:
        raise BootError(f"{inp.kernel_path}: multiboot header addresses are inconsistent")
    end = h.load_end_addr or h.load_addr + (len(inp.kernel) - start)
    size = end - h.load_addr
    if size <= 0 or start + size > len(inp.kernel):
        raise BootError(f"{inp.kernel_path}: multiboot load range lies outside the file")
    bss_end = max(h.bss_end_addr, end)
    check_fits(inp, f"{inp.kernel_path}: kernel", h.load_addr, bss_end - h.load_addr)
    inp.mem.write(h.load_addr, inp.kernel[start : start + size])
    if bss_end > end:
        inp.mem.fill(end, bss_end - end)
    return h.entry_addr, bss_end


def _memory_kb(inp: BootInput) -> tuple[int, int]:
    lower = upper = 0
    for e in inp.e820:
        if e.type == E820Type.RAM and e.addr == 0:
            lower = e.size // 1024
        if e.type == E820Type.RAM and e.addr == L.HIMEM_START:
            upper = e.size // 1024
    return min(lower, 640), upper


class _StringArea:
    """NUL-terminated strings packed after the command line area."""

    def __init__(self, inp: BootInput) -> None:
        self.inp = inp
        self.next = L.CMDLINE_ADDR

    def add(self, text: str) -> int:
        return self.add_bytes(text.encode() + b"\0")

    def add_bytes(self, data: bytes) -> int:
        if self.next + len(data) > L.CMDLINE_ADDR + L.CMDLINE_MAX:
            raise BootError("multiboot command lines are too long")
        addr = self.next
        self.inp.mem.write(addr, data)
        self.next += len(data)
        return addr


def split_modules(spec: str) -> list[tuple[str, str]]:
    """QEMU's -initrd for multiboot: "file1 arg arg,file2" -> [(path, cmdline), ...]."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            out.append((item.split(" ", 1)[0], item))
    return out


def read_modules(spec: str) -> list[tuple[str, bytes]]:
    modules = []
    for path, cmdline in split_modules(spec):
        try:
            modules.append((cmdline, Path(path).read_bytes()))
        except OSError as e:
            raise BootError(f"could not load multiboot module '{path}': {e.strerror}") from None
    return modules
