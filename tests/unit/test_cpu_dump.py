"""Register dumps laid out like QEMU's `info registers` (target/i386/cpu-dump.c)."""

from __future__ import annotations

from pyvirt.kvm.structs import DTable, Regs, Segment, Sregs
from pyvirt.machine.x86.cpu_dump import format_registers


def flat(selector: int, type_: int, *, long: bool = False) -> Segment:
    return Segment(base=0, limit=0xFFFFFFFF, selector=selector, type=type_, present=1, dpl=0,
                   db=0 if long else 1, s=1, l=int(long), g=1)  # fmt: skip


def long_mode_state() -> tuple[Regs, Sregs]:
    regs = Regs(rax=0x2BADB002, rbx=0x6000, rsp=0x8FF0, r8=0xFFFFFFFFFFFFFFFF, r15=0x15,
                rip=0xFFFFFFFF81000123, rflags=0x246)  # fmt: skip
    sregs = Sregs()
    sregs.cs = flat(0x10, 0xB, long=True)
    for name in ("ds", "es", "fs", "gs", "ss"):
        setattr(sregs, name, flat(0x18, 0x3))
    sregs.tr = Segment(base=0, limit=0x67, selector=0x20, type=0xB, present=1)
    sregs.ldt = Segment(limit=0xFFFF, type=0x2, present=1)
    sregs.gdt = DTable(base=0x500, limit=0x27)
    sregs.idt = DTable(base=0, limit=0)
    sregs.cr0, sregs.cr3, sregs.cr4 = 0x80000011, 0x9000, 0x20
    sregs.efer, sregs.apic_base = 0x500, 0xFEE00900
    return regs, sregs


def test_layout() -> None:
    # Segment flags as QEMU shows them under KVM (target/i386/kvm.c get_seg): the
    # descriptor's attribute bits in place, without base and limit bits.
    lines = format_registers(*long_mode_state()).splitlines()
    assert lines == [
        "RAX=000000002badb002 RBX=0000000000006000 RCX=0000000000000000 RDX=0000000000000000",
        "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=0000000000008ff0",
        "R8 =ffffffffffffffff R9 =0000000000000000 R10=0000000000000000 R11=0000000000000000",
        "R12=0000000000000000 R13=0000000000000000 R14=0000000000000000 R15=0000000000000015",
        "RIP=ffffffff81000123 RFL=00000246 [---Z-P-] CPL=0",
        "ES =0018 0000000000000000 ffffffff 00c09300",
        "CS =0010 0000000000000000 ffffffff 00a09b00",
        "SS =0018 0000000000000000 ffffffff 00c09300",
        "DS =0018 0000000000000000 ffffffff 00c09300",
        "FS =0018 0000000000000000 ffffffff 00c09300",
        "GS =0018 0000000000000000 ffffffff 00c09300",
        "LDT=0000 0000000000000000 0000ffff 00008200",
        "TR =0020 0000000000000000 00000067 00008b00",
        "GDT=     0000000000000500 00000027",
        "IDT=     0000000000000000 00000000",
        "CR0=80000011 CR2=0000000000000000 CR3=0000000000009000 CR4=00000020",
        "EFER=0000000000000500 APIC_BASE=00000000fee00900",
    ]


def test_flags_in_qemus_order() -> None:
    # QEMU prints D O S Z A P C.
    regs, sregs = long_mode_state()
    for rflags, shown in [(0x2, "-------"), (0x402, "D------"), (0x802, "-O-----"),
                          (0xED7, "DOSZAPC"), (0x83, "--S---C")]:  # fmt: skip
        regs.rflags = rflags
        assert f"[{shown}]" in format_registers(regs, sregs)


def test_cpl() -> None:
    regs, sregs = long_mode_state()
    sregs.cs.dpl = 3
    assert "CPL=3" in format_registers(regs, sregs)
    sregs.cr0 = 0  # real mode: CPL 0 whatever the descriptor cache holds
    assert "CPL=0" in format_registers(regs, sregs)
