"""The SiFive CLINT: per-hart msip and mtimecmp, and the shared 10 MHz mtime.

mtime follows the host's monotonic clock (frozen while the VM is paused).
MTIP is evaluated when mtimecmp is written and again by a host timer at the
deadline, so a guest in `wfi` wakes up on time without polling.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from pyvirt.tcg.riscv.hart import MIP_MSIP, MIP_MTIP

from .deadline import DeadlineTimer
from .layout import TIMEBASE_HZ

MSIP_BASE, MTIMECMP_BASE, MTIME = 0x0000, 0x4000, 0xBFF8
NEVER = (1 << 64) - 1
NS_PER_TICK = 1_000_000_000 // TIMEBASE_HZ


class InterruptTarget(Protocol):
    def set_pending(self, bit: int, level: bool) -> None: ...


class Clint:
    """The CLINT of `count` harts; the harts' interrupt lines are connected with `connect`
    (a hart needs the CLINT's mtime to exist first)."""

    def __init__(self, count: int) -> None:
        self.harts: Sequence[InterruptTarget] = ()
        self.count = count
        self.msip = [0] * count
        self.mtimecmp = [NEVER] * count
        self._lock = threading.Lock()
        self._origin_ns = time.monotonic_ns()
        self._frozen: int | None = None
        self._timer = DeadlineTimer(self._check_timers, "clint-timer")

    def connect(self, harts: Sequence[InterruptTarget]) -> None:
        if len(harts) != self.count:
            raise ValueError(f"the CLINT has {self.count} harts, not {len(harts)}")
        self.harts = harts

    # -- time

    def mtime(self) -> int:
        if self._frozen is not None:
            return self._frozen
        return ((time.monotonic_ns() - self._origin_ns) // NS_PER_TICK) & NEVER

    def _set_mtime(self, value: int) -> None:
        self._origin_ns = time.monotonic_ns() - value * NS_PER_TICK
        if self._frozen is not None:
            self._frozen = value

    def freeze(self) -> None:
        """Stop mtime (the VM is paused): the guest sees no time pass."""
        with self._lock:
            self._frozen = self.mtime()
            self._timer.cancel()

    def thaw(self) -> None:
        with self._lock:
            if self._frozen is not None:
                frozen, self._frozen = self._frozen, None
                self._set_mtime(frozen)
        self._check_timers()

    def close(self) -> None:
        self._timer.close()

    # -- interrupts

    def _check_timers(self) -> None:
        """Raise or lower each hart's MTIP and arm the host timer for the next deadline."""
        with self._lock:
            now = self.mtime()
            upcoming = [cmp for cmp in self.mtimecmp if cmp > now and cmp != NEVER]
            for hart, cmp in zip(self.harts, self.mtimecmp, strict=False):
                hart.set_pending(MIP_MTIP, now >= cmp)
            if upcoming and self._frozen is None:
                delay = (min(upcoming) - now) * NS_PER_TICK / 1e9
                self._timer.arm(time.monotonic() + delay)
            else:
                self._timer.cancel()

    # -- registers

    def _register(self, offset: int) -> tuple[str, int, int] | None:
        """(what, hart, byte offset within the 64-bit register) of a register offset."""
        if MSIP_BASE <= offset < MSIP_BASE + 4 * self.count:
            return "msip", (offset - MSIP_BASE) // 4, offset % 4
        if MTIMECMP_BASE <= offset < MTIMECMP_BASE + 8 * self.count:
            return "mtimecmp", (offset - MTIMECMP_BASE) // 8, offset % 8
        if MTIME <= offset < MTIME + 8:
            return "mtime", 0, offset - MTIME
        return None

    def read(self, offset: int, size: int) -> int:
        reg = self._register(offset)
        if reg is None:
            return 0
        what, hart, byte = reg
        if what == "msip":
            value = self.msip[hart]
        elif what == "mtimecmp":
            value = self.mtimecmp[hart]
        else:
            value = self.mtime()
        return _extract(value, byte, size)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = self._register(offset)
        if reg is None:
            return
        what, hart, byte = reg
        if what == "msip":
            if byte == 0:
                self.msip[hart] = value & 1
                if hart < len(self.harts):
                    self.harts[hart].set_pending(MIP_MSIP, bool(value & 1))
            return
        with self._lock:
            if what == "mtimecmp":
                self.mtimecmp[hart] = _insert(self.mtimecmp[hart], byte, size, value)
            else:
                self._set_mtime(_insert(self.mtime(), byte, size, value))
        self._check_timers()


def _extract(register: int, byte: int, size: int) -> int:
    data = struct.pack("<Q", register)[byte : byte + size]
    return int.from_bytes(data.ljust(size, b"\0"), "little")


def _insert(register: int, byte: int, size: int, value: int) -> int:
    data = bytearray(struct.pack("<Q", register))
    part = value.to_bytes(size, "little")[: 8 - byte]
    data[byte : byte + len(part)] = part
    return struct.unpack("<Q", data)[0]
