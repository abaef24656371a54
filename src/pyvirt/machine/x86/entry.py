"""The boot CPU's state at a kernel's entry point: real, 32-bit protected or 64-bit long mode.

Loaders describe the entry (mode, instruction pointer, registers); this module
writes the GDT and page tables it needs into guest memory and turns it into
the register state KVM sets on the vCPU.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum

from pyvirt.kvm.structs import DTable, Regs, Segment, Sregs
from pyvirt.memory import GuestMemory

from . import layout as L

CR0_PE = 1 << 0
CR0_ET = 1 << 4
CR0_PG = 1 << 31
CR4_PAE = 1 << 5
EFER_LME = 1 << 8
EFER_LMA = 1 << 10

PTE_PRESENT, PTE_RW, PTE_PS = 0x1, 0x2, 0x80

# GDT selectors, as the Linux boot protocol wants them (__BOOT_CS, __BOOT_DS).
CODE_SELECTOR = 0x10
DATA_SELECTOR = 0x18
TSS_SELECTOR = 0x20

BOOT_STACK = 0x8FF0


class CpuMode(Enum):
    REAL = "real"
    PROTECTED32 = "protected32"
    LONG64 = "long64"


@dataclass
class EntryState:
    mode: CpuMode
    rip: int
    regs: dict[str, int] = field(default_factory=dict)
    description: str = ""


def gdt_entry(base: int, limit: int, flags: int) -> int:
    """A segment descriptor; `flags` holds the access byte (bits 0-7) and G/DB/L (bits 12-15)."""
    return (
        ((base & 0xFF000000) << 32)
        | ((flags & 0xF0FF) << 40)
        | ((limit & 0x000F0000) << 32)
        | ((base & 0x00FFFFFF) << 16)
        | (limit & 0x0000FFFF)
    )


def _segment(selector: int, descriptor: int) -> Segment:
    """The hidden-cache form of a descriptor, as KVM_SET_SREGS wants it."""
    base = ((descriptor >> 16) & 0xFFFFFF) | ((descriptor >> 32) & 0xFF000000)
    limit = (descriptor & 0xFFFF) | ((descriptor >> 32) & 0xF0000)
    access = (descriptor >> 40) & 0xFF
    flags = (descriptor >> 52) & 0xF
    granular = bool(flags & 0x8)
    return Segment(
        base=base,
        limit=(limit << 12) | 0xFFF if granular else limit,
        selector=selector,
        type=access & 0xF,
        present=(access >> 7) & 1,
        dpl=(access >> 5) & 3,
        db=(flags >> 2) & 1,
        s=(access >> 4) & 1,
        l=(flags >> 1) & 1,
        g=int(granular),
        avl=flags & 1,
    )


def _gdt(mode: CpuMode) -> list[int]:
    code_flags = 0xA09B if mode is CpuMode.LONG64 else 0xC09B
    return [
        0,
        0,
        gdt_entry(0, 0xFFFFF, code_flags),  # 0x10: flat code
        gdt_entry(0, 0xFFFFF, 0xC093),  # 0x18: flat data
        gdt_entry(0, 0x67, 0x008B),  # 0x20: 32-bit TSS, busy
    ]


def _identity_page_tables(mem: GuestMemory) -> int:
    """Identity-map the first 4 GiB with 2 MiB pages; returns CR3."""
    mem.write_u64(L.PML4_ADDR, L.PDPT_ADDR | PTE_PRESENT | PTE_RW)
    for gib in range(4):
        pd = L.PD_ADDR + gib * 0x1000
        mem.write_u64(L.PDPT_ADDR + gib * 8, pd | PTE_PRESENT | PTE_RW)
        entries = b"".join(
            struct.pack("<Q", ((gib << 30) + (i << 21)) | PTE_PRESENT | PTE_RW | PTE_PS)
            for i in range(512)
        )
        mem.write(pd, entries)
    return L.PML4_ADDR


def apply(entry: EntryState, mem: GuestMemory, sregs: Sregs) -> Regs:
    """Set up memory and `sregs` for the entry; returns the general registers to load."""
    regs = Regs(rflags=0x2, rip=entry.rip, rsp=BOOT_STACK)
    for name, value in entry.regs.items():
        setattr(regs, name, value)
    if entry.mode is CpuMode.REAL:
        return regs
    gdt = _gdt(entry.mode)
    mem.write(L.GDT_ADDR, b"".join(struct.pack("<Q", d) for d in gdt))
    sregs.gdt = DTable(base=L.GDT_ADDR, limit=len(gdt) * 8 - 1)
    sregs.idt = DTable(base=0, limit=0)
    code = _segment(CODE_SELECTOR, gdt[CODE_SELECTOR >> 3])
    data = _segment(DATA_SELECTOR, gdt[DATA_SELECTOR >> 3])
    sregs.cs = code
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data
    sregs.tr = _segment(TSS_SELECTOR, gdt[TSS_SELECTOR >> 3])
    sregs.cr0 = CR0_PE | CR0_ET
    sregs.cr4 = 0
    sregs.efer = 0
    if entry.mode is CpuMode.LONG64:
        sregs.cr3 = _identity_page_tables(mem)
        sregs.cr4 = CR4_PAE
        sregs.cr0 |= CR0_PG
        sregs.efer = EFER_LME | EFER_LMA
    return regs
