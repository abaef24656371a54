"""One RISC-V hart: architectural state, the dispatch loop, traps and interrupts."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pyvirt.tcg.riscv.bus import PhysBus

# mip/mie bit numbers
MIP_SSIP, MIP_MSIP, MIP_STIP, MIP_MTIP, MIP_SEIP, MIP_MEIP = 1, 3, 5, 7, 9, 11


class Hart:
    """A hart on `bus`; `mtime()` is the CLINT's 10 MHz counter (the `time` CSR)."""

    def __init__(self, hart_id: int, bus: PhysBus, *, mtime: Callable[[], int]) -> None:
        self.hart_id = hart_id
        self.bus = bus
        self.mtime = mtime
        self.x = [0] * 32
        self.pc = 0
        self.instret = 0

    def reset(self, pc: int, *, a0: int = 0, a1: int = 0, a2: int = 0) -> None:
        """Start over in M-mode at `pc` with a0..a2 set (hart id, device tree, fw info)."""
        raise NotImplementedError  # interpreter lands in the next commits

    def run(self, stop: threading.Event) -> None:
        """Execute until `stop` is set; `wfi` sleeps until an interrupt is pending."""
        raise NotImplementedError

    def set_pending(self, bit: int, level: bool) -> None:
        """Raise or lower an interrupt line (an MIP_* bit number); safe from any thread."""
        raise NotImplementedError

    def invalidate_range(self, paddr: int, length: int) -> None:
        """Forget translated code in [paddr, paddr + length): DMA wrote there."""
        raise NotImplementedError

    def dump(self) -> dict[str, int]:
        """pc, x0..x31 and the main CSRs, for `info registers`."""
        raise NotImplementedError
