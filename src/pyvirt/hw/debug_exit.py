"""QEMU's isa-debug-exit: a write ends the VMM with status (value << 1) | 1."""

from __future__ import annotations

from collections.abc import Callable


class DebugExit:
    def __init__(self, on_exit: Callable[[int], None]) -> None:
        self.on_exit = on_exit

    def read(self, offset: int, size: int) -> int:
        return 0xFFFFFFFF

    def write(self, offset: int, size: int, value: int) -> None:
        self.on_exit(((value << 1) | 1) & 0xFF)
