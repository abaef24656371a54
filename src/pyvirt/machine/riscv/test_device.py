"""SiFive's test device ("sifive,test0"): the guest's way to power off, fail or reset.

A 32-bit write at offset 0: 0x5555 powers off, (code << 16) | 0x3333 ends the
VM with exit status `code`, 0x7777 resets. OpenSBI drives it for SBI system
reset, through the "syscon-poweroff" and "syscon-reboot" nodes.
"""

from __future__ import annotations

from typing import Protocol

FINISHER_FAIL, FINISHER_PASS, FINISHER_RESET = 0x3333, 0x5555, 0x7777


class PowerEvents(Protocol):
    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def debug_exit(self, status: int) -> None: ...


class SifiveTest:
    def __init__(self, events: PowerEvents) -> None:
        self.events = events

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0 or size < 2:  # OpenSBI writes 16 bits; QEMU takes 2 or 4
            return
        kind = value & 0xFFFF
        if kind == FINISHER_PASS:
            self.events.power_off()
        elif kind == FINISHER_FAIL:
            self.events.debug_exit((value >> 16) & 0xFFFF)
        elif kind == FINISHER_RESET:
            self.events.reset()
