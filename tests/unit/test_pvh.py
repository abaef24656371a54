"""PVH boot of an ELF kernel: the Xen PHYS32_ENTRY note and the hvm_start_info we build
(xen/include/public/arch-x86/hvm/start_info.h, version 1)."""

from __future__ import annotations

import itertools
import struct

import pytest

from pyvirt.machine.x86 import pvh
from pyvirt.machine.x86.elf import parse
from pyvirt.machine.x86.entry import CpuMode
from pyvirt.machine.x86.layout import BOOT_INFO_ADDR
from pyvirt.machine.x86.loader import BootError
from tests.unit.x86_images import MiB, Note, Seg, boot_input, build_elf, c_string

XEN_ELFNOTE_PHYS32_ENTRY = 18
ENTRY = 0x1000040
TEXT = b"\x90" * 0x200
# struct hvm_start_info: magic, version, flags, nr_modules, modlist_paddr, cmdline_paddr,
# rsdp_paddr, memmap_paddr, memmap_entries, reserved
START_INFO = "<IIIIQQQQII"


def kernel(*, desc: bytes = struct.pack("<Q", ENTRY), is64: bool = True, notes=None) -> bytes:
    notes = notes if notes is not None else [Note(b"Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc)]
    vaddr = 0xFFFFFFFF81000000 if is64 else 0xC1000000  # e_entry is virtual
    return build_elf(
        [Seg(0x1000000, TEXT, vaddr=vaddr), Seg(0x1200000, b"data", memsz=0x2000)],
        entry=vaddr,
        is64=is64,
        notes=notes,
    )


def load(image: bytes, **kw):
    inp = boot_input(image, **kw)
    inp.mem.fill(0x1200000, 0x2000, 0xEE)  # garbage where the bss goes
    return inp, pvh.load(inp, parse(image))


def start_info(inp) -> tuple[int, ...]:
    return struct.unpack(START_INFO, inp.mem.read(BOOT_INFO_ADDR, struct.calcsize(START_INFO)))


def test_entry_state() -> None:
    _, entry = load(kernel())
    assert entry.mode is CpuMode.PROTECTED32
    assert entry.rip == ENTRY  # the note's physical entry, not e_entry
    assert entry.regs == {"rbx": BOOT_INFO_ADDR}


def test_segments_are_loaded_at_their_physical_addresses_with_bss_cleared() -> None:
    inp, _ = load(kernel())
    assert inp.mem.read(0x1000000, len(TEXT)) == TEXT
    assert inp.mem.read(0x1200000, 4) == b"data"
    assert inp.mem.read(0x1200004, 0x2000 - 4) == bytes(0x2000 - 4)


def test_start_info_header() -> None:
    inp, _ = load(kernel(), cmdline="console=hvc0 quiet", rsdp=0xE0000)
    magic, version, flags, nr_modules, modlist, cmdline, rsdp, memmap, entries, reserved = (
        start_info(inp)
    )
    assert (magic, version, flags, reserved) == (0x336EC578, 1, 0, 0)
    assert nr_modules == 0 and modlist == 0
    assert c_string(inp.mem, cmdline) == b"console=hvc0 quiet"
    assert rsdp == 0xE0000
    assert entries == len(inp.e820)
    assert memmap != 0


def test_memory_map() -> None:
    inp, _ = load(kernel(), ram=256 * MiB)
    *_, memmap, count, _ = start_info(inp)
    # struct hvm_memmap_table_entry: u64 addr, u64 size, u32 type, u32 reserved
    table = [struct.unpack_from("<QQII", inp.mem.read(memmap + 24 * i, 24)) for i in range(count)]
    assert table == [(e.addr, e.size, int(e.type), 0) for e in inp.e820]


def test_initrd_module() -> None:
    initrd = b"070701" + b"\x5a" * 10000
    inp, _ = load(kernel(), initrd=initrd, ram=128 * MiB)
    _, _, _, nr_modules, modlist, *_ = start_info(inp)
    assert nr_modules == 1
    # struct hvm_modlist_entry: u64 paddr, u64 size, u64 cmdline_paddr, u64 reserved
    paddr, size, cmdline, reserved = struct.unpack("<QQQQ", inp.mem.read(modlist, 32))
    assert (size, cmdline, reserved) == (len(initrd), 0, 0)
    assert paddr % 4096 == 0
    assert paddr >= 0x1202000  # above the kernel and its bss
    assert paddr + size <= 128 * MiB
    assert inp.mem.read(paddr, size) == initrd


def test_start_info_structures_do_not_overlap() -> None:
    inp, _ = load(kernel(), initrd=b"x", cmdline="a")
    _, _, _, _, modlist, cmdline, _, memmap, count, _ = start_info(inp)
    spans = sorted([(BOOT_INFO_ADDR, 56), (modlist, 32), (memmap, 24 * count), (cmdline, 2)])
    for (a, alen), (b, _) in itertools.pairwise(spans):
        assert a + alen <= b


@pytest.mark.parametrize("is64", [True, False])
def test_32_bit_note_descriptor(is64: bool) -> None:
    # A 32-bit vmlinux's note holds a .long entry point.
    _, entry = load(kernel(desc=struct.pack("<I", ENTRY), is64=is64))
    assert entry.rip == ENTRY


def test_other_notes_are_not_the_entry() -> None:
    notes = [Note(b"Xen", 1, struct.pack("<Q", 0x1000000)),
             Note(b"Linux", XEN_ELFNOTE_PHYS32_ENTRY, struct.pack("<Q", 0x1000000))]  # fmt: skip
    image = kernel(notes=notes)
    assert pvh.pvh_entry(parse(image)) is None
    with pytest.raises(BootError, match="ELF kernel has no PVH entry note"):
        load(image)


def test_entry_outside_the_image() -> None:
    with pytest.raises(BootError, match="PVH entry 0x5000000 is outside the loaded image"):
        load(kernel(desc=struct.pack("<Q", 0x5000000)))


def test_segment_beyond_ram() -> None:
    image = build_elf([Seg(60 * MiB, bytes(8 * MiB))], entry=60 * MiB,
                      notes=[Note(b"Xen", 18, struct.pack("<Q", 60 * MiB))])  # fmt: skip
    with pytest.raises(BootError, match="does not fit in guest RAM"):
        load(image, ram=64 * MiB)
