"""x86 register dumps in the layout of QEMU's `info registers`, for error reports."""

from __future__ import annotations

from pyvirt.kvm.structs import DTable, Regs, Segment, Sregs

_FLAG_NAMES = ((10, "D"), (11, "O"), (7, "S"), (6, "Z"), (4, "A"), (2, "P"), (0, "C"))


def _flags(rflags: int) -> str:
    return "".join(name if rflags & (1 << bit) else "-" for bit, name in _FLAG_NAMES)


def _descriptor_flags(seg: Segment) -> int:
    """The flags word QEMU prints: the descriptor's high dword without base/limit bits."""
    return (
        (seg.type << 8)
        | (seg.s << 12)
        | (seg.dpl << 13)
        | (seg.present << 15)
        | (seg.avl << 20)
        | (seg.l << 21)
        | (seg.db << 22)
        | (seg.g << 23)
    )


def _seg(name: str, seg: Segment) -> str:
    return (
        f"{name:<3}={seg.selector:04x} {seg.base:016x} {seg.limit:08x} {_descriptor_flags(seg):08x}"
    )


def _table(name: str, t: DTable) -> str:
    return f"{name:<3}=     {t.base:016x} {t.limit:08x}"


def format_registers(regs: Regs, sregs: Sregs) -> str:
    cpl = sregs.cs.dpl if sregs.cr0 & 1 else 0
    lines = [
        f"RAX={regs.rax:016x} RBX={regs.rbx:016x} RCX={regs.rcx:016x} RDX={regs.rdx:016x}",
        f"RSI={regs.rsi:016x} RDI={regs.rdi:016x} RBP={regs.rbp:016x} RSP={regs.rsp:016x}",
        f"R8 ={regs.r8:016x} R9 ={regs.r9:016x} R10={regs.r10:016x} R11={regs.r11:016x}",
        f"R12={regs.r12:016x} R13={regs.r13:016x} R14={regs.r14:016x} R15={regs.r15:016x}",
        f"RIP={regs.rip:016x} RFL={regs.rflags:08x} [{_flags(regs.rflags)}] CPL={cpl}",
    ]
    for name in ("es", "cs", "ss", "ds", "fs", "gs"):
        lines.append(_seg(name.upper(), getattr(sregs, name)))
    lines.append(_seg("LDT", sregs.ldt))
    lines.append(_seg("TR", sregs.tr))
    lines.append(_table("GDT", sregs.gdt))
    lines.append(_table("IDT", sregs.idt))
    lines.append(
        f"CR0={sregs.cr0:08x} CR2={sregs.cr2:016x} CR3={sregs.cr3:016x} CR4={sregs.cr4:08x}"
    )
    lines.append(f"EFER={sregs.efer:016x} APIC_BASE={sregs.apic_base:016x}")
    return "\n".join(lines)
