"""Control and status registers: access rules, WARL legalisation, the S-mode views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.tcg.riscv.trap import ILLEGAL_INSTRUCTION, Trap

if TYPE_CHECKING:
    from pyvirt.tcg.riscv.hart import Hart

MSTATUS, SSTATUS, MISA, MIE, SIE, MIP, SIP, SATP = (
    0x300,
    0x100,
    0x301,
    0x304,
    0x104,
    0x344,
    0x144,
    0x180,
)
MEDELEG, MIDELEG, MHARTID = 0x302, 0x303, 0xF14
CYCLE, TIME, INSTRET, MCYCLE, MINSTRET = 0xC00, 0xC01, 0xC02, 0xB00, 0xB02
MCOUNTEREN, SCOUNTEREN = 0x306, 0x106

MSTATUS_WRITABLE = 0x7E19AA  # SIE MIE SPIE MPIE SPP MPP MPRV SUM MXR TVM TW TSR
SSTATUS_VIEW = 0x000C0122  # SIE SPIE SPP SUM MXR
XLEN_FIELDS = (2 << 32) | (2 << 34)  # UXL = SXL = 64 bits
MSTATUS_TVM = 1 << 20
S_INTERRUPTS = 0x222  # SSIP STIP SEIP
ALL_INTERRUPTS = 0xAAA
MISA_VALUE = (2 << 62) | sum(1 << (ord(ext) - ord("A")) for ext in "ACIMSU")
TRANSLATION_BITS = 0xE1800  # MPP MPRV SUM MXR: a change flushes the TLBs

# CSRs that are plain storage: number -> writable bits.
PLAIN = {
    0x105: ~2 & (2**64 - 1), 0x305: ~2 & (2**64 - 1),  # stvec, mtvec (mode 0 or 1)
    0x140: 2**64 - 1, 0x340: 2**64 - 1,  # sscratch, mscratch
    0x141: ~1 & (2**64 - 1), 0x341: ~1 & (2**64 - 1),  # sepc, mepc
    0x142: 2**64 - 1, 0x342: 2**64 - 1, 0x143: 2**64 - 1, 0x343: 2**64 - 1,  # cause, tval
    MEDELEG: 0xB3FF, MIDELEG: S_INTERRUPTS,
    MCOUNTEREN: 0xFFFFFFFF, SCOUNTEREN: 0xFFFFFFFF, 0x320: 0,  # mcountinhibit
    0x10A: 0, 0x30A: 0,  # senvcfg, menvcfg: no optional features
    0xF11: 0, 0xF12: 0, 0xF13: 0, 0xF15: 0,  # mvendorid marchid mimpid mconfigptr
    **{0x3A0 + i: 0xFFFFFFFFFFFFFFFF for i in range(0, 16, 2)},  # pmpcfg (even on RV64)
    **{0x3B0 + i: (1 << 54) - 1 for i in range(64)},  # pmpaddr: accepted, not enforced
    **{0x323 + i: 0 for i in range(29)},  # mhpmevent3..31
    **{0xB03 + i: 0 for i in range(29)},  # mhpmcounter3..31
    **{0xC03 + i: 0 for i in range(29)},  # hpmcounter3..31
}  # fmt: skip


class CsrFile:
    """The CSRs of one hart; `access` implements the six csrr* instructions."""

    def __init__(self, hart: Hart) -> None:
        self.hart = hart
        self.plain = dict.fromkeys(PLAIN, 0)
        self.counter_offset = 0  # mcycle/minstret writes: value - instret

    def __getitem__(self, number: int) -> int:
        return self.plain[number]

    def __setitem__(self, number: int, value: int) -> None:
        self.plain[number] = value & PLAIN[number]

    def access(self, number: int, kind: int, value: int, writes: bool, raw: int) -> int:
        """csrrw (kind 0), csrrs (1), csrrc (2): returns the old value; Trap if not allowed."""
        hart = self.hart
        if (
            hart.priv < (number >> 8) & 3
            or (writes and number >> 10 == 3)
            or (number == SATP and hart.priv == 1 and hart.mstatus & MSTATUS_TVM)
            or not self._counter_enabled(number)
        ):
            raise Trap(ILLEGAL_INSTRUCTION, raw)
        old = self.read(number, raw)
        if writes:
            # Only mip's software-written bits take part in csrrs/csrrc: an interrupt line
            # that is high (SEIP from the PLIC) must not be latched into them.
            base = hart.mip if number in (MIP, SIP) else old
            new = (value, base | value, base & ~value)[kind]
            self.write(number, new & (2**64 - 1))
        return old

    def _counter_enabled(self, number: int) -> bool:
        if not 0xC00 <= number < 0xC20 or self.hart.priv == 3:
            return True
        bit = 1 << (number & 31)
        if not self.plain[MCOUNTEREN] & bit:
            return False
        return self.hart.priv == 1 or bool(self.plain[SCOUNTEREN] & bit)

    def read(self, number: int, raw: int) -> int:
        hart = self.hart
        if number in self.plain:
            return self.plain[number]
        if number == MSTATUS:
            return hart.mstatus | XLEN_FIELDS
        if number == SSTATUS:
            return hart.mstatus & SSTATUS_VIEW | (2 << 32)
        if number in (MIE, SIE):
            return hart.mie if number == MIE else hart.mie & self.plain[MIDELEG]
        if number in (MIP, SIP):
            pending = hart.pending()
            return pending if number == MIP else pending & self.plain[MIDELEG]
        if number == SATP:
            return hart.satp
        if number == MISA:
            return MISA_VALUE
        if number == MHARTID:
            return hart.hart_id
        if number in (CYCLE, INSTRET, MCYCLE, MINSTRET):
            return (hart.instret + self.counter_offset) & (2**64 - 1)
        if number == TIME:
            return hart.mtime()
        raise Trap(ILLEGAL_INSTRUCTION, raw)

    def write(self, number: int, value: int) -> None:
        hart = self.hart
        if number in self.plain:
            self[number] = value
        elif number in (MSTATUS, SSTATUS):
            mask = MSTATUS_WRITABLE if number == MSTATUS else SSTATUS_VIEW
            new = (hart.mstatus & ~mask) | (value & mask)
            if (new >> 11) & 3 == 2:  # MPP: H-mode does not exist
                new &= ~(3 << 11)
            changed = hart.mstatus ^ new
            hart.mstatus = new
            if changed & TRANSLATION_BITS:
                hart.mmu.flush()
            hart.mode_changed()
        elif number in (MIE, SIE):
            mask = ALL_INTERRUPTS if number == MIE else self.plain[MIDELEG]
            hart.mie = (hart.mie & ~mask) | (value & mask)
        elif number in (MIP, SIP):
            mask = S_INTERRUPTS if number == MIP else self.plain[MIDELEG] & (1 << 1)
            hart.mip = (hart.mip & ~mask) | (value & mask)
        elif number == SATP:
            if value >> 60 in (0, 8):
                hart.satp = value & ((0xF << 60) | (0xFFFF << 44) | ((1 << 44) - 1))
                hart.mmu.flush()
                hart.translator.unmap()
        elif number in (MCYCLE, MINSTRET):
            self.counter_offset = value - hart.instret
        # misa and the rest of the known read-only or hardwired CSRs ignore writes
