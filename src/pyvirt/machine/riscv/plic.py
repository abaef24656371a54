"""The platform-level interrupt controller (RISC-V PLIC specification 1.0.0).

Two contexts per hart, M-mode (MEIP) then S-mode (SEIP), as QEMU's virt.
Sources are level-triggered: a line that is still high when its interrupt is
completed becomes pending again, as the spec's gateway does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from pyvirt.tcg.riscv.hart import MIP_MEIP, MIP_SEIP

from .clint import InterruptTarget

PRIORITY_BASE, PENDING_BASE = 0x0, 0x1000
ENABLE_BASE, ENABLE_STRIDE = 0x2000, 0x80
CONTEXT_BASE, CONTEXT_STRIDE = 0x200000, 0x1000
THRESHOLD, CLAIM = 0x0, 0x4
PRIORITY_MASK = 7  # priorities 0 (never) .. 7, as QEMU's virt


class Plic:
    def __init__(self, harts: Sequence[InterruptTarget], ndev: int) -> None:
        self.harts = harts
        self.sources = sources = ndev + 1  # IDs 1 .. ndev; 0 means "no interrupt"
        self.contexts = 2 * len(harts)
        self.priority = [0] * sources
        self.level = [False] * sources
        self.pending = [False] * sources
        self.claimed = [False] * sources
        self.enable = [0] * self.contexts  # a bit mask of sources per context
        self.threshold = [0] * self.contexts
        self._lock = threading.Lock()

    def line(self, source: int) -> Callable[[bool], None]:
        """The input of `source`, for a device's set_irq."""
        if not 0 < source < self.sources:
            raise ValueError(f"PLIC source {source} does not exist")
        return lambda level: self.set_level(source, level)

    def set_level(self, source: int, level: bool) -> None:
        with self._lock:
            self.level[source] = level
            if not self.claimed[source]:
                self.pending[source] = level
            self._update()

    # -- outputs

    def _best(self, context: int) -> int:
        """The pending, enabled source of highest priority above the threshold (0: none)."""
        best, best_priority = 0, self.threshold[context]
        enabled = self.enable[context]
        for source in range(1, self.sources):
            if self.pending[source] and enabled >> source & 1:
                priority = self.priority[source]
                if priority > best_priority:
                    best, best_priority = source, priority
        return best

    def _update(self) -> None:
        for context in range(self.contexts):
            bit = MIP_SEIP if context & 1 else MIP_MEIP
            self.harts[context // 2].set_pending(bit, self._best(context) != 0)

    def _claim(self, context: int) -> int:
        source = self._best(context)
        if source:
            self.pending[source] = False
            self.claimed[source] = True
            self._update()
        return source

    def _complete(self, context: int, source: int) -> None:
        if 0 < source < self.sources and self.enable[context] >> source & 1:
            self.claimed[source] = False
            self.pending[source] = self.level[source]
            self._update()

    # -- registers

    def read(self, offset: int, size: int) -> int:
        if size != 4 or offset % 4:
            return 0
        with self._lock:
            return self._read(offset)

    def _read(self, offset: int) -> int:
        if offset < PENDING_BASE:
            source = offset // 4
            return self.priority[source] if source < self.sources else 0
        if offset < ENABLE_BASE:
            return _word(self.pending, (offset - PENDING_BASE) // 4)
        if offset < CONTEXT_BASE:
            context, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if context < self.contexts:
                return (self.enable[context] >> (8 * byte)) & 0xFFFFFFFF
            return 0
        context, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if context >= self.contexts:
            return 0
        if reg == THRESHOLD:
            return self.threshold[context]
        if reg == CLAIM:
            return self._claim(context)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset % 4:
            return
        value &= 0xFFFFFFFF
        with self._lock:
            self._write(offset, value)

    def _write(self, offset: int, value: int) -> None:
        if offset < PENDING_BASE:
            source = offset // 4
            if 0 < source < self.sources:
                self.priority[source] = value & PRIORITY_MASK
                self._update()
        elif ENABLE_BASE <= offset < CONTEXT_BASE:
            context, byte = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            word = byte // 4
            if context < self.contexts and word < (self.sources + 31) // 32:
                valid = ((1 << self.sources) - 2) >> (32 * word) & 0xFFFFFFFF  # not source 0
                mask = 0xFFFFFFFF << (32 * word)
                enable = (self.enable[context] & ~mask) | ((value & valid) << (32 * word))
                self.enable[context] = enable
                self._update()
        elif offset >= CONTEXT_BASE:
            context, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if context >= self.contexts:
                return
            if reg == THRESHOLD:
                self.threshold[context] = value & PRIORITY_MASK
                self._update()
            elif reg == CLAIM:
                self._complete(context, value)


def _word(bits: list[bool], word: int) -> int:
    chunk = bits[32 * word : 32 * word + 32]
    return sum(1 << i for i, bit in enumerate(chunk) if bit)
