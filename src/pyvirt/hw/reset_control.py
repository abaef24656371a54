"""The PC reset control register (port 0xCF9), the reset register our FADT names."""

from __future__ import annotations

from collections.abc import Callable

RESET_CPU = 0x04


class ResetControl:
    def __init__(self, on_reset: Callable[[], None]) -> None:
        self.on_reset = on_reset
        self.value = 0

    def read(self, offset: int, size: int) -> int:
        return self.value

    def write(self, offset: int, size: int, value: int) -> None:
        self.value = value & 0x0E
        if value & RESET_CPU:
            self.on_reset()
