"""Uncompressed ELF kernels (vmlinux) through the PVH boot ABI.

The kernel's "Xen" ELF note XEN_ELFNOTE_PHYS32_ENTRY gives a 32-bit entry
point; it is entered in flat protected mode with paging off and EBX pointing
at an hvm_start_info (version 1, with the e820-style memory map).
"""

from __future__ import annotations

import struct

from . import layout as L
from .elf import ElfImage
from .entry import CpuMode, EntryState
from .loader import BootError, BootInput, load_elf_segments, place_high, write_cmdline

XEN_ELFNOTE_PHYS32_ENTRY = 18
START_INFO_MAGIC = 0x336EC578
START_INFO_SIZE = 56
MODLIST_ENTRY_SIZE = 32
MEMMAP_ENTRY_SIZE = 24
START_INFO_FMT = "<IIIIQQQQII"


def pvh_entry(elf: ElfImage) -> int | None:
    for note in elf.notes():
        if note.name == b"Xen" and note.type == XEN_ELFNOTE_PHYS32_ENTRY:
            if len(note.desc) >= 8:
                return struct.unpack_from("<Q", note.desc)[0]
            if len(note.desc) >= 4:
                return struct.unpack_from("<I", note.desc)[0]
    return None


def load(inp: BootInput, elf: ElfImage) -> EntryState:
    entry = pvh_entry(elf)
    if entry is None:
        raise BootError(f"{inp.kernel_path}: ELF kernel has no PVH entry note")
    if not any(s.paddr <= entry < s.paddr + s.memsz for s in elf.loads()):
        raise BootError(f"{inp.kernel_path}: PVH entry {entry:#x} is outside the loaded image")
    _, kernel_end = load_elf_segments(inp, elf)
    cmdline_addr = write_cmdline(inp, inp.cmdline)

    modlist_addr = L.BOOT_INFO_ADDR + START_INFO_SIZE
    memmap_addr = modlist_addr + MODLIST_ENTRY_SIZE
    if memmap_addr + MEMMAP_ENTRY_SIZE * len(inp.e820) > L.BOOT_PARAMS_ADDR:
        raise BootError(f"too many memory map entries ({len(inp.e820)})")
    nr_modules = 0
    if inp.initrd is not None:
        addr = place_high(
            inp, len(inp.initrd), L.FOUR_GIB - 1, f"initrd {inp.initrd_path}", kernel_end
        )
        inp.mem.write(addr, inp.initrd)
        inp.mem.write(modlist_addr, struct.pack("<QQQQ", addr, len(inp.initrd), 0, 0))
        nr_modules = 1
    memmap = b"".join(struct.pack("<QQII", e.addr, e.size, e.type, 0) for e in inp.e820)
    inp.mem.write(memmap_addr, memmap)
    start_info = struct.pack(
        START_INFO_FMT, START_INFO_MAGIC, 1, 0, nr_modules,
        modlist_addr if nr_modules else 0, cmdline_addr, inp.rsdp_addr or 0,
        memmap_addr, len(inp.e820), 0,
    )  # fmt: skip
    inp.mem.write(L.BOOT_INFO_ADDR, start_info)
    return EntryState(
        CpuMode.PROTECTED32, entry, {"rbx": L.BOOT_INFO_ADDR}, "ELF kernel, PVH entry"
    )
