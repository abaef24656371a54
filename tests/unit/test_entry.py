"""The boot CPU's entry state: the GDT decodes (Intel SDM vol. 3, 3.4.5) to exactly the
segment registers we give KVM, 4-level page tables identity-map 4 GiB, and registers
are set up for real, 32-bit protected and 64-bit long mode entries."""

from __future__ import annotations

import pytest

from pyvirt.kvm.structs import Segment, Sregs
from pyvirt.machine.x86 import layout as L
from pyvirt.machine.x86.entry import CpuMode, EntryState, apply, gdt_entry
from pyvirt.memory import GuestMemory

MiB, GiB = 1 << 20, 1 << 30
PRESENT, RW, PS = 1, 2, 0x80
ADDR_MASK = 0x000FFFFFFFFFF000


def decode(descriptor: int) -> dict[str, int]:
    """A GDT descriptor's fields, straight from the SDM's bit layout."""
    bits = lambda lo, n: (descriptor >> lo) & ((1 << n) - 1)  # noqa: E731
    limit = bits(0, 16) | bits(48, 4) << 16
    g = bits(55, 1)
    return {
        "base": bits(16, 24) | bits(56, 8) << 24,
        "limit": (limit << 12) | 0xFFF if g else limit,
        "type": bits(40, 4),
        "s": bits(44, 1),
        "dpl": bits(45, 2),
        "present": bits(47, 1),
        "avl": bits(52, 1),
        "l": bits(53, 1),
        "db": bits(54, 1),
        "g": g,
    }


def seg_fields(seg: Segment) -> dict[str, int]:
    return {name: getattr(seg, name) for name in decode(0)}


@pytest.fixture
def mem() -> GuestMemory:
    m = GuestMemory()
    m.add_ram(0, 2 * MiB)
    yield m
    m.close()


def enter(mem: GuestMemory, mode: CpuMode, **regs: int) -> tuple[Sregs, object]:
    sregs = Sregs()
    out = apply(EntryState(mode, 0x100000, dict(regs)), mem, sregs)
    return sregs, out


def gdt_descriptor(mem: GuestMemory, sregs: Sregs, selector: int) -> int:
    assert selector & 7 == 0 and selector + 7 <= sregs.gdt.limit
    return mem.read_u64(sregs.gdt.base + selector)


@pytest.mark.parametrize("mode", [CpuMode.PROTECTED32, CpuMode.LONG64])
def test_segment_registers_match_their_gdt_descriptors(mem: GuestMemory, mode: CpuMode) -> None:
    # After a far jump or a segment load the CPU would cache exactly these descriptors:
    # what we hand KVM must agree with what is in the guest's GDT.
    sregs, _ = enter(mem, mode)
    for name in ("cs", "ds", "es", "fs", "gs", "ss", "tr"):
        seg = getattr(sregs, name)
        assert seg_fields(seg) == decode(gdt_descriptor(mem, sregs, seg.selector)), name
    assert mem.read_u64(sregs.gdt.base) == 0  # the null descriptor
    assert sregs.gdt.base == L.GDT_ADDR


def test_linux_boot_selectors(mem: GuestMemory) -> None:
    sregs, _ = enter(mem, CpuMode.PROTECTED32)
    assert sregs.cs.selector == 0x10  # __BOOT_CS
    assert {getattr(sregs, s).selector for s in ("ds", "es", "fs", "gs", "ss")} == {0x18}


def test_flat_32_bit_segments(mem: GuestMemory) -> None:
    sregs, _ = enter(mem, CpuMode.PROTECTED32)
    cs, ds = seg_fields(sregs.cs), seg_fields(sregs.ds)
    assert cs == {"base": 0, "limit": 0xFFFFFFFF, "type": 0xB, "s": 1, "dpl": 0, "present": 1,
                  "avl": 0, "l": 0, "db": 1, "g": 1}  # fmt: skip
    assert ds == {**cs, "type": 0x3}
    tr = seg_fields(sregs.tr)
    assert (tr["type"], tr["s"], tr["present"]) == (0xB, 0, 1)  # busy 32-bit TSS


def test_64_bit_code_segment(mem: GuestMemory) -> None:
    sregs, _ = enter(mem, CpuMode.LONG64)
    assert (sregs.cs.l, sregs.cs.db) == (1, 0)
    assert (sregs.ds.l, sregs.ds.db) == (0, 1)


def test_protected_mode_control_registers(mem: GuestMemory) -> None:
    sregs, regs = enter(mem, CpuMode.PROTECTED32, rbx=0x6000)
    assert sregs.cr0 & 1  # PE
    assert not sregs.cr0 & (1 << 31)  # paging off
    assert (sregs.cr4, sregs.efer) == (0, 0)
    assert sregs.idt.limit == 0
    assert (regs.rip, regs.rbx, regs.rflags) == (0x100000, 0x6000, 0x2)  # IF clear


def test_long_mode_control_registers(mem: GuestMemory) -> None:
    sregs, regs = enter(mem, CpuMode.LONG64, rsi=0x7000)
    assert sregs.cr0 & 0x80000001 == 0x80000001  # PE and PG
    assert sregs.cr4 & (1 << 5)  # PAE
    assert sregs.efer & 0x500 == 0x500  # LME and LMA
    assert sregs.cr3 == L.PML4_ADDR
    assert (regs.rip, regs.rsi) == (0x100000, 0x7000)


def translate(mem: GuestMemory, cr3: int, va: int) -> int | None:
    """A 4-level page walk (SDM vol. 3, 4.5); None if not mapped. Checks writability."""
    table = cr3 & ADDR_MASK
    for level, shift in enumerate((39, 30, 21, 12)):
        entry = mem.read_u64(table + ((va >> shift) & 511) * 8)
        if not entry & PRESENT:
            return None
        assert entry & RW
        if entry & PS and level in (1, 2):
            page = 1 << shift
            return (entry & ADDR_MASK & ~(page - 1)) + (va & (page - 1))
        table = entry & ADDR_MASK
    return table + (va & 0xFFF)


@pytest.mark.parametrize(
    "va", [0, 0x1234, 0x100000, 0x1FFFFF, 0x200000, 0x3FFFF123, 1 * GiB, 3 * GiB + 5,
           0xFEC00000, 0xFEE00300, 4 * GiB - 1],
)  # fmt: skip
def test_page_tables_identity_map_4gib(mem: GuestMemory, va: int) -> None:
    sregs, _ = enter(mem, CpuMode.LONG64)
    assert translate(mem, sregs.cr3, va) == va


@pytest.mark.parametrize("va", [4 * GiB, 512 * GiB, 0xFFFFFFFF80000000])
def test_nothing_above_4gib_is_mapped(mem: GuestMemory, va: int) -> None:
    sregs, _ = enter(mem, CpuMode.LONG64)
    assert translate(mem, sregs.cr3, va) is None


def test_page_tables_fit_below_the_command_line(mem: GuestMemory) -> None:
    enter(mem, CpuMode.LONG64)
    pd_end = L.PD_ADDR + 4 * 0x1000
    assert L.PML4_ADDR < L.PDPT_ADDR < L.PD_ADDR and pd_end <= L.CMDLINE_ADDR
    assert L.BOOT_PARAMS_ADDR + 0x1000 <= L.PML4_ADDR  # the zero page is left alone


def test_real_mode_leaves_segments_alone(mem: GuestMemory) -> None:
    sregs = Sregs()
    sregs.cs.selector, sregs.cs.base = 0xF000, 0xFFFF0000
    before = bytes(sregs)
    regs = apply(EntryState(CpuMode.REAL, 0xFFF0, {"rdx": 0x600}), mem, sregs)
    assert bytes(sregs) == before
    assert (regs.rip, regs.rdx, regs.rflags) == (0xFFF0, 0x600, 0x2)
    assert mem.read(L.GDT_ADDR, 16) == bytes(16)  # no GDT written


def test_gdt_entry_layout() -> None:
    # The classic flat 4 GiB code descriptor.
    assert gdt_entry(0, 0xFFFFF, 0xC09A) == 0x00CF9A000000FFFF
    assert gdt_entry(0x12345678, 0xABCDE, 0x4092) == 0x124A92345678BCDE
