"""One RISC-V hart: architectural state, the dispatch loop, traps and interrupts."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pyvirt.tcg.riscv.bus import PhysBus
from pyvirt.tcg.riscv.csr import MEDELEG, MIDELEG, CsrFile
from pyvirt.tcg.riscv.mmu import Mmu
from pyvirt.tcg.riscv.translator import Translator
from pyvirt.tcg.riscv.trap import BREAKPOINT, ECALL_FROM_U, ILLEGAL_INSTRUCTION, INTERRUPT, Trap

# mip/mie bit numbers
MIP_SSIP, MIP_MSIP, MIP_STIP, MIP_MTIP, MIP_SEIP, MIP_MEIP = 1, 3, 5, 7, 9, 11
INTERRUPT_PRIORITY = (MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP)
HARDWARE_LINES = (1 << MIP_MSIP) | (1 << MIP_MTIP) | (1 << MIP_MEIP) | (1 << MIP_SEIP)
MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP = 2, 8, 32, 128, 256
MSTATUS_MPRV, MSTATUS_TVM, MSTATUS_TW, MSTATUS_TSR = 1 << 17, 1 << 20, 1 << 21, 1 << 22
BLOCKS_PER_SLICE = 64  # dispatches between looks at interrupts and the stop event
CHAIN_LIMIT = 15  # blocks a dispatch may chain into after the first (so pokes are seen)
M64 = (1 << 64) - 1


class Hart:
    """A hart on `bus`; `mtime()` is the CLINT's 10 MHz counter (the `time` CSR).

    `max_block=1` turns the translator into an instruction-at-a-time interpreter.
    """

    def __init__(
        self, hart_id: int, bus: PhysBus, *, mtime: Callable[[], int], max_block: int = 64
    ) -> None:
        self.hart_id = hart_id
        self.bus = bus
        self.mtime = mtime
        self.x = [0] * 32
        self.pc = 0
        self.instret = 0
        self.priv = 3
        self.mstatus = 0
        self.satp = 0
        self.mie = 0
        self.mip = 0  # software-written bits; hardware lines are in _lines
        self._lines = 0
        self._lines_lock = threading.Lock()
        self._wake = threading.Event()
        self._poked = False  # an interrupt line rose: leave the slice at the next lookup
        self.waiting = False
        self.csrs = CsrFile(self)
        self.mmu = Mmu(self, bus)
        self.translator = Translator(self, max_block)
        self.mode_changed()

    def reset(self, pc: int, *, a0: int = 0, a1: int = 0, a2: int = 0) -> None:
        """Start over in M-mode at `pc` with a0..a2 set (hart id, device tree, fw info)."""
        self.x = [0] * 32
        self.x[10], self.x[11], self.x[12] = a0, a1, a2
        self.pc = pc
        self.priv = 3
        self.mstatus = self.satp = self.mie = self.mip = 0
        self.csrs = CsrFile(self)
        self.waiting = False
        self.mmu.flush()
        self.mmu.reservation = None
        self.translator.invalidate_all()
        self.mode_changed()

    # -- interrupts

    def set_pending(self, bit: int, level: bool) -> None:
        """Raise or lower an interrupt line (an MIP_* bit number); safe from any thread."""
        with self._lines_lock:
            if level:
                self._lines |= 1 << bit
            else:
                self._lines &= ~(1 << bit)
        if level:
            self._poked = True
            self.translator.unmap()  # so the dispatch loop notices without polling
            self._wake.set()

    def pending(self) -> int:
        """mip as software reads it: the written bits and the interrupt lines."""
        return self.mip | self._lines

    def _interrupt_to_take(self) -> int | None:
        pending = (self.mip | self._lines) & self.mie
        if not pending:
            return None
        mideleg = self.csrs[MIDELEG]
        m_enabled = self.priv < 3 or self.mstatus & MSTATUS_MIE
        s_enabled = self.priv < 1 or (self.priv == 1 and self.mstatus & MSTATUS_SIE)
        for bit in INTERRUPT_PRIORITY:
            if pending >> bit & 1 and (s_enabled if mideleg >> bit & 1 else m_enabled):
                return bit
        return None

    # -- execution

    def run(self, stop: threading.Event) -> None:
        """Execute until `stop` is set; `wfi` sleeps until an interrupt is pending."""
        while not stop.is_set():
            bit = self._interrupt_to_take()
            if bit is not None:
                self.waiting = False
                self.take_trap(INTERRUPT | bit, 0, self.pc)
            elif self.waiting:
                self._wake.clear()
                if not (self.mip | self._lines) & self.mie:
                    self._wake.wait(0.05)
                    continue
                self.waiting = False
            self.run_slice()

    def step(self, blocks: int = 1) -> None:
        """Run `blocks` blocks (instructions, with max_block=1), taking pending interrupts first."""
        for _ in range(blocks):
            bit = self._interrupt_to_take()
            if bit is not None:
                self.take_trap(INTERRUPT | bit, 0, self.pc)
            self.run_slice(1)

    def run_slice(self, blocks: int = BLOCKS_PER_SLICE) -> None:
        """Dispatch up to `blocks` translated blocks; stops early after a system instruction.

        Each dispatched block may chain into up to CHAIN_LIMIT linked successors
        (none when `blocks` is 1, so `step` runs exactly one block).
        """
        x, pc = self.x, self.pc
        jump_map = self.translator.jump_maps[self.priv]
        rt, wt, lookup = self.read_tlb, self.write_tlb, self.translator.lookup
        chain = CHAIN_LIMIT if blocks > 1 else 0
        try:
            for _ in range(blocks):
                fn = jump_map.get(pc)
                if fn is None:
                    if self._poked:
                        self._poked = False
                        break
                    fn = lookup(pc)
                pc = fn(x, rt, wt, self, chain)
                if pc > M64:
                    pc &= M64
                    break
        except Trap as trap:
            where = self.translator.block_of(trap)
            if where is not None:
                block, index = where
                pc = block.pcs[index]
                self.instret += index
            self.take_trap(trap.cause, trap.tval, pc)
            return
        self.pc = pc

    def mode_changed(self) -> None:
        """Privilege or mstatus changed: select the data TLBs loads and stores use."""
        priv = self.mmu.data_priv()
        self.read_tlb = self.mmu.read_tlb[priv]
        self.write_tlb = self.mmu.write_tlb[priv]

    # -- traps

    def take_trap(self, cause: int, tval: int, pc: int) -> None:
        """Enter the trap handler for `cause` raised at `pc`, in M-mode or delegated to S."""
        code = cause & ~INTERRUPT
        delegation = self.csrs[MIDELEG if cause & INTERRUPT else MEDELEG]
        csrs, status = self.csrs, self.mstatus
        if self.priv <= 1 and delegation >> code & 1:
            csrs[0x142], csrs[0x141], csrs[0x143] = cause, pc, tval
            spie = MSTATUS_SPIE if status & MSTATUS_SIE else 0
            spp = MSTATUS_SPP if self.priv else 0
            status = status & ~(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP) | spie | spp
            self.priv, vector = 1, csrs[0x105]
        else:
            csrs[0x342], csrs[0x341], csrs[0x343] = cause, pc, tval
            mpie = MSTATUS_MPIE if status & MSTATUS_MIE else 0
            status = status & ~(MSTATUS_MIE | MSTATUS_MPIE | (3 << 11)) | mpie | self.priv << 11
            self.priv, vector = 3, csrs[0x305]
        self.mstatus = status
        if vector & 1 and cause & INTERRUPT:
            self.pc = (vector & ~3) + 4 * code
        else:
            self.pc = vector & ~3
        self.mode_changed()

    # -- system instructions (called from translated code; all return the next pc)

    def illegal(self, raw: int) -> None:
        raise Trap(ILLEGAL_INSTRUCTION, raw)

    def ecall(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        raise Trap(ECALL_FROM_U + self.priv)

    def ebreak(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        raise Trap(BREAKPOINT)  # mtval 0, as QEMU

    def mret(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        if self.priv < 3:
            raise Trap(ILLEGAL_INSTRUCTION, raw)
        status = self.mstatus
        self.priv = (status >> 11) & 3
        mie = MSTATUS_MIE if status & MSTATUS_MPIE else 0
        status = status & ~(MSTATUS_MIE | (3 << 11)) | mie | MSTATUS_MPIE
        self.mstatus = status & ~MSTATUS_MPRV if self.priv < 3 else status
        self.mmu.flush()  # MPP and MPRV changed
        self.mode_changed()
        return self.csrs[0x341]

    def sret(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        if self.priv < 1 or (self.priv == 1 and self.mstatus & MSTATUS_TSR):
            raise Trap(ILLEGAL_INSTRUCTION, raw)
        status = self.mstatus
        self.priv = 1 if status & MSTATUS_SPP else 0
        sie = MSTATUS_SIE if status & MSTATUS_SPIE else 0
        status = status & ~(MSTATUS_SIE | MSTATUS_SPP) | sie | MSTATUS_SPIE
        self.mstatus = status & ~MSTATUS_MPRV
        self.mode_changed()
        return self.csrs[0x141]

    def wfi(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        if self.priv == 0 or (self.priv == 1 and self.mstatus & MSTATUS_TW):
            raise Trap(ILLEGAL_INSTRUCTION, raw)
        self.waiting = True
        return pc + 4

    def sfence_vma(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        if self.priv == 0 or (self.priv == 1 and self.mstatus & MSTATUS_TVM):
            raise Trap(ILLEGAL_INSTRUCTION, raw)
        self.mmu.flush()
        self.translator.unmap()
        return pc + 4

    def fence_i(self, pc: int, rs1: int, rs2: int, raw: int) -> int:
        self.translator.invalidate_all()
        return pc + 4

    # -- memory, for translated code

    def load(self, vaddr: int, size: int) -> int:
        return self.mmu.load(vaddr, size)

    def store(self, vaddr: int, size: int, value: int) -> None:
        self.mmu.store(vaddr, size, value)

    def atomic(self, op: str, vaddr: int, size: int, value: int) -> int:
        return self.mmu.atomic(op, vaddr, size, value)

    def csr_access(self, number: int, kind: int, value: int, writes: bool, raw: int) -> int:
        return self.csrs.access(number, kind, value, writes, raw)

    # -- for the machine and the monitor

    def invalidate_range(self, paddr: int, length: int) -> None:
        """Forget translated code in [paddr, paddr + length): DMA wrote there."""
        for ppn in range(paddr >> 12, (paddr + max(length, 1) - 1 >> 12) + 1):
            if ppn in self.mmu.code_pages:
                self.translator.invalidate_page(ppn)

    def dump(self) -> dict[str, int]:
        """pc, x0..x31, privilege and the main CSRs, for `info registers`."""
        state = {"pc": self.pc, "priv": self.priv, "instret": self.instret}
        state |= {f"x{n}": value for n, value in enumerate(self.x)}
        names = {
            "mstatus": 0x300, "mie": 0x304, "mip": 0x344, "mtvec": 0x305, "mepc": 0x341,
            "mcause": 0x342, "mtval": 0x343, "mscratch": 0x340, "medeleg": 0x302,
            "mideleg": 0x303, "stvec": 0x105, "sepc": 0x141, "scause": 0x142,
            "stval": 0x143, "sscratch": 0x140, "satp": 0x180,
        }  # fmt: skip
        return state | {name: self.csrs.read(number, 0) for name, number in names.items()}
